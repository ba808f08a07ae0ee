"""The director's BGP side against a real router: BIRD 2 in two namespaces, the director's
driven by ipvsctl's announcer as `ipvsctl run` drives it (no IPVS needed: the kernel table is
given as the set of services present)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipvsctl.config import loads
from ipvsctl.daemon.announcer import Announcer
from ipvsctl.daemon.log import EventLog
from ipvsctl.director.workflow import as_node
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.host.netns import run_in_netns
from ipvsctl.model import Cluster
from tests.bgp.router import Router, router_conf, wire

pytestmark = pytest.mark.netns

FILE = """\
bgp:
  local_as: 65001
  hold_time: 3
  withdraw_wait: 0.5
  neighbours: [{address: 10.10.0.1, as: 65000}]
  directors:
    - {name: d1, router_id: 10.10.0.101, local_address: 10.10.0.101}
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    scheduler: mh
    announce: {min_healthy: 2, med: 10, communities: ["65000:100"]}
    check: {type: tcp}
    real_servers: [{address: 10.20.0.11}, {address: 10.20.0.12}]
"""
VIP = "192.0.2.10/32"


@pytest.fixture
def lab(netns_factory: Callable[[], str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Router]]:
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    router_ns, director_ns = netns_factory(), netns_factory()
    wire(router_ns, director_ns, "10.10.0.1", "10.10.0.101", f"{os.getpid() % 10000}")
    router = Router(router_ns, tmp_path / "router",
                    router_conf("10.10.0.1", 65000, [("d1", "10.10.0.101", 65001)]))
    yield director_ns, router
    router.close()


def _targets(cluster: Cluster) -> list[CheckTarget]:
    key = next(iter(cluster.services))
    rules = cluster.health[key]
    servers = sorted(cluster.services[key].real_servers)
    return [target_of(key, rs, rules.check_of(rs)) for rs in servers]


def test_routes_follow_health_and_sigterm_withdraws_first(lab: tuple[str, Router]) -> None:
    ns, router = lab
    cluster = as_node(loads(FILE, "cluster.yaml"), "d1")
    present = set(cluster.services)
    a, b = _targets(cluster)
    announcer = Announcer(ns, EventLog())
    run_in_netns(ns, lambda: announcer.start(cluster))
    try:
        # No verdict yet: nothing is announced (the include file is empty).
        announcer.decide({}, present)
        assert announcer.announced == set()
        assert router.next_hops(VIP) == []
        # Both healthy: announced with its MED and community; the session comes up first.
        announcer.decide({a: State.UP, b: State.UP}, present)
        assert announcer.announced == {"192.0.2.10"}
        router.wait_hops(VIP, ["10.10.0.101"], timeout=20)
        shown = router.birdc("show", "route", "all", VIP)
        assert "BGP.med: 10" in shown and "(65000,100)" in shown, shown
        announcer.tick({a: State.UP, b: State.UP}, present)
        assert [s.state for s in announcer.session_list()] == ["Established"]
        # One down: below min_healthy 2, withdrawn at once (no hold timer involved).
        started = time.monotonic()
        announcer.decide({a: State.UP, b: State.DOWN}, present)
        assert announcer.announced == set()
        seconds = router.wait_hops(VIP, [], timeout=5)
        print(f"withdrawal seen by the router {time.monotonic() - started:.3f}s after the "
              f"decision ({seconds:.3f}s polling)")
        (verdict,) = announcer.announcement_list()
        assert not verdict.announced and "1 of 2 healthy" in verdict.reason
        # Back: announced again.
        announcer.decide({a: State.UP, b: State.UP}, present)
        router.wait_hops(VIP, ["10.10.0.101"], timeout=10)
        # Not in the kernel table: withdrawn.
        announcer.decide({a: State.UP, b: State.UP}, set())
        router.wait_hops(VIP, [], timeout=5)
        announcer.decide({a: State.UP, b: State.UP}, present)
        router.wait_hops(VIP, ["10.10.0.101"], timeout=10)
    except BaseException:
        announcer.bird.stop()
        raise
    # SIGTERM's share: withdraw, wait withdraw_wait (the router has moved the route before
    # BIRD goes), then our own BIRD is shut down.
    import threading

    child = announcer.bird.child
    assert child is not None
    t0 = time.monotonic()
    seen: list[float] = []

    def watch() -> None:
        router.wait_hops(VIP, [], timeout=5)
        seen.append(time.monotonic() - t0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    asyncio.run(announcer.stop())
    stopped = time.monotonic() - t0
    watcher.join()
    assert seen and seen[0] < stopped, (seen, stopped)
    assert stopped >= 0.5  # withdraw_wait
    assert child.poll() == 0 and not announcer.bird.answers()
    print(f"SIGTERM path: withdrawn at the router after {seen[0]:.3f}s, BIRD down after "
          f"{stopped:.3f}s")



def test_a_bird_run_apart_is_adopted_and_left_running(lab: tuple[str, Router],
                                                      tmp_path: Path) -> None:
    """The systemd layout: `ipvsctl bgp-render --exec` becomes BIRD (its own unit); run's
    announcer adopts it, drives it, and on SIGTERM withdraws but leaves it up."""
    import subprocess
    import sys

    ns, router = lab
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    bird = subprocess.Popen([sys.executable, "-m", "ipvsctl", "bgp-render", str(path),
                             "--node", "d1", "--netns", ns, "--exec"],
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cluster = as_node(loads(FILE, str(path)), "d1")
        announcer = Announcer(ns, EventLog())
        for _ in range(200):
            if announcer.bird.answers():
                break
            time.sleep(0.05)
        announcer.start(cluster)
        assert announcer.adopted
        a, b = _targets(cluster)
        announcer.decide({a: State.UP, b: State.UP}, set(cluster.services))
        router.wait_hops(VIP, ["10.10.0.101"], timeout=20)
        # A restarted run (crashed, or restarted by systemd) adopts it and, with no
        # verdicts yet, keeps the route: the router never loses it.
        again = Announcer(ns, EventLog())
        again.start(cluster)
        again.decide({}, set(cluster.services))
        assert again.announced == {"192.0.2.10"}
        for _ in range(20):
            assert router.next_hops(VIP) == ["10.10.0.101"]
            time.sleep(0.05)
        asyncio.run(again.stop())
        router.wait_hops(VIP, [], timeout=5)
        assert again.bird.answers() and bird.poll() is None
    finally:
        bird.terminate()
        bird.wait(10)
