"""Real TCP connections through a DR director across applies: nothing unchanged is disrupted,
and a removed real server is drained, not cut off, even when ipvsctl is killed mid-wait."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.director.workflow import apply_cluster, plan_cluster
from ipvsctl.host.netns import run_in_netns
from ipvsctl.lab import topology as topo_mod
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.realserver.workflow import setup

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
VIP = "10.10.0.100"

BASE = """
director:
  timeouts: {tcpfin: 2}        # closed connections leave the table quickly
services:
  - name: web
    vip: 10.10.0.100
    port: 80
    scheduler: rr
    real_servers: [{address: 10.10.0.11}, {address: 10.10.0.12}]
  - name: other
    vip: 10.10.0.100
    port: 8080
    real_servers: [{address: 10.10.0.11}, {address: 10.10.0.12}]
"""


class EchoServers:
    """Line echo servers bound to the VIP inside each real server, answering with their name."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []

    def start(self, netns: str, port: int, name: str) -> None:
        def make() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((VIP, port))
            s.listen(16)
            return s

        sock = run_in_netns(netns, make)
        self.socks.append(sock)
        threading.Thread(target=self._accept, args=(sock, name), daemon=True).start()

    @staticmethod
    def _accept(sock: socket.socket, name: str) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=EchoServers._serve, args=(conn, name), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket, name: str) -> None:
        with conn, conn.makefile("rwb") as f:
            for line in f:
                f.write(name.encode() + b" " + line)
                f.flush()

    def close(self) -> None:
        for s in self.socks:
            s.close()


class Client:
    def __init__(self, netns: str, port: int) -> None:
        self.sock = run_in_netns(netns, lambda: socket.create_connection((VIP, port), timeout=20))
        self.f = self.sock.makefile("rwb")

    def ask(self, text: str) -> str:
        self.f.write(text.encode() + b"\n")
        self.f.flush()
        return self.f.readline().decode().strip()

    def close(self) -> None:
        self.f.close()
        self.sock.close()


@pytest.fixture
def dr_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, Path]]:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    path = tmp_path / "cluster.yaml"
    path.write_text(BASE)
    cluster = load(path)
    topo = topo_mod.describe(plan_addresses(cluster, 1), "dr")
    servers = EchoServers()
    try:
        topo_mod.build(topo)
        apply_cluster(cluster, netns=topo.director.netns)
        for address, node in topo.real_servers.items():
            setup([VIP], netns=node.netns)
            for port in (80, 8080):
                servers.start(node.netns, port, address)
        yield topo, path
    finally:
        servers.close()
        topo_mod.teardown(topo)


def write(path: Path, text: str) -> None:
    path.write_text(text)


def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def test_connection_through_unchanged_service_survives_apply(
        dr_lab: tuple[object, Path], ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    topo, path = dr_lab
    director = topo.director.netns  # type: ignore[attr-defined]
    client = Client(topo.clients[0].netns, 80)  # type: ignore[attr-defined]
    try:
        first = client.ask("one")
        assert first.endswith(" one") and first.split()[0] in ("10.10.0.11", "10.10.0.12")
        # Change everything around the web service: weights, scheduler and a new service on
        # 8080/8443, a real server removed from 8080.
        write(path, BASE.replace("    port: 8080\n    real_servers: [{address: 10.10.0.11}, "
                                 "{address: 10.10.0.12}]",
                                 "    port: 8080\n    scheduler: lc\n    real_servers: "
                                 "[{address: 10.10.0.11, weight: 7}]")
              + "  - vip: 10.10.0.100\n    port: 8443\n    real_servers: "
                "[{address: 10.10.0.12}]\n")
        plan, result = apply_cluster(load(path), netns=director)
        texts = [c.describe() for c in plan.changes]
        assert result.ok and texts and not any("tcp/10.10.0.100:80 " in t or
                                               t.endswith("tcp/10.10.0.100:80") for t in texts)
        assert client.ask("two") == first.replace("one", "two")  # same server, same connection
        assert "-A -t 10.10.0.100:8443 -s wrr" in ipvsadm_oracle(director)
    finally:
        client.close()


def test_removed_real_server_drains_and_survives_a_killed_wait(
        dr_lab: tuple[object, Path], ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    topo, path = dr_lab
    director = topo.director.netns  # type: ignore[attr-defined]
    client = Client(topo.clients[0].netns, 80)  # type: ignore[attr-defined]
    try:
        serving = client.ask("hello").split()[0]
        keep = "10.10.0.12" if serving == "10.10.0.11" else "10.10.0.11"
        write(path, BASE.replace("real_servers: [{address: 10.10.0.11}, "
                                 "{address: 10.10.0.12}]\n  - name: other",
                                 f"real_servers: [{{address: {keep}}}]\n  - name: other"))
        # The IPVS estimator lags: wait until the kernel counts the connection.
        until(lambda: _conns(director, serving) > 0, 15, "the connection in the IPVS table")
        waiter = subprocess.Popen(
            [sys.executable, "-m", "ipvsctl", "apply", str(path), "--netns", director, "--wait"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ))
        assert waiter.stdout is not None
        seen = ""
        for line in waiter.stdout:
            seen += line
            if "is draining" in line:
                break
        waiter.send_signal(signal.SIGKILL)
        waiter.wait(30)
        assert f"drain real server {serving}:80" in seen, seen
        table = ipvsadm_oracle(director)
        assert f"-a -t 10.10.0.100:80 -r {serving}:80 -g -w 0" in table
        # Drained, not cut: the live connection still talks to its server.
        assert client.ask("still there?") == f"{serving} still there?"
        # New connections go to the remaining server only.
        other = Client(topo.clients[0].netns, 80)  # type: ignore[attr-defined]
        assert other.ask("new").split()[0] == keep
        other.close()
        # A fresh ipvsctl picks the drain up from the kernel and the record.
        plan, _ = plan_cluster(load(path), netns=director)
        assert not plan.changes and any("is draining" in n.describe() for n in plan.waiting)
        client.close()
        done = subprocess.run(
            [sys.executable, "-m", "ipvsctl", "apply", str(path), "--netns", director, "--wait",
             "--wait-timeout", "120"],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"delete real server {serving}:80" in done.stdout
        assert not any(f"-r {serving}:80 " in line for line in ipvsadm_oracle(director))
    finally:
        client.close()


def _conns(netns: str, address: str) -> int:
    from ipvsctl.ipvs import IpvsAdapter

    with IpvsAdapter(netns) as adapter:
        for key, svc in adapter.observe().services.items():
            if key.port != 80:
                continue
            for rs in svc.real_servers.values():
                if rs.key.address == address and rs.connections:
                    return rs.connections.total
    return 0
