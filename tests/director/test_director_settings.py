"""Director-wide settings through apply (IPVS timeouts, net.ipv4.vs sysctls) and `doctor`, on a
real kernel: applied, read back independently, and the next plan is empty."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.director.workflow import apply_cluster, plan_cluster
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]

CLUSTER = """
director:
  timeouts: {tcp: 3600, tcpfin: 60, udp: 120}
  sysctls: {expire_nodest_conn: 1, expire_quiescent_template: 1, sync_threshold: [3, 0]}
services:
  - vip: 192.0.2.10
    port: 80
    persistence: {timeout: 120}
    real_servers: [{address: 10.0.0.11}]
"""


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))


def test_timeouts_and_sysctls_applied_and_read_back(netns: str) -> None:
    cluster = loads(CLUSTER, "cluster.yaml")
    plan, result = apply_cluster(cluster, netns=netns)
    texts = [c.describe() for c in plan.changes]
    assert texts[0] == "set IPVS timeouts tcp 900s -> 3600s, tcpfin 120s -> 60s, udp 300s -> 120s"
    assert "set sysctl net.ipv4.vs.expire_nodest_conn 0 -> 1" in texts
    assert "set sysctl net.ipv4.vs.sync_threshold 3 50 -> 3 0" in texts  # the kernel's pair
    assert result.ok
    shown = run_in_netns(netns, ["ipvsadm", "-L", "--timeout"]).stdout
    assert "Timeout (tcp tcpfin udp): 3600 60 120" in shown
    for name in ("expire_nodest_conn", "expire_quiescent_template"):
        value = run_in_netns(netns, ["sysctl", "-n", f"net.ipv4.vs.{name}"]).stdout.strip()
        assert value == "1", name
    pair = run_in_netns(netns, ["sysctl", "-n", "net.ipv4.vs.sync_threshold"]).stdout.split()
    assert pair == ["3", "0"]
    # Only this namespace changed.
    assert Path("/proc/sys/net/ipv4/vs/expire_nodest_conn").read_text().strip() == "0"
    again, _ = plan_cluster(cluster, netns=netns)
    assert [c.describe() for c in again.changes] == []


def test_doctor_on_a_director(netns: str, tmp_path: Path) -> None:
    run_in_netns(netns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])
    run_in_netns(netns, ["ip", "addr", "add", "192.0.2.10/32", "dev", "eth0"])
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER.replace(
        "real_servers: [{address: 10.0.0.11}]",
        "real_servers: [{address: 10.0.0.11}]\n  - vip: 192.0.2.99\n    port: 80\n"
        "    scheduler: twos\n    real_servers: [{address: 10.0.0.12}]"))
    res = subprocess.run([sys.executable, "-m", "ipvsctl", "doctor", str(path), "--netns", netns,
                          "--json"], cwd=REPO, capture_output=True, text=True, timeout=300,
                         check=False)
    assert res.returncode == 1, res.stderr
    found = {(f["subject"], f["level"]) for f in json.loads(res.stdout)["findings"]}
    assert ("ip_vs", "ok") in found
    assert ("ip_vs_wrr", "ok") in found
    assert ("ip_vs_twos", "fail") in found  # Linux 6.1 has no twos scheduler
    assert ("VIP 192.0.2.10", "ok") in found
    assert ("VIP 192.0.2.99", "fail") in found
    assert ("net.ipv4.vs.expire_nodest_conn", "warn") in found
