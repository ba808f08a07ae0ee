"""`via: vip` checks travel the DR path: a real server that lost its VIP on lo fails them while
a check of its own address passes. Real kernel, real listeners, the step's check services
applied by the same apply as everything else (ipvsadm -Sn as the oracle)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.director.workflow import apply_cluster, plan_cluster
from ipvsctl.health import (
    CheckSpec,
    HttpCheck,
    Probe,
    ServiceHealth,
    TcpCheck,
    UdpCheck,
)
from ipvsctl.health.runner import Runner
from ipvsctl.health.step import step
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.host.netns import run_in_netns
from ipvsctl.host.routes import routes_to
from ipvsctl.host.sysctl import read_sysctls, sysctl_path
from ipvsctl.ipvs import IpvsAdapter
from ipvsctl.lab import topology as topo_mod
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.model import ServiceKey
from ipvsctl.realserver.workflow import setup

pytestmark = pytest.mark.kernel
VIP, WITH_VIP, WITHOUT_VIP = "10.10.0.100", "10.10.0.11", "10.10.0.12"
FILE = f"""
services:
  - name: web
    vip: {VIP}
    port: 80
    real_servers: [{{address: {WITH_VIP}}}, {{address: {WITHOUT_VIP}}}]
  - name: echo
    vip: {VIP}
    port: 7000
    protocol: udp
    real_servers: [{{address: {WITH_VIP}}}, {{address: {WITHOUT_VIP}}}]
"""


class Servers:
    """HTTP on 0.0.0.0:80 and a UDP echo on VIP:7000 (bound with IP_FREEBIND: the one
    without the VIP still listens, it just never receives), per real server."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []

    def start(self, netns: str, name: str) -> None:
        def make() -> tuple[socket.socket, socket.socket]:
            tcp = socket.socket()
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("0.0.0.0", 80))  # noqa: S104 (inside a throwaway namespace)
            tcp.listen(64)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.setsockopt(socket.IPPROTO_IP, 15, 1)
            udp.bind((VIP, 7000))
            return tcp, udp

        tcp, udp = run_in_netns(netns, make)
        self.socks += [tcp, udp]
        threading.Thread(target=self._http, args=(tcp, name), daemon=True).start()
        threading.Thread(target=self._echo, args=(udp, name), daemon=True).start()

    @staticmethod
    def _http(sock: socket.socket, name: str) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # tcp checks reset right away
                conn.recv(4096)
                body = name.encode()
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))

    @staticmethod
    def _echo(sock: socket.socket, name: str) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(512)
            except OSError:
                return
            sock.sendto(name.encode() + b" " + data, peer)

    def close(self) -> None:
        for s in self.socks:
            s.close()


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[topo_mod.Topology]:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    topo = topo_mod.describe(plan_addresses(load(path), 1), "dr")
    servers = Servers()
    try:
        topo_mod.build(topo)
        setup([VIP], netns=topo.real_servers[WITH_VIP].netns)  # the other one never gets it
        for address, node in topo.real_servers.items():
            servers.start(node.netns, address)
        yield topo
    finally:
        servers.close()
        topo_mod.teardown(topo)


def _results(netns: str, probes: dict[CheckTarget, Probe], wait: float) -> dict[str, str]:
    """Run the probes for `wait` seconds; each target's last result, in words."""
    last: dict[str, str] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def report(t: CheckTarget, ok: bool, detail: str) -> None:
            last[f"{t.spec.kind} {t.address} {t.spec.via}"] = ("up: " if ok else "down: ") + detail

        runner = Runner(loop, report)
        runner.update(probes)
        await asyncio.sleep(wait)
        await runner.aclose()

    run_in_netns(netns, lambda: asyncio.run(main()))
    return last


def test_via_vip_fails_without_the_vip_on_lo(
        lab: topo_mod.Topology, tmp_path: Path,
        ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    director = lab.director.netns
    cluster = load(tmp_path / "cluster.yaml")
    web = ServiceKey.vip("tcp", VIP, 80)
    echo = ServiceKey.vip("udp", VIP, 7000)
    specs: dict[ServiceKey, list[CheckSpec]] = {
        web: [TcpCheck(via="vip", interval=1, timeout=1), TcpCheck(interval=1, timeout=1),
              HttpCheck(via="vip", interval=1, timeout=1)],
        echo: [UdpCheck(via="vip", payload=b"hi", expect=b"hi", interval=1, timeout=1)],
    }
    # The step with the first spec of each service adds the check services...
    rules = {key: ServiceHealth({rs: spec[0] for rs in cluster.services[key].real_servers})
             for key, spec in specs.items()}
    routes = run_in_netns(director, lambda: routes_to([WITH_VIP, WITHOUT_VIP]))
    assert {r.source for r in routes.values() if r} == {lab.director.address}
    with IpvsAdapter(director) as adapter:
        result = step(cluster, rules, {}, adapter.observe(), routes=routes)
    # The interface towards the real servers accepts replies from the VIP (a local address):
    # a director setting of the desired table, applied like the rest.
    assert result.desired.director.interface_sysctls == {("eth0", "accept_local"): 1,
                                                         ("eth0", "rp_filter"): 2}
    apply_cluster(result.desired, netns=director)
    assert read_sysctls([sysctl_path("net.ipv4.conf.eth0.accept_local")], director) == {
        sysctl_path("net.ipv4.conf.eth0.accept_local"): "1"}
    table = ipvsadm_oracle(director)
    marks = sorted({p.mark for p in result.probes.values() if p.mark})
    assert marks == [65536, 65537]
    for mark, address in zip(marks, (WITH_VIP, WITHOUT_VIP), strict=True):
        assert f"-A -f {mark} -s rr" in table
        assert f"-a -f {mark} -r {address}:0 -g -w 1" in table
    # ...which a plain apply-style plan of the same desired table leaves alone (converged).
    plan, _ = plan_cluster(result.desired, netns=director)
    assert not plan.changes
    mark_of = {t.address: p.mark for t, p in result.probes.items()}
    probes = {}
    for key, spec_list in specs.items():
        for spec in spec_list:
            for rs in cluster.services[key].real_servers:
                target = target_of(key, rs, spec)
                mark = mark_of[rs.address] if target.via_vip else 0
                probes[target] = Probe(target, mark, lab.director.address if mark else None)
    seen = _results(director, probes, wait=6)
    assert seen == {
        f"tcp {WITH_VIP} vip": "up: connected",
        f"tcp {WITHOUT_VIP} vip": "down: timed out after 1s connecting",
        f"tcp {WITH_VIP} address": "up: connected",
        f"tcp {WITHOUT_VIP} address": "up: connected",
        f"http {WITH_VIP} vip": "up: HTTP 200",
        f"http {WITHOUT_VIP} vip": "down: timed out after 1s connecting",
        f"udp {WITH_VIP} vip": "up: reply of 13 bytes",
        f"udp {WITHOUT_VIP} vip": "down: timed out after 1s waiting for a reply",
    }, seen
