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
    """`cluster`, `counters`, `health` and `min_healthy` are the daemon view's (provider.py)."""

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
                            self.real_servers)


def families(services: list[ServiceStatus], real_servers: str = "all") -> Iterator[Metric]:
    rows, servers = [], []
    for svc in services:
        address, port, proto, mark = service_label_values(svc.key)
        label = service_label(svc.key, svc.name)
        rows.append((address, port, proto, mark, label))
        servers += [((address, port, rs.key.address, str(rs.key.port), proto, mark, label,
                      rs.health.check), rs) for rs in svc.real_servers if rs.state != "draining"]
    labels = Labels(SERVICE_LABELS, rows)
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
    rs_labels = Labels(HEALTH_LABELS, [row for row, _ in servers])
    yield ColumnFamily("ipvsctl_real_server_up", "1 if the real server is up (or unchecked), "
                       "0 if down, unknown yet or missing from the kernel", "gauge", rs_labels,
                       [int(rs.state in SERVING) for _, rs in servers])
    if real_servers == "state":
        return
    yield ColumnFamily("ipvsctl_real_server_state_since_timestamp_seconds", "When the real "
                       "server's health state began, Unix seconds (0: since the daemon "
                       "started)", "gauge", rs_labels,
                       [int(rs.health.since or 0) for _, rs in servers])
    yield ColumnFamily("ipvsctl_real_server_last_success_timestamp_seconds", "When a check "
                       "of the real server last passed, Unix seconds (0: never)", "gauge",
                       rs_labels, [int(rs.health.last_success or 0) for _, rs in servers])
