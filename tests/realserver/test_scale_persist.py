"""Scale (1,000 VIPs cost one address dump) and the sysctl drop-in loaded by sysctl(8)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.realserver import observer, workflow
from tests.helpers import run
from tests.realserver.bench_setup import vips
from tests.realserver.conftest import addr_snapshot, settle_link_local, sysctl_snapshot

pytestmark = pytest.mark.netns


def _real_server(netns_factory: Callable[[], str]) -> str:
    ns = netns_factory()
    run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "eth0p"])
    run(["ip", "-n", ns, "addr", "add", "10.98.0.2/24", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "link", "set", "eth0p", "up"])
    run(["ip", "-n", ns, "route", "add", "default", "via", "10.98.0.1"])
    settle_link_local(ns, "eth0", "eth0p")
    return ns


def test_thousand_vips_cost_one_address_dump(netns_factory: Callable[[], str],
                                             state_dirs: Path) -> None:
    ns = _real_server(netns_factory)
    before_addrs, before_sysctls = addr_snapshot(ns), sysctl_snapshot(ns)
    wanted = vips(1000)
    dumps = observer.STATS["address_dumps"]
    start = time.perf_counter()
    _plan, result = workflow.setup(wanted, netns=ns)
    took = time.perf_counter() - start
    assert observer.STATS["address_dumps"] - dumps == 1
    assert result is not None and len(result.applied) == 1002  # 1,000 VIPs + 2 sysctls
    assert took < 20, f"setup of 1,000 VIPs took {took:.1f} s"
    assert {("lo", v, 32) for v in wanted} <= addr_snapshot(ns)
    again, _ = workflow.setup(wanted, netns=ns, dry_run=True)
    assert not again and observer.STATS["address_dumps"] - dumps == 2
    workflow.teardown(netns=ns)
    assert addr_snapshot(ns) == before_addrs and sysctl_snapshot(ns) == before_sysctls


def test_sysctl_dropin_is_loaded_by_sysctl(netns_factory: Callable[[], str],
                                           state_dirs: Path) -> None:
    ns = _real_server(netns_factory)
    root = state_dirs / "root"
    addrs_before = addr_snapshot(ns)
    workflow.setup(["192.0.2.10"], client_interfaces=["eth0"], persist="systemd",
                  root=str(root))
    assert addr_snapshot(ns) == addrs_before  # --root touches nothing live
    host_before = sysctl_snapshot(None)
    dropin = root / "etc/sysctl.d/90-ipvsctl.conf"
    proc = run(["ip", "netns", "exec", ns, "sysctl", "-p", str(dropin)])
    assert "net.ipv4.conf.eth0.arp_ignore = 1" in proc.stdout
    values = sysctl_snapshot(ns)
    assert values["/proc/sys/net/ipv4/conf/eth0/arp_ignore"] == "1"
    assert values["/proc/sys/net/ipv4/conf/eth0/arp_announce"] == "2"
    assert values["/proc/sys/net/ipv4/conf/eth0/proxy_arp"] == "0"
    assert sysctl_snapshot(None) == host_before
    # What setup would now do live agrees with the file: nothing left for the sysctls.
    plan, _ = workflow.setup(["192.0.2.10"], netns=ns, client_interfaces=["eth0"], dry_run=True)
    assert [c.subject for c in plan] == ["address"]
