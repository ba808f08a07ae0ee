"""The IPVS table as Prometheus metric families: counters, rates, connections and weights.

Labels are node_exporter's IPVS collector's (local_address, local_port, remote_address,
remote_port, proto, local_mark), spelt as it spells them (proto TCP/UDP/SCTP/FWM, local_mark
the mark in 8 upper-case hex digits, local_port 0 and local_address empty for fwmark services),
so dashboards written for it carry over, plus `service`: the file's name for the service, else
its key as `plan` prints it (tcp/VIP:PORT, fwmark/MARK[/ipv6]).

Pure: the counters come from a callable (IpvsAdapter.counters in production), the file from
another; nothing here touches the kernel.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ipvsctl.errors import IpvsctlError
from ipvsctl.metrics.families import ColumnFamily, Labels
from ipvsctl.model import Cluster, ServiceCounters, ServiceKey

# How much of each real server is exported (--real-servers): at 110,000 real servers every
# per-real-server family adds about 17 MB to a scrape.
DETAIL = ("all", "state", "none")
SERVICE_LABELS = ("local_address", "local_port", "proto", "local_mark", "service")
REAL_SERVER_LABELS = ("local_address", "local_port", "remote_address", "remote_port", "proto",
                      "local_mark", "service")


class Kind(NamedTuple):
    suffix: str
    type: str
    help: str


# The kernel's counters and rate estimates, in its order (Stats, RealServerCounters[4:14]).
STATS_KINDS = (
    Kind("connections", "counter", "Connections scheduled"),
    Kind("incoming_packets", "counter", "Packets in, client to real server"),
    Kind("outgoing_packets", "counter", "Packets out, real server to client (0 with direct "
                                        "routing: replies bypass the director)"),
    Kind("incoming_bytes", "counter", "Bytes in, client to real server"),
    Kind("outgoing_bytes", "counter", "Bytes out, real server to client (0 with direct routing)"),
    Kind("connections_per_second", "gauge", "The kernel's estimate of connections per second"),
    Kind("incoming_packets_per_second", "gauge",
         "The kernel's estimate of incoming packets per second"),
    Kind("outgoing_packets_per_second", "gauge",
         "The kernel's estimate of outgoing packets per second"),
    Kind("incoming_bytes_per_second", "gauge",
         "The kernel's estimate of incoming bytes per second"),
    Kind("outgoing_bytes_per_second", "gauge",
         "The kernel's estimate of outgoing bytes per second"),
)
UP_HELP = "1 if the last scrape could read the IPVS table, else 0"
PROTO_LABEL = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "fwmark": "FWM"}


def service_label(key: ServiceKey, name: str | None) -> str:
    return name or str(key)


def service_label_values(key: ServiceKey) -> tuple[str, str, str, str]:
    """(local_address, local_port, proto, local_mark) as node_exporter spells them."""
    if key.is_fwmark:
        return "", "0", "FWM", f"{key.fwmark:08X}"
    return key.address, str(key.port), PROTO_LABEL.get(key.protocol, key.protocol.upper()), ""


class _Layout(NamedTuple):
    identity: tuple[object, ...]
    services: Labels
    real_servers: Labels


class _FileLayout(NamedTuple):
    cluster: Cluster
    real_servers: Labels
    weights: list[int]


class TableCollector:
    """A prometheus-client collector of the live table (and the file's weights, when given).

    `read` returns the table's counters (it may raise an IpvsctlError: the scrape then reports
    ipvsctl_table_up 0 and no table series); `cluster` returns the loaded file, or None.
    """

    def __init__(self, read: Callable[[], list[ServiceCounters]],
                 cluster: Callable[[], Cluster | None] = lambda: None,
                 real_servers: str = "all") -> None:
        if real_servers not in DETAIL:
            raise ValueError(f"real_servers must be one of {', '.join(DETAIL)}")
        self._read = read
        self._cluster = cluster
        self.real_servers = real_servers
        self._layout: _Layout | None = None
        self._file: _FileLayout | None = None
        self.last_error: str | None = None  # why the last read failed, if it did

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        try:
            counters = self._read()
        except IpvsctlError as exc:
            self.last_error = str(exc)
            yield _gauge("ipvsctl_table_up", UP_HELP, 0)
            return
        self.last_error = None
        took = time.monotonic() - started
        yield _gauge("ipvsctl_table_up", UP_HELP, 1)
        yield _gauge("ipvsctl_table_read_seconds",
                     "How long reading the table from the kernel took", took)
        yield from self.families(counters, self._cluster())

    def families(self, counters: list[ServiceCounters],
                 cluster: Cluster | None) -> Iterator[Metric]:
        names = _names(cluster)
        layout = self._layout_of(counters, names)
        services, real_servers = layout.services, layout.real_servers
        rows = [rs for svc in counters for rs in svc.real_servers]
        yield _gauge("ipvsctl_services", "Services in the kernel's table", len(counters))
        yield _gauge("ipvsctl_real_servers", "Real servers in the kernel's table", len(rows))
        stats: Sequence[Sequence[int]] = (list(zip(*(svc.stats for svc in counters),
                                                   strict=True)) or [()] * 10)
        for kind, column in zip(STATS_KINDS, stats, strict=True):
            yield ColumnFamily(f"ipvsctl_service_{kind.suffix}", kind.help, kind.type, services,
                               column)
        active, inactive = operator.itemgetter(2), operator.itemgetter(3)
        yield ColumnFamily("ipvsctl_service_connections_active",
                           "Active connections, summed over the service's real servers", "gauge",
                           services, [sum(map(active, svc.real_servers)) for svc in counters])
        yield ColumnFamily("ipvsctl_service_connections_inactive",
                           "Inactive connections, summed over the service's real servers",
                           "gauge", services,
                           [sum(map(inactive, svc.real_servers)) for svc in counters])
        yield ColumnFamily("ipvsctl_service_real_servers", "Real servers of the service in the "
                           "kernel's table", "gauge", services,
                           [len(svc.real_servers) for svc in counters])
        if self.real_servers == "none":
            return
        columns: Sequence[Sequence[int]] = list(zip(*rows, strict=True)) or [()] * 14
        yield ColumnFamily("ipvsctl_real_server_connections_active", "Active connections",
                           "gauge", real_servers, columns[2])
        yield ColumnFamily("ipvsctl_real_server_connections_inactive",
                           "Inactive connections (e.g. FIN_WAIT, TIME_WAIT)", "gauge",
                           real_servers, columns[3])
        yield ColumnFamily("ipvsctl_real_server_weight", "The weight in the kernel (0 while "
                           "drained or failed)", "gauge", real_servers, columns[1])
        if cluster is not None:
            yield self._file_weights(cluster)
        if self.real_servers == "state":
            return
        for kind, values in zip(STATS_KINDS, columns[4:14], strict=True):
            yield ColumnFamily(f"ipvsctl_real_server_{kind.suffix}", kind.help, kind.type,
                               real_servers, values)

    def _layout_of(self, counters: list[ServiceCounters],
                   names: dict[ServiceKey, str]) -> _Layout:
        key_of = operator.itemgetter(0)
        identity = tuple((svc.key, names.get(svc.key), *map(key_of, svc.real_servers))
                         for svc in counters)
        layout = self._layout
        if layout is not None and layout.identity == identity:
            return layout
        service_rows: list[tuple[str, ...]] = []
        rs_rows: list[tuple[str, ...]] = []
        for svc in counters:
            local_address, local_port, proto, local_mark = service_label_values(svc.key)
            label = service_label(svc.key, names.get(svc.key))
            service_rows.append((local_address, local_port, proto, local_mark, label))
            rs_rows += [(local_address, local_port, rs.key.address, str(rs.key.port), proto,
                         local_mark, label) for rs in svc.real_servers]
        layout = _Layout(identity, Labels(SERVICE_LABELS, service_rows),
                         Labels(REAL_SERVER_LABELS, rs_rows))
        self._layout = layout
        return layout

    def _file_weights(self, cluster: Cluster) -> ColumnFamily:
        layout = self._file
        if layout is None or layout.cluster is not cluster:
            rows, weights = [], []
            for key in sorted(cluster.services):
                svc = cluster.services[key]
                local_address, local_port, proto, local_mark = service_label_values(key)
                label = service_label(key, svc.name)
                for rs_key in sorted(svc.real_servers):
                    rs = svc.real_servers[rs_key]
                    rows.append((local_address, local_port, rs_key.address, str(rs_key.port),
                                 proto, local_mark, label))
                    weights.append(0 if rs.draining else rs.spec.weight)
            layout = self._file = _FileLayout(cluster, Labels(REAL_SERVER_LABELS, rows), weights)
        return ColumnFamily("ipvsctl_real_server_file_weight", "The weight the cluster file "
                            "gives (0 for a server it declares draining)", "gauge",
                            layout.real_servers, layout.weights)


def _names(cluster: Cluster | None) -> dict[ServiceKey, str]:
    if cluster is None:
        return {}
    return {key: svc.name for key, svc in cluster.services.items() if svc.name}


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
