"""The daemon as metrics and the status API see it (daemon/view.py), on the host: the health
each real server maps to (unchecked for `check: none`), min_healthy resolved, the facts, and
a snapshot made on the daemon's own loop when asked from another thread."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.daemon.loop import Daemon, members_of
from ipvsctl.daemon.view import DaemonSource
from ipvsctl.errors import HostError
from ipvsctl.metrics.provider import ServerHealth
from ipvsctl.model import RealServerKey, ServiceCounters, ServiceKey

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
