"""The lab's namespaces on the host (no IPVS needed): addresses, routes, listeners, counters."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.host.netns import NETNS_DIR, run_in_netns
from ipvsctl.lab import LabOptions, run_lab
from ipvsctl.lab import topology as T
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.lab.servers import LabServers
from ipvsctl.lab.traffic import http_get, udp_ask

pytestmark = pytest.mark.netns
FILE = """
services:
  - {vip: 10.10.0.100, port: 80, real_servers: [{address: 10.10.0.11}, {address: 10.10.0.12}]}
"""


def out_redirects(netns: str) -> int:
    """ICMP redirects the namespace has sent (/proc/net/snmp, Icmp OutRedirects)."""

    def read() -> int:
        rows = [line.split() for line in Path("/proc/thread-self/net/snmp").read_text()
                .splitlines() if line.startswith("Icmp:")]
        return int(dict(zip(rows[0], rows[1], strict=True))["OutRedirects"])

    return run_in_netns(netns, read)


@pytest.mark.parametrize("mode", ["dr", "nat"])
def test_topology_carries_traffic_and_tears_down(mode: str) -> None:
    topo = T.describe(plan_addresses(loads(FILE), 2), mode)
    servers = LabServers()
    try:
        T.build(topo)
        for addr, node in topo.real_servers.items():
            servers.start_http(node.netns, addr, 80, addr, freebind=False)
            servers.start_echo(node.netns, addr, 53, addr, freebind=False)
        client = topo.clients[1].netns
        rx0, tx0 = T.iface_bytes(topo.director.netns)
        big = http_get(client, "10.10.0.12", 80, "/big?bytes=300000")
        assert (big.server, big.received > 300000) == ("10.10.0.12", True)
        assert udp_ask(client, "10.10.0.11", 53).server == "10.10.0.11"
        rx1, tx1 = T.iface_bytes(topo.director.netns)
        # Replies reach clients on the segment in DR; in NAT they are routed via the director.
        assert (tx1 - tx0 > 300000) == (mode == "nat")
        assert (rx1 - rx0 > 300000) == (mode == "nat")
        # One-armed NAT forwards replies out of the interface they came in on: an ICMP redirect
        # would teach the real server to answer clients directly, past the director's un-NAT.
        assert out_redirects(topo.director.netns) == 0
        assert T.neighbours(client)["10.10.0.12"] == T.mac_of(topo.real_servers["10.10.0.12"].netns)
        # Clients resolve a VIP to the director, the only holder of it on the segment.
        assert http_get(client, "10.10.0.100", 80, timeout=1).error == "refused"
        assert T.neighbours(client)["10.10.0.100"] == T.mac_of(topo.director.netns)
    finally:
        servers.close()
        T.teardown(topo)
    assert topo.created == []
    assert not [ns for ns in topo.namespaces if (NETNS_DIR / ns).exists()]


def test_down_listener_is_refused_and_counted_lost() -> None:
    topo = T.describe(plan_addresses(loads(FILE), 1), "dr")
    try:
        T.build(topo)
        answer = http_get(topo.clients[0].netns, "10.10.0.11", 80, timeout=2)
        assert (answer.ok, answer.error) == (False, "refused")
    finally:
        T.teardown(topo)


def test_held_udp_requests_each_keep_a_source_port_of_their_own() -> None:
    """A closed socket's port may be handed out again, and IPVS would then reuse its UDP entry
    instead of scheduling: requests made with `hold` keep every port busy until released."""
    topo = T.describe(plan_addresses(loads(FILE), 1), "dr")
    servers = LabServers()
    held: list[socket.socket] = []
    try:
        T.build(topo)
        servers.start_echo(topo.real_servers["10.10.0.11"].netns, "10.10.0.11", 53,
                           "10.10.0.11", freebind=False)
        answers = [udp_ask(topo.clients[0].netns, "10.10.0.11", 53, hold=held)
                   for _ in range(20)]
        assert [a.server for a in answers] == ["10.10.0.11"] * 20
        ports = [sock.getsockname()[1] for sock in held]  # still open: each holds its port
        assert len(set(ports)) == 20
    finally:
        for sock in held:
            sock.close()
        servers.close()
        T.teardown(topo)


def test_arp_probe_sees_every_answer_for_a_vip() -> None:
    topo = T.describe(plan_addresses(loads(FILE), 1), "dr")
    try:
        T.build(topo)
        client, rs = topo.clients[0].netns, topo.real_servers["10.10.0.12"].netns
        director = T.mac_of(topo.director.netns)
        assert T.arp_responders(client, "10.10.0.100") == {director}
        T.add_loopback_vips(rs, ["10.10.0.100"])  # no arp_ignore: it answers for lo's VIP too
        assert T.arp_responders(client, "10.10.0.100") == {director, T.mac_of(rs)}
    finally:
        T.teardown(topo)


def test_ctrl_c_mid_run_leaves_nothing_behind(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    before = set(NETNS_DIR.glob("ipvslab-*"))
    seen: list[str] = []

    def progress(text: str) -> None:
        seen.append(text)
        if "applying" in text:  # the namespaces exist by now
            assert len(set(NETNS_DIR.glob("ipvslab-*")) - before) == 5  # br, dir, 2 rs, c1
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_lab(loads(FILE), LabOptions(requests=1, large_count=0), progress=progress)
    assert set(NETNS_DIR.glob("ipvslab-*")) == before
    assert any("tearing down" in line for line in seen)
