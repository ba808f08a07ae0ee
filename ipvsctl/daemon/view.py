"""The running director as metrics and the status API see it (metrics/provider.py DaemonView).

Scrapes and `ipvsctl status` ask from their own threads. Everything but the table's counters
comes from one frozen Snapshot, made on the daemon's loop when asked (so the health tracker is
never read while the loop changes it) and reused for a moment across one scrape's families.
The counters are read over a netlink socket of this view's own: a scrape never queues behind,
or interleaves with, the daemon's writes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ipvsctl.daemon.snapshot import Snapshot
from ipvsctl.errors import HostError, IpvsctlError
from ipvsctl.metrics.provider import (
    DaemonFacts,
    HealthKey,
    ReloadFacts,
    RepairFacts,
    ServerHealth,
)
from ipvsctl.model import Cluster, ServiceCounters, ServiceKey

if TYPE_CHECKING:
    from ipvsctl.daemon.loop import Daemon
    from ipvsctl.ipvs import IpvsAdapter

REUSE = 0.5  # seconds one snapshot serves (a scrape asks for facts, health and min_healthy)
WAIT = 5.0  # seconds a scrape waits for the loop (busy with a large apply) before it is
#             given the last snapshot; the one asked for replaces it when it is made


class _Picture:
    """What one snapshot means in the DaemonView's terms."""

    def __init__(self, snap: Snapshot) -> None:
        reload = snap.last_reload
        repair = snap.last_repair
        self.facts = DaemonFacts(
            pid=snap.pid, started_at=snap.started, file=snap.file, netns=snap.netns,
            reload=ReloadFacts(
                last_at=reload.time if reload else snap.started,
                last_ok=reload.ok if reload else True,
                last_error=(reload.errors[0] if reload and reload.errors else None),
                last_good_at=snap.last_good_reload),
            repair=RepairFacts(last_at=repair.time, changes=len(repair.changes))
            if repair else RepairFacts(), bgp=snap.bgp, checker=snap.checker)
        self.health: dict[HealthKey, ServerHealth] = {}
        self.min_healthy: dict[ServiceKey, int] = {}
        for svc in snap.services:
            self.min_healthy[svc.key] = svc.min_healthy_needed
            for rs in svc.real_servers:
                if rs.sorry:
                    continue
                self.health[(svc.key, rs.key)] = ServerHealth(
                    rs.state, rs.since, rs.detail, rs.check or "none", rs.last_success)


class DaemonSource:
    """A DaemonView over a Daemon; `counters` reads the kernel through `table`."""

    def __init__(self) -> None:
        self._daemon: Daemon | None = None
        self._table: IpvsAdapter | None = None
        self._read_lock = threading.Lock()
        self._snap_lock = threading.Lock()
        self._picture: _Picture | None = None
        self._at = -REUSE

    def attach(self, daemon: Daemon, table: IpvsAdapter) -> None:
        """The exporter is made (and binds) before the daemon exists; it serves only after
        the daemon has started, so nothing reads an unattached source."""
        self._daemon = daemon
        self._table = table

    def _parts(self) -> tuple[Daemon, IpvsAdapter]:
        if self._daemon is None or self._table is None:
            raise HostError("the daemon is starting")
        return self._daemon, self._table

    def prime(self) -> None:
        """Take the first snapshot now (called on the daemon's loop before the exporter
        serves), so that a scrape during a long first apply has one to fall back on."""
        daemon, _ = self._parts()
        self._keep(daemon.snapshot())

    def _keep(self, snap: Snapshot) -> _Picture:
        picture = self._picture = _Picture(snap)
        self._at = time.monotonic()
        return picture

    def _now(self) -> _Picture:
        with self._snap_lock:
            picture = self._picture
            if picture is not None and time.monotonic() - self._at < REUSE:
                return picture
            daemon, _ = self._parts()
            loop = daemon.loop
            if loop is None or not loop.is_running():  # not started, or stopped: still
                return self._keep(daemon.snapshot())

            async def take() -> Snapshot:
                return daemon.snapshot()

            future = asyncio.run_coroutine_threadsafe(take(), loop)
            try:
                return self._keep(future.result(WAIT))
            except TimeoutError:
                if picture is None:
                    future.cancel()
                    raise HostError(f"the daemon's loop did not answer within {WAIT:g}s "
                                    "(starting?)") from None
                future.add_done_callback(self._late)
                return picture

    def _late(self, future: Future[Snapshot]) -> None:
        # Runs on the loop: never takes the lock a scrape may hold while it waits for the loop.
        if not future.cancelled() and future.exception() is None:
            self._keep(future.result())

    def facts(self) -> DaemonFacts:
        facts = self._now().facts
        daemon, table = self._parts()
        if not daemon.loaded or daemon.cluster.ha is None:
            return facts
        from ipvsctl.director.workflow import this_director
        from ipvsctl.ha.role import ha_facts

        cluster = daemon.cluster
        try:
            director = this_director(cluster, daemon.node)
            with self._read_lock:
                running = table.sync_daemons()
        except IpvsctlError:
            return facts
        if director is None:
            return facts
        return facts._replace(ha=ha_facts(cluster, director.name, daemon.netns,
                                          daemon.healthy, running))

    def cluster(self) -> Cluster | None:
        daemon = self._daemon
        return daemon.cluster if daemon is not None and daemon.loaded else None

    def counters(self) -> list[ServiceCounters]:
        _, table = self._parts()
        with self._read_lock:
            return table.counters()

    def health(self) -> Mapping[HealthKey, ServerHealth]:
        return self._now().health

    def min_healthy(self, service: ServiceKey) -> int:
        return self._now().min_healthy.get(service, 0)
