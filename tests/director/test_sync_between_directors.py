"""The sync threads `apply` starts do carry connections: two directors on one link, each
applying the pair's file as itself; a client's connection through d1 (DR to a real server)
appears in d2's connection table (`ipvsadm -Lnc`, the oracle) with the same real server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.director.workflow import apply_cluster, as_node
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel
VIP = "192.0.2.10"
PAIR = f"""
ha:
  virtual_router_id: 77
  interface: eth0
  directors:
    - {{name: d1, address: 10.20.0.1}}
    - {{name: d2, address: 10.20.0.2}}
  sync: true
services:
  - {{vip: {VIP}, port: 80, scheduler: rr, real_servers: [{{address: 10.20.0.11}}]}}
"""


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))


@pytest.fixture
def link(netns_factory: Callable[[], str]) -> Iterator[dict[str, str]]:
    """A bridge and four namespaces on it: client, d1, d2, a real server (VIP on lo)."""
    bridge = netns_factory()
    run_in_netns(bridge, ["ip", "link", "add", "br0", "type", "bridge"])
    run_in_netns(bridge, ["ip", "link", "set", "br0", "up"])
    nodes = {"c": "10.20.0.100", "d1": "10.20.0.1", "d2": "10.20.0.2", "rs": "10.20.0.11"}
    names = {}
    for node, address in nodes.items():
        netns = names[node] = netns_factory()
        run_in_netns(bridge, ["ip", "link", "add", node, "type", "veth", "peer", "name", "eth0",
                              "netns", netns])
        run_in_netns(bridge, ["ip", "link", "set", node, "master", "br0", "up"])
        run_in_netns(netns, ["ip", "addr", "add", f"{address}/24", "dev", "eth0"])
        run_in_netns(netns, ["ip", "link", "set", "eth0", "up"])
    run_in_netns(names["d1"], ["ip", "addr", "add", f"{VIP}/32", "dev", "eth0"])  # the master
    run_in_netns(names["c"], ["ip", "route", "add", f"{VIP}/32", "dev", "eth0"])
    rs = names["rs"]
    run_in_netns(rs, ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
    for setting in ("net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"):
        run_in_netns(rs, ["sysctl", "-qw", setting])
    yield names
    for node in ("d1", "d2"):
        for state in ("master", "backup"):
            run_in_netns(names[node], ["ipvsadm", "--stop-daemon", state], check=False)


def test_a_connection_through_d1_reaches_d2(link: dict[str, str]) -> None:
    cluster = loads(PAIR, "pair.yaml")
    for node in ("d1", "d2"):
        _, result = apply_cluster(as_node(cluster, node), netns=link[node])
        assert result.ok
    server = subprocess.Popen(["ip", "netns", "exec", link["rs"], "socat",
                               "TCP-LISTEN:80,reuseaddr,fork", "EXEC:/bin/cat"])
    client = None
    try:
        deadline = time.monotonic() + 60
        while "LISTEN" not in run_in_netns(link["rs"], ["ss", "-ltn"]).stdout:
            assert time.monotonic() < deadline, "the real server never listened"
            time.sleep(0.2)
        client = subprocess.Popen(["ip", "netns", "exec", link["c"], "socat", "-",
                                   f"TCP:{VIP}:80"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        assert client.stdin is not None and client.stdout is not None
        for number in range(6):  # the master syncs a connection at its 3rd packet
            client.stdin.write(f"line {number}\n")
            client.stdin.flush()
            assert client.stdout.readline() == f"line {number}\n"
        wanted = f"{VIP}:80"
        seen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = run_in_netns(link["d2"], ["ipvsadm", "-Lnc"]).stdout
            if any("10.20.0.100:" in line and wanted in line and "10.20.0.11:80" in line
                   and "ESTABLISHED" in line for line in seen.splitlines()):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"d2 never learned the connection:\n{seen}")
        through = run_in_netns(link["d1"], ["ipvsadm", "-Lnc"]).stdout
        assert "10.20.0.100:" in through and "ESTABLISHED" in through
    finally:
        for proc in (client, server):
            if proc is not None:
                proc.kill()
                proc.wait()
