"""`ipvsctl run` with a bgp section end to end: the real program and its BIRD, a real kernel,
real listeners on real servers, and a router BIRD whose kernel table shows what the director
announces. The route follows health (min_healthy 2 of 2), a kill -9 and restart never loses
it (the new run adopts the BIRD the killed one left), and SIGTERM withdraws it before the
process exits, leaving the IPVS table as it is."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipvsctl.config import load
from ipvsctl.lab import topology as topo_mod
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.realserver.workflow import setup
from tests.bgp.router import Router, router_conf, wire
from tests.daemon.test_run_kernel import Daemon, Listeners
from tests.helpers import ipvsadm_save

pytestmark = pytest.mark.kernel
VIP = "10.20.0.100"
SERVERS = ("10.20.0.11", "10.20.0.12")
ROUTER, DIRECTOR = "10.99.0.1", "10.99.0.2"
HOLD, WAIT = 3, 4.0  # the VM saw graceful withdrawals take 0.5-2.9 s
FILE = f"""\
bgp:
  local_as: 65001
  hold_time: {HOLD}
  withdraw_wait: {WAIT:g}
  neighbours: [{{address: {ROUTER}, as: 65000}}]
  directors: [{{name: d1, router_id: {DIRECTOR}, local_address: {DIRECTOR}}}]
services:
  - name: web
    vip: {VIP}
    port: 80
    scheduler: mh
    announce: {{min_healthy: 2, med: 10}}
    check: {{type: tcp, interval: 0.5, timeout: 0.4, rise: 1, fall: 1}}
    real_servers: [{{address: {SERVERS[0]}}}, {{address: {SERVERS[1]}}}]
"""
PREFIX = f"{VIP}/32"
SLOW = 10.0  # emulated: a check round, a plan, bird -p, birdc and the router's poll
READY = 240.0  # emulated under load: starting Python and importing everything took over 60 s


class BgpDaemon(Daemon):
    """The test_run_kernel daemon, given longer to become ready."""

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ipvsctl", "run", str(self.path), "--netns", self.netns,
                 "--log-format", "json", *self.args], stdout=subprocess.DEVNULL, stderr=err)
        started = time.monotonic()
        self.wait_for(lambda e: e["event"] == "ready", READY, "ready")
        print(f"ready {time.monotonic() - started:.1f}s after the start")


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[
        Any, Listeners, Daemon, Router]]:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    topo = topo_mod.describe(plan_addresses(load(path), 1), "dr")
    listeners = Listeners(topo)
    daemon = BgpDaemon(path, topo.director.netns, tmp_path / "run.log")
    daemon.args = ["--node", "d1"]
    router: Router | None = None
    try:
        topo_mod.build(topo)
        router_ns = f"{topo.prefix}-rt"
        subprocess.run(["ip", "netns", "add", router_ns], check=True)
        subprocess.run(["ip", "-n", router_ns, "link", "set", "lo", "up"], check=True)
        wire(router_ns, topo.director.netns, ROUTER, DIRECTOR, "bgp")
        for address, node in topo.real_servers.items():
            setup([VIP], netns=node.netns)
            listeners.start(address)
        router = Router(router_ns, tmp_path / "router",
                        router_conf(ROUTER, 65000, [("d1", DIRECTOR, 65001)],
                                    vips="10.20.0.0/24{32,32}", hold=HOLD))
        yield topo, listeners, daemon, router
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)
        bird = tmp_path / "run"
        for pid_file in bird.glob("bird*/bird.pid"):  # a BIRD orphaned by a kill -9
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        if router is not None:
            router.close()
            subprocess.run(["ip", "netns", "delete", router.ns], check=False)
        listeners.close()
        topo_mod.teardown(topo)


def test_run_announces_by_health_survives_a_restart_and_withdraws_on_sigterm(
        lab: Any) -> None:
    topo, listeners, daemon, router = lab
    daemon.start()
    took = router.wait_hops(PREFIX, [DIRECTOR], timeout=30 + SLOW)
    print(f"first announcement at the router {took:.2f}s after ready")
    daemon.wait_for(lambda e: e["event"] == "announce" and e.get("vip") == VIP, 5, "announce")
    # One listener gone: 1 of 2 healthy, below min_healthy 2: withdrawn.
    listeners.stop(SERVERS[1])
    took = router.wait_hops(PREFIX, [], timeout=SLOW)
    print(f"withdrawn at the router {took:.2f}s after the listener stopped")
    listeners.start(SERVERS[1])
    took = router.wait_hops(PREFIX, [DIRECTOR], timeout=SLOW)
    print(f"announced again {took:.2f}s after the listener came back")
    # kill -9, then a new run: BIRD (its own session) keeps announcing; the new run adopts it
    # and keeps the route until its checks decide. The router never loses it.
    lost: list[float] = []
    watching = threading.Event()
    watching.set()

    def watch() -> None:
        while watching.is_set():
            if router.next_hops(PREFIX) != [DIRECTOR]:
                lost.append(time.monotonic())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        time.sleep(HOLD + 1)  # longer than the hold time: BIRD is still there
        daemon.start()
        daemon.wait_for(lambda e: e["event"] == "bgp" and "adopted" in e["message"], 5,
                        "adopted")
        time.sleep(3)  # the first check rounds
    finally:
        watching.clear()
        watcher.join()
    assert lost == []
    # SIGTERM: the route is gone from the router before the process exits; the IPVS table
    # stays as it is.
    table = ipvsadm_save(topo.director.netns)
    gone: list[float] = []

    def watch_gone() -> None:
        router.wait_hops(PREFIX, [], timeout=30)
        gone.append(time.monotonic())

    watcher = threading.Thread(target=watch_gone)
    watcher.start()
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    exited = time.monotonic()
    watcher.join()
    assert gone and gone[0] < exited, (gone, exited)
    assert exited - started >= WAIT
    print(f"SIGTERM: withdrawn at the router after {gone[0] - started:.2f}s, exited after "
          f"{exited - started:.2f}s (withdraw_wait {WAIT:g}s)")
    assert ipvsadm_save(topo.director.netns) == table
    assert any(f"-A -t {VIP}:80 -s mh" in line for line in table)
    # The BIRD it adopted (the killed run's) is left up, announcing nothing, for the next run.
    daemon.wait_for(lambda e: e["event"] == "bgp" and "left running" in e["message"], 1,
                    "BIRD left running")
