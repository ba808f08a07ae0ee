"""The IPVS connection sync daemon as a director setting, on a real kernel: `apply` starts,
restarts and stops each thread to match the file, `ipvsadm -L --daemon` (the independent
oracle) shows exactly that, the next plan is empty, and `doctor` agrees."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.director.doctor import diagnose, gather
from ipvsctl.director.workflow import apply_cluster, as_node, plan_cluster, this_director
from ipvsctl.model import Cluster
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel

PAIR = """
ha:
  virtual_router_id: 51
  interface: eth1
  directors:
    - {name: d1, address: 10.77.0.1}
    - {name: d2, address: 10.77.0.2}
  sync: SYNC
services:
  - {vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.11}]}
"""


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))


@pytest.fixture
def director(netns: str) -> Iterator[str]:
    """d1's namespace: eth1 (a veth, up, multicast) with d1's address."""
    run_in_netns(netns, ["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth2"])
    run_in_netns(netns, ["ip", "addr", "add", "10.77.0.1/24", "dev", "eth1"])
    for link in ("eth1", "eth2"):
        run_in_netns(netns, ["ip", "link", "set", link, "up"])
    yield netns
    for state in ("master", "backup"):  # never leave a thread behind in a deleted namespace
        run_in_netns(netns, ["ipvsadm", "--stop-daemon", state], check=False)


def cluster(sync: str) -> Cluster:
    return as_node(loads(PAIR.replace("SYNC", sync), "pair.yaml"), "d1")


def daemons(netns: str) -> list[str]:
    return run_in_netns(netns, ["ipvsadm", "-L", "--daemon"]).stdout.splitlines()


def applied(netns: str, want: Cluster) -> list[str]:
    plan, result = apply_cluster(want, netns=netns)
    assert result.ok
    again, _ = plan_cluster(want, netns=netns)
    assert [c.describe() for c in again.changes] == []
    return [c.describe() for c in plan.changes if c.subject == "sync-daemon"]


def doctor(netns: str, want: Cluster) -> dict[str, str]:
    node = this_director(want, "d1")
    found = diagnose(gather(netns), want, node)
    return {f.subject: f.level for f in found if f.subject.startswith("sync daemon")}


def test_sync_threads_started_restarted_and_stopped(director: str) -> None:
    netns = director
    want = cluster("{id: 7}")
    assert applied(netns, want) == [
        "start IPVS sync daemon master thread (syncid 7 on eth1, group 224.0.0.81:8848 ttl 1)",
        "start IPVS sync daemon backup thread (syncid 7 on eth1, group 224.0.0.81:8848 ttl 1)"]
    assert daemons(netns) == [
        "master sync daemon (mcast=eth1, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, "
        "ttl=1)",
        "backup sync daemon (mcast=eth1, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, "
        "ttl=1)"]
    assert doctor(netns, want) == {"sync daemon master": "ok", "sync daemon backup": "ok"}

    # Someone stops one thread by hand: only that one is started again.
    run_in_netns(netns, ["ipvsadm", "--stop-daemon", "backup"])
    assert doctor(netns, want) == {"sync daemon master": "ok", "sync daemon backup": "fail"}
    assert applied(netns, want) == [
        "start IPVS sync daemon backup thread (syncid 7 on eth1, group 224.0.0.81:8848 ttl 1)"]

    # Every setting changed: each thread restarted with all of them.
    want = cluster("{id: 8, port: 8849, ttl: 2, maxlen: 1200, group: 239.1.2.3}")
    assert doctor(netns, want) == {"sync daemon master": "fail", "sync daemon backup": "fail"}
    changes = applied(netns, want)
    assert [c.split(":", 1)[0] for c in changes] == [
        "restart IPVS sync daemon master thread (no in-place change exists; connections stay)",
        "restart IPVS sync daemon backup thread (no in-place change exists; connections stay)"]
    assert changes[0].endswith("syncid 7 -> 8, maxlen 1472 -> 1200, port 8848 -> 8849, "
                               "ttl 1 -> 2, group 224.0.0.81 -> 239.1.2.3")
    assert daemons(netns) == [
        f"{state} sync daemon (mcast=eth1, syncid=8, maxlen=1200, group=239.1.2.3, port=8849, "
        "ttl=2)" for state in ("master", "backup")]

    want = cluster("false")
    assert [c.split(" (", 1)[0] for c in applied(netns, want)] == [
        "stop IPVS sync daemon master thread", "stop IPVS sync daemon backup thread"]
    assert daemons(netns) == []
    assert doctor(netns, want) == {"sync daemon master": "ok", "sync daemon backup": "ok"}


def test_syncid_0_starts_and_stops_without_hanging(director: str) -> None:
    """Syncid 0 (a backup then takes every pair's messages, as ipvsadm documents) once seemed
    to hang a start: each step must finish, in a thread watched for 60 s."""
    netns = director
    steps: list[str] = []

    def run() -> None:
        steps.extend(applied(netns, cluster("{id: 0}")))
        steps.append(" | ".join(daemons(netns)))
        steps.extend(applied(netns, cluster("false")))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), f"hung after: {steps}"
    assert steps[0].startswith("start IPVS sync daemon master thread (syncid 0 on eth1")
    assert steps[1].startswith("start IPVS sync daemon backup thread (syncid 0 on eth1")
    assert "master sync daemon (mcast=eth1, syncid=0," in steps[2]
    assert "backup sync daemon (mcast=eth1, syncid=0," in steps[2]
    assert [s.split(" (", 1)[0] for s in steps[3:]] == [
        "stop IPVS sync daemon master thread", "stop IPVS sync daemon backup thread"]
    assert daemons(netns) == []
