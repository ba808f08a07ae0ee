"""The text exposition format of a registry: column families fast, everything else through
prometheus-client's own generate_latest (host tests prove both read back the same)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ipvsctl.gcpause import gc_paused
from ipvsctl.metrics.families import ColumnFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _One:
    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self.metric]


def exposition(registry: Collector) -> bytes:
    """Every family the registry collects, in the Prometheus text format (0.0.4)."""
    parts: list[bytes] = []
    with gc_paused():  # a scrape makes a few objects per real server, none in cycles
        for metric in registry.collect():
            if isinstance(metric, ColumnFamily):
                parts.append(metric.text().encode())
            else:
                parts.append(generate_latest(_One(metric)))
    return b"".join(parts)
