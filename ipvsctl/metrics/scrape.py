"""One scrape of the live table (`ipvsctl metrics`): the registry a director without a daemon
exports through node_exporter's textfile collector."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.registry import CollectorRegistry

from ipvsctl.ipvs import IpvsAdapter
from ipvsctl.metrics.build import BuildCollector
from ipvsctl.metrics.exposition import exposition
from ipvsctl.metrics.table import TableCollector
from ipvsctl.model import Cluster, ServiceCounters


def table_registry(read: Callable[[], list[ServiceCounters]],
                   cluster: Callable[[], Cluster | None] = lambda: None,
                   real_servers: str = "all") -> tuple[CollectorRegistry, TableCollector]:
    """A registry of the table's collector (counters from `read`) and the build info."""
    registry = CollectorRegistry(auto_describe=False)
    table = TableCollector(read, cluster, real_servers)
    registry.register(table)
    registry.register(BuildCollector())
    return registry, table


def scrape_once(netns: str | None = None, cluster: Cluster | None = None,
                real_servers: str = "all") -> bytes:
    """The table's metrics once, in the text format; a table that cannot be read raises."""
    with IpvsAdapter(netns) as adapter:
        counters = adapter.counters()  # here, so that an unreadable table is an error
    registry, _ = table_registry(lambda: counters, lambda: cluster, real_servers)
    return exposition(registry)
