"""backend-setup against a real kernel: ARP flux before, quiet after, packets still accepted."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from ipvsctl.host.records import read_record
from ipvsctl.realserver import workflow
from tests.helpers import run
from tests.realserver.conftest import Lab, addr_snapshot, ipvsctl, neighbour_after_probe, snapshot
from tests.realserver.conftest import tcp_roundtrip as roundtrip

pytestmark = pytest.mark.netns
VIP, VIP6 = "192.0.2.10", "2001:db8::10"


def test_arp_flux_then_setup_then_teardown(lab: Lab) -> None:
    # Route the VIP on-link from the client, as a director's LAN would: the client ARPs for it.
    run(["ip", "-n", lab.client, "route", "add", f"{VIP}/32", "dev", "c0"])

    # The ARP flux problem: a VIP on lo with default sysctls is answered on r0.
    run(["ip", "-n", lab.rs, "addr", "add", f"{VIP}/32", "dev", "lo"])
    entry = neighbour_after_probe(lab, VIP)
    assert "REACHABLE" in entry.get("state", []), entry
    assert entry.get("lladdr") == lab.rs_mac
    run(["ip", "-n", lab.rs, "addr", "del", f"{VIP}/32", "dev", "lo"])

    before = snapshot(lab)
    out = ipvsctl("backend-setup", "--vip", VIP, "--vip", VIP6, "--netns", lab.rs)
    assert "set sysctl net.ipv4.conf.r0.arp_ignore 0 -> 1" in out.stdout
    assert "set sysctl net.ipv4.conf.r0.arp_announce 0 -> 2" in out.stdout
    assert f"add address {VIP}/32 to lo" in out.stdout
    assert f"add address {VIP6}/128 to lo (nodad)" in out.stdout

    after = addr_snapshot(lab.rs)
    assert ("lo", VIP, 32) in after and ("lo", VIP6, 128) in after
    assert snapshot(lab).client_sysctls == before.client_sysctls
    assert snapshot(lab).root_sysctls == before.root_sysctls

    # Now the real server stays silent for the VIP ...
    entry = neighbour_after_probe(lab, VIP)
    assert entry.get("lladdr") != lab.rs_mac, entry
    assert set(entry.get("state", [])) & {"FAILED", "INCOMPLETE"}, entry
    # ... yet accepts packets for it sent to its MAC (what the director does in DR mode).
    run(["ip", "-n", lab.client, "neigh", "replace", VIP, "lladdr", lab.rs_mac, "dev", "c0",
         "nud", "permanent"])
    assert roundtrip(lab, VIP) == f"hello from {VIP}".encode()
    run(["ip", "-n", lab.client, "neigh", "del", VIP, "dev", "c0"])

    # Idempotent: the second plan is empty.
    again = json.loads(ipvsctl("backend-setup", "--vip", VIP, "--vip", VIP6, "--netns", lab.rs,
                               "--dry-run", "--json").stdout)
    assert again["changes"] == [] and again["summary"]["pending"] == 0

    check = ipvsctl("backend-check", "--netns", lab.rs, "--json")
    assert json.loads(check.stdout)["ok"] is True
    shown = ipvsctl("backend-check", "--netns", lab.rs, "--verbose").stdout.splitlines()
    assert shown[0] == f"ok   address: VIP {VIP}/32 on lo", shown  # as doctor prints them
    assert shown[-1].startswith("OK: ") and ", 0 failed, 0 warnings" in shown[-1], shown

    ipvsctl("backend-teardown", "--netns", lab.rs)
    restored = snapshot(lab)
    assert restored.rs_sysctls == before.rs_sysctls
    assert restored.rs_addrs == before.rs_addrs
    assert restored.client_sysctls == before.client_sysctls
    assert restored.root_sysctls == before.root_sysctls
    assert read_record("backend", lab.rs) == {}
    # And the ARP flux is back: proof that the sysctls were what silenced it.
    run(["ip", "-n", lab.rs, "addr", "add", f"{VIP}/32", "dev", "lo"])
    assert neighbour_after_probe(lab, VIP).get("lladdr") == lab.rs_mac


def test_check_reports_flux_and_fails(lab: Lab) -> None:
    run(["ip", "-n", lab.rs, "addr", "add", f"{VIP}/32", "dev", "lo"])
    proc = ipvsctl("backend-check", "--vip", VIP, "--port", "80", "--netns", lab.rs, check=False)
    assert proc.returncode == 1
    assert "arp_ignore on r0 is effectively 0" in proc.stdout
    assert "arp_announce on r0 is effectively 0" in proc.stdout
    assert f"nothing listens on TCP {VIP}:80" in proc.stdout
    run(["ip", "-n", lab.rs, "addr", "del", f"{VIP}/32", "dev", "lo"])
    run(["ip", "-n", lab.rs, "addr", "add", f"{VIP}/32", "dev", "r0"])
    proc = ipvsctl("backend-check", "--vip", VIP, "--netns", lab.rs, check=False)
    assert proc.returncode == 1 and f"VIP {VIP} is on r0, which answers ARP" in proc.stdout


def test_teardown_leaves_values_changed_by_someone_else(lab: Lab) -> None:
    workflow.setup([VIP], netns=lab.rs)
    run(["ip", "netns", "exec", lab.rs, "sysctl", "-qw", "net.ipv4.conf.r0.arp_announce=1"])
    plan, _ = workflow.teardown(netns=lab.rs)
    assert any("arp_announce is 1, set by someone else after setup" in w
               for w in plan.warnings), plan.warnings
    assert "restore sysctl net.ipv4.conf.r0.arp_ignore 1 -> 0" in [c.text for c in plan]
    assert snapshot(lab).rs_sysctls["/proc/sys/net/ipv4/conf/r0/arp_announce"] == "1"


def test_global_all_higher_is_reported_not_lowered(lab: Lab) -> None:
    run(["ip", "netns", "exec", lab.rs, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=2"])
    plan, _ = workflow.setup([VIP], netns=lab.rs)
    assert any("all.arp_ignore is 2, stricter" in w for w in plan.warnings), plan.warnings
    assert snapshot(lab).rs_sysctls["/proc/sys/net/ipv4/conf/all/arp_ignore"] == "2"
    workflow.teardown(netns=lab.rs)


BAD_INPUTS = [
    (["--vip", "not-an-ip"], "--vip 'not-an-ip': not an IP address"),
    (["--vip", "192.0.2.0/24"], "not a network"),
    (["--vip", "224.0.0.5"], "multicast"),
    (["--vip", VIP, "--client-interface", "nosuch0"], "--client-interface nosuch0: no such"),
    (["--vip", VIP, "--interface", "r0"], "--interface r0: answers ARP"),
    (["--vip", VIP, "--interface", "bad/name"], "not a valid interface name"),
    (["--vip", VIP, "--persist-style", "bogus"], "--persist-style 'bogus'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_changes_nothing(lab: Lab, args: list[str], message: str) -> None:
    before = snapshot(lab)
    proc = ipvsctl("backend-setup", "--netns", lab.rs, *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert snapshot(lab) == before
    assert read_record("backend", lab.rs) == {}


def test_vip_already_on_arp_interface_is_refused(lab: Lab) -> None:
    run(["ip", "-n", lab.rs, "addr", "add", f"{VIP}/32", "dev", "r0"])
    before = snapshot(lab)
    proc = ipvsctl("backend-setup", "--netns", lab.rs, "--vip", "192.0.2.11", "--vip", VIP,
                   check=False)
    assert proc.returncode == 1 and f"VIP {VIP} is already on r0" in proc.stderr
    assert snapshot(lab) == before


def test_missing_dummy_kind_fails_before_any_sysctl(lab: Lab) -> None:
    """No `dummy` kind on the host kernel: creating it is the first change, nothing else runs."""
    before = snapshot(lab)
    proc = ipvsctl("backend-setup", "--netns", lab.rs, "--vip", VIP, "--interface", "vip0",
                   check=False)
    if proc.returncode == 0:  # a kernel with dummy support (the VM): then it must be clean
        assert ("vip0", VIP, 32) in addr_snapshot(lab.rs)
        ipvsctl("backend-teardown", "--netns", lab.rs)
        assert snapshot(lab) == before
        return
    assert "load the `dummy` module" in proc.stderr
    assert snapshot(lab) == before
    ipvsctl("backend-teardown", "--netns", lab.rs)
    assert read_record("backend", lab.rs) == {}


def test_no_privileges(lab: Lab) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to drop privileges")
    before = snapshot(lab)
    proc = run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", sys.executable, "-m", "ipvsctl", "backend-setup",
                "--netns", lab.rs, "--vip", VIP], check=False)
    assert proc.returncode == 1, proc.stderr
    assert "permission denied" in proc.stderr.lower(), proc.stderr
    assert snapshot(lab) == before
