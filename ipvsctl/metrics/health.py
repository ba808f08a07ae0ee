"""Health as gauges, read from the daemon's view at each scrape (pure: data in, families out).

Per service: the real servers meant to serve, how many of them are up and how many the kernel
pools. Per real server (left out with --real-servers none; only `up` with state): up or not,
since when, and the last passing check. Counted by status.summarise, as `ipvsctl status` counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.metrics_core import Metric

from ipvsctl.errors import IpvsctlError
from ipvsctl.metrics.families import ColumnFamily, Labels
from ipvsctl.metrics.provider import HealthKey, ServerHealth
from ipvsctl.metrics.status import SERVING, ServiceStatus, summarise
from ipvsctl.metrics.table import (
    DETAIL,
    REAL_SERVER_LABELS,
    SERVICE_LABELS,
    service_label,
    service_label_values,
)
from ipvsctl.model import Cluster, ServiceCounters, ServiceKey

HEALTH_LABELS = (*REAL_SERVER_LABELS, "check")


class HealthCollector:
    """`cluster`, `counters`, `health` and `min_healthy` are the daemon view's (provider.py).

    The label blocks are rendered once per file and set of check types (families.Labels), so
    a scrape of 110,000 real servers formats values only.
    """

    def __init__(self, cluster: Callable[[], Cluster | None],
                 counters: Callable[[], list[ServiceCounters]],
                 health: Callable[[], Mapping[HealthKey, ServerHealth]],
                 min_healthy: Callable[[ServiceKey], int] = lambda key: 0,
                 real_servers: str = "all") -> None:
        if real_servers not in DETAIL:
            raise ValueError(f"real_servers must be one of {', '.join(DETAIL)}")
        self._cluster, self._counters, self._health = cluster, counters, health
        self._min_healthy = min_healthy
        self.real_servers = real_servers
        self._layouts = _Layouts()

    def collect(self) -> Iterator[Metric]:
        cluster = self._cluster()
        if cluster is None:  # nothing loaded yet: no health to tell
            return
        try:
            counters = self._counters()
        except IpvsctlError:  # the table collector reports it, as ipvsctl_table_up 0
            counters = []
        yield from families(summarise(cluster, counters, self._health(),
                                      {k: self._min_healthy(k) for k in cluster.services}),
                            self.real_servers, self._layouts, cluster)


class _Layouts:
    """The last label layouts and what they were made for."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.services = Labels(SERVICE_LABELS, [])
        self.checks: tuple[str, ...] | None = None
        self.real_servers = Labels(HEALTH_LABELS, [])


def families(services: list[ServiceStatus], real_servers: str = "all",
             layouts: _Layouts | None = None, cluster: Cluster | None = None
             ) -> Iterator[Metric]:
    """The health families of `services` (status.summarise of `cluster`)."""
    cache = layouts or _Layouts()
    if cluster is None or cache.cluster is not cluster:
        rows = []
        for svc in services:
            address, port, proto, mark = service_label_values(svc.key)
            rows.append((address, port, proto, mark, service_label(svc.key, svc.name)))
        cache.cluster, cache.services, cache.checks = cluster, Labels(SERVICE_LABELS, rows), None
    labels = cache.services
    yield ColumnFamily("ipvsctl_service_servers", "Real servers the file means to serve (not "
                       "draining)", "gauge", labels, [s.servers for s in services])
    yield ColumnFamily("ipvsctl_service_servers_up", "Of those, the real servers up (or "
                       "unchecked)", "gauge", labels, [s.up for s in services])
    yield ColumnFamily("ipvsctl_service_servers_pooled", "Real servers the kernel gives a "
                       "weight above 0", "gauge", labels, [s.pooled for s in services])
    yield ColumnFamily("ipvsctl_service_min_healthy", "How many real servers min_healthy keeps "
                       "pooled, failed or not (0: none)", "gauge", labels,
                       [s.min_healthy for s in services])
    if real_servers == "none":
        return
    servers = [rs for svc in services for rs in svc.real_servers if rs.state != "draining"]
    checks = tuple(rs.health.check for rs in servers)
    if cache.checks != checks:
        rs_rows: list[tuple[str, ...]] = []
        for svc, row in zip(services, labels.rows, strict=True):
            address, port, proto, mark, label = row
            rs_rows += [(address, port, rs.key.address, str(rs.key.port), proto, mark, label,
                         rs.health.check) for rs in svc.real_servers
                        if rs.state != "draining"]
        cache.checks, cache.real_servers = checks, Labels(HEALTH_LABELS, rs_rows)
    rs_labels = cache.real_servers
    yield ColumnFamily("ipvsctl_real_server_up", "1 if the real server is up (or unchecked), "
                       "0 if down, unknown yet or missing from the kernel", "gauge", rs_labels,
                       [int(rs.state in SERVING) for rs in servers])
    if real_servers == "state":
        return
    yield ColumnFamily("ipvsctl_real_server_state_since_timestamp_seconds", "When the real "
                       "server's health state began, Unix seconds (0: since the daemon "
                       "started)", "gauge", rs_labels,
                       [int(rs.health.since or 0) for rs in servers])
    yield ColumnFamily("ipvsctl_real_server_last_success_timestamp_seconds", "When a check "
                       "of the real server last passed, Unix seconds (0: never)", "gauge",
                       rs_labels, [int(rs.health.last_success or 0) for rs in servers])
