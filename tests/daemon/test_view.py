"""The daemon as metrics and the status API see it (daemon/view.py), on the host: the health
each real server maps to (unchecked for `check: none`), min_healthy resolved, the facts, and
a snapshot made on the daemon's own loop when asked from another thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.daemon.loop import Daemon, members_of
from ipvsctl.daemon.view import DaemonSource
from ipvsctl.errors import HostError
from ipvsctl.health.runner import Runner
from ipvsctl.host.netns import run_in_netns
from ipvsctl.metrics.provider import CheckerFacts, DaemonFacts, ServerHealth
from ipvsctl.metrics.status import document, status_lines
from ipvsctl.model import RealServerKey, ServiceCounters, ServiceKey
from tests.health.listeners import NOBODY_IP, SERVER_IP, FirstAtOnce, listeners, make_pair
from tests.helpers import run

FILE = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    check: {type: tcp, via: address, rise: 1, fall: 1}
    min_healthy: 50%
    sorry_server: {address: 10.0.0.99}
    real_servers:
      - {address: 10.0.0.11}
      - {address: 10.0.0.12}
      - {address: 10.0.0.13, check: {type: none}}
      - {address: 10.0.0.14}
"""
WEB = ServiceKey.vip("tcp", "192.0.2.10", 80)


class Table:
    """Stands in for the view's own netlink socket (no IPVS on the host)."""

    def __init__(self) -> None:
        self.reads = 0

    def counters(self) -> list[ServiceCounters]:
        self.reads += 1
        return []


def daemon_of(tmp_path: Path) -> Daemon:
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    daemon = Daemon(path, None, table=None)  # type: ignore[arg-type]  # never written to
    daemon.cluster = cluster = load(path)
    daemon.loaded = True
    daemon.kernel = {WEB: cluster.services[WEB]}
    targets = {t.address: t for t in members_of(cluster)}
    assert "10.0.0.13" not in targets  # check: none has no target
    daemon.tracker.record(targets["10.0.0.11"], True, "connected", 100.0)
    daemon.tracker.record(targets["10.0.0.12"], False, "connection refused", 101.0)
    return daemon


def test_health_maps_targets_back_to_real_servers(tmp_path: Path) -> None:
    daemon, table = daemon_of(tmp_path), Table()
    view = DaemonSource()
    with pytest.raises(HostError, match="starting"):
        view.counters()
    view.attach(daemon, table)  # type: ignore[arg-type]
    health = view.health()
    rs = {key[1].address: h for key, h in health.items()}
    assert set(rs) == {"10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"}  # no sorry server
    assert rs["10.0.0.11"] == ServerHealth("up", 100.0, "connected", "tcp", 100.0)
    assert rs["10.0.0.12"][:3] == ("down", 101.0, "connection refused")
    assert rs["10.0.0.12"].last_success is None
    assert rs["10.0.0.13"].state == "unchecked" and rs["10.0.0.13"].check == "none"
    assert rs["10.0.0.14"].state == "unknown"
    assert (WEB, RealServerKey("10.0.0.11", 80)) in health
    assert view.min_healthy(WEB) == 2  # 50% of 4
    assert view.min_healthy(ServiceKey.vip("tcp", "192.0.2.99", 80)) == 0
    facts = view.facts()
    assert facts.file == str(daemon.path) and facts.reload.last_ok is True
    assert view.cluster() is daemon.cluster
    assert view.counters() == [] and table.reads == 1
    assert facts.checker is None  # no runner yet


# In target order (by address, as a string or as an IP): one answers, one refuses (nothing
# listens), two never answer (nobody has them): of those, the first holds the third and last
# slot in flight, the other is capped.
REFUSED, SILENT = "10.77.0.3", "10.77.0.98"
CHECKED = f"""\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    check: {{type: tcp, via: address, interval: 1, timeout: 0.9, rise: 1, fall: 1}}
    real_servers: [{{address: {SERVER_IP}}}, {{address: {REFUSED}}}, {{address: {NOBODY_IP}}},
                   {{address: {SILENT}}}]
"""


@pytest.mark.netns
def test_the_runners_figures_reach_the_facts(tmp_path: Path,
                                              netns_factory: Callable[[], str]) -> None:
    """A real runner, three checks in flight at most; the loop then blocks for 2 s with a
    hung check in flight. The daemon's snapshot says how late it is, and afterwards what it
    started, skipped and started late."""
    pair = make_pair(netns_factory)
    run(["ip", "-n", pair.server, "addr", "add", f"{REFUSED}/24", "dev", "eth0"])
    path = tmp_path / "cluster.yaml"
    path.write_text(CHECKED)
    daemon = Daemon(path, None, table=None)  # type: ignore[arg-type]  # never written to
    daemon.cluster = load(path)
    daemon.loaded = True
    view = DaemonSource()
    view.attach(daemon, Table())  # type: ignore[arg-type]
    screen: list[str] = []  # `ipvsctl status` during the block

    async def main() -> tuple[DaemonFacts, DaemonFacts, CheckerFacts]:
        loop = asyncio.get_running_loop()
        runner = daemon._runner = Runner(
            loop, lambda t, ok, d: daemon.tracker.record(t, ok, d, time.time()),
            rng=FirstAtOnce(), in_flight=3)
        daemon._retarget()  # the daemon's own way to hand the runner its targets
        blocked: asyncio.Future[DaemonFacts] = loop.create_future()

        def block() -> None:  # a hung check in flight; the next round is due at 1 s
            time.sleep(2.0)
            blocked.set_result(view.facts())
            screen.extend(status_lines(document(view)))

        loop.call_later(0.2, block)
        during = await blocked
        until = loop.time() + 10
        while runner.counters.timed_out == 0 and loop.time() < until:
            await asyncio.sleep(0.05)
        view._at = -1.0  # past the reuse window: a new snapshot
        after = view.facts()
        c = runner.counters
        oracle = CheckerFacts(targets=4, in_flight=runner.in_flight, lag_seconds=runner.lag(),
                              started=c.started, succeeded=c.succeeded, failed=c.failed,
                              timed_out=c.timed_out, overrun=c.overrun, capped=c.capped,
                              late=c.late, stalled_seconds=c.stalled)
        await runner.aclose()
        return during, after, oracle

    with listeners() as servers:
        servers.tcp(pair.server, SERVER_IP, 80)
        during, after, oracle = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert during.checker is not None and after.checker is not None
    assert during.checker.targets == 4 and during.checker.in_flight == 1, during.checker
    assert during.checker.lag_seconds >= 1.0, during.checker  # due at 1 s, looked at 2.2 s
    checks = next(line for line in screen if line.startswith("  checks: 4 targets, 1 in flight"))
    assert checks.endswith(": the checker is NOT keeping its rate"), checks
    assert after.checker == oracle
    assert oracle.succeeded >= 1 and oracle.failed > oracle.timed_out >= 1, oracle
    assert oracle.overrun >= 1 and oracle.capped >= 1 and oracle.late >= 1, oracle
    assert oracle.stalled_seconds >= 1.5, oracle
    print(f"during the block: {during.checker}; after: {after.checker}")


def test_a_snapshot_is_made_on_the_daemons_loop(tmp_path: Path) -> None:
    daemon = daemon_of(tmp_path)
    view = DaemonSource()
    view.attach(daemon, Table())  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    on_loop: list[bool] = []
    real = daemon.snapshot

    def snapshot() -> object:
        on_loop.append(threading.current_thread() is thread)
        return real()

    daemon.snapshot = snapshot  # type: ignore[method-assign, assignment]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        daemon.loop = loop
        assert view.health()[(WEB, RealServerKey("10.0.0.12", 80))].state == "down"
        view.facts()  # within the reuse window: the same snapshot
        assert on_loop == [True]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_busy_loop_serves_the_last_snapshot(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = daemon_of(tmp_path)
    view = DaemonSource()
    view.attach(daemon, Table())  # type: ignore[arg-type]
    view.prime()  # as the daemon does before it serves
    loop = asyncio.new_event_loop()
    busy = threading.Event()
    loop.call_soon(lambda: busy.wait(10))  # a long first apply
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setattr("ipvsctl.daemon.view.WAIT", 0.2)
    monkeypatch.setattr("ipvsctl.daemon.view.REUSE", 0.0)
    try:
        daemon.loop = loop
        key = (WEB, RealServerKey("10.0.0.12", 80))
        daemon.tracker.forget(list(daemon.tracker.view()))  # what the loop will see later
        assert view.health()[key].state == "down"  # the primed one, not a hang
        busy.set()
        deadline = time.monotonic() + 5
        while view.health()[key].state != "unknown":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
