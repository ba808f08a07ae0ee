"""What `ipvsctl run` starts for observability: /metrics (when asked) and the status socket.

    exporter = Exporter(view, netns, listen="127.0.0.1:9595")  # binds both, or raises
    ...  # load the file, start checks, apply
    exporter.start()
    exporter.events.applied("start", result.ok, [(c.action, c.subject) ...], seconds)
    ...
    exporter.close()

Both sockets are bound in the constructor, before the daemon starts anything else, so a bad or
taken address, or a second daemon for the namespace, is one line and a non-zero exit. One table
read serves a scrape's table and health families and a status answer made within the same
second (a scrape of 110,000 real servers reads the kernel once, not twice).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import disable_created_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from ipvsctl.metrics import bgp, checker, ha
from ipvsctl.metrics.build import BuildCollector
from ipvsctl.metrics.events import DaemonMetrics
from ipvsctl.metrics.health import HealthCollector
from ipvsctl.metrics.provider import DaemonFacts, DaemonView, HealthKey, ServerHealth
from ipvsctl.metrics.server import MetricsServer
from ipvsctl.metrics.status import document, select
from ipvsctl.metrics.status_socket import StatusServer, socket_path
from ipvsctl.metrics.table import TableCollector
from ipvsctl.model import Cluster, ServiceCounters, ServiceKey

READ_REUSE = 1.0  # seconds a table read is reused


class _SharedRead:
    """view.counters, reused for READ_REUSE seconds (errors are not kept)."""

    def __init__(self, read: Callable[[], list[ServiceCounters]]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._at = -READ_REUSE
        self._value: list[ServiceCounters] = []

    def __call__(self) -> list[ServiceCounters]:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= READ_REUSE:
                self._value = self._read()
                self._at = now
            return self._value


class _FactsCollector:
    """The families of the daemon's BGP, check-runner and HA facts, from one read of the facts
    per scrape (each part absent while it is None): with an `ha` section that read asks the
    kernel for its sync threads and the interfaces for the VIPs."""

    def __init__(self, facts: Callable[[], DaemonFacts]) -> None:
        self._facts = facts

    def collect(self) -> Iterator[Metric]:
        facts = self._facts()
        if facts.bgp is not None:
            yield from bgp.families(facts.bgp)
        if facts.checker is not None:
            yield from checker.families(facts.checker)
        if facts.ha is not None:
            yield from ha.families(facts.ha)


class _CachedView:
    """The daemon's view with its table read shared (status.document reads it once)."""

    def __init__(self, view: DaemonView, read: _SharedRead) -> None:
        self._view = view
        self.counters = read

    def facts(self) -> DaemonFacts:
        return self._view.facts()

    def cluster(self) -> Cluster | None:
        return self._view.cluster()

    def health(self) -> Mapping[HealthKey, ServerHealth]:
        return self._view.health()

    def min_healthy(self, service: ServiceKey) -> int:
        return self._view.min_healthy(service)


def daemon_registry(view: DaemonView, real_servers: str = "all"
                    ) -> tuple[CollectorRegistry, DaemonMetrics, _CachedView]:
    """The registry the daemon serves: table, health, the checker, events and build info."""
    # The daemon's start time is in its status: no _created series beside every counter.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    read = _SharedRead(view.counters)
    cached = _CachedView(view, read)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TableCollector(read, view.cluster, real_servers))
    registry.register(HealthCollector(view.cluster, read, view.health, view.min_healthy,
                                      real_servers))
    registry.register(_FactsCollector(view.facts))
    events = DaemonMetrics(registry)
    registry.register(BuildCollector())
    return registry, events, cached


class Exporter:
    def __init__(self, view: DaemonView, netns: str | None, listen: str | None = None,
                 real_servers: str = "all") -> None:
        self.registry, self.events, cached = daemon_registry(view, real_servers)
        self.metrics = MetricsServer(self.registry, listen) if listen else None
        try:
            self.status = StatusServer(
                socket_path(netns),
                lambda request: select(document(cached), request.get("service")))
        except BaseException:
            if self.metrics is not None:
                self.metrics.close()
            raise

    def start(self) -> None:
        if self.metrics is not None:
            self.metrics.start()
        self.status.start()

    def close(self) -> None:
        self.status.close()
        if self.metrics is not None:
            self.metrics.close()
