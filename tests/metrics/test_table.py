"""The table's metric families on plain data: names, labels, values, and the exposition.

The fast exposition (%-templates shared by the families of one layout) is read back with
prometheus-client's parser and compared with prometheus-client's own generate_latest of the same
families; promtool (Debian's prometheus package) lints the output.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from ipvsctl import model as m
from ipvsctl.config import loads
from ipvsctl.errors import KernelError
from ipvsctl.metrics.exposition import exposition
from ipvsctl.metrics.families import CHUNK, ColumnFamily, Labels
from ipvsctl.metrics.scrape import table_registry
from ipvsctl.metrics.table import REAL_SERVER_LABELS, TableCollector

PROMTOOL = Path("/usr/bin/promtool")
WEB = m.ServiceKey.vip("tcp", "192.0.2.10", 80)
DNS6 = m.ServiceKey.vip("udp", "2001:db8::10", 53)
SIG = m.ServiceKey.vip("sctp", "192.0.2.12", 3868)
MARK4, MARK6 = m.ServiceKey.mark(7, 4), m.ServiceKey.mark(7, 6)  # one mark, two families


def rs(address: str, port: int, weight: int, base: int) -> m.RealServerCounters:
    return m.RealServerCounters(m.RealServerKey.of(address, port), weight, base, base + 1,
                                *range(base * 10, base * 10 + 10))


def table() -> list[m.ServiceCounters]:
    big = 1 << 40  # past 2**32 and past what %g-style formatting keeps exact
    return [
        m.ServiceCounters(WEB, (big + 1, 2, 0, 4, 0, 6, 7, 8, 9, 10),
                          [rs("192.0.2.21", 80, 1, 1), rs("192.0.2.22", 80, 0, 2)]),
        m.ServiceCounters(DNS6, (1,) * 10, [rs("2001:db8::21", 53, 5, 3)]),
        m.ServiceCounters(SIG, (0,) * 10, []),
        m.ServiceCounters(MARK4, (3,) * 10, [rs("192.0.2.31", 0, 2, 4)]),
        m.ServiceCounters(MARK6, (4,) * 10, [rs("2001:db8::31", 0, 2, 5)]),
    ]


CLUSTER = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    real_servers:
      - {address: 192.0.2.21, weight: 3}
      - {address: 192.0.2.23, weight: 2}
      - {address: 192.0.2.22, weight: 4, state: draining}
"""


def parsed(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """family name -> {sorted labels: value}, failing on a duplicate series."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        series = [(s.name, tuple(sorted(s.labels.items()))) for s in family.samples]
        dupes = [k for k, n in Counter(series).items() if n > 1]
        assert not dupes, f"duplicate series in {family.name}: {dupes[:3]}"
        out[family.name + ":" + family.type] = {
            (("__name__", s.name), *sorted(s.labels.items())): s.value for s in family.samples}
    return out


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_fast_exposition_reads_back_as_prometheus_clients_own() -> None:
    registry, _ = table_registry(table, lambda: loads(CLUSTER, "cluster.yaml"))
    fast = exposition(registry).decode()
    slow = generate_latest(registry).decode()  # every sample through Metric.samples
    assert fast != slow  # integers stay integers on the fast path (no 1.099511627777e+12)
    timing = "ipvsctl_table_read_seconds:gauge"  # the one value that differs between scrapes
    assert parsed(fast).keys() == parsed(slow).keys()
    assert {k: v for k, v in parsed(fast).items() if k != timing} == {
        k: v for k, v in parsed(slow).items() if k != timing}
    assert "ipvsctl_service_connections_total{" in fast
    assert f"{(1 << 40) + 1}\n" in fast  # the 64-bit counter, exact


def test_labels_follow_node_exporter_and_name_the_service() -> None:
    registry, _ = table_registry(table, lambda: loads(CLUSTER, "cluster.yaml"))
    families = parsed(exposition(registry).decode())
    active = families["ipvsctl_real_server_connections_active:gauge"]
    key = (("__name__", "ipvsctl_real_server_connections_active"), ("local_address", ""),
           ("local_mark", "00000007"), ("local_port", "0"), ("proto", "FWM"),
           ("remote_address", "2001:db8::31"), ("remote_port", "0"),
           ("service", "fwmark/7/ipv6"))
    assert active[key] == 5
    web = {dict(k)["remote_address"]: v for k, v in active.items()
           if dict(k)["service"] == "web"}
    assert web == {"192.0.2.21": 1, "192.0.2.22": 2}
    protos = {dict(k)["proto"] for k in families["ipvsctl_service_connections:counter"]}
    assert protos == {"TCP", "UDP", "SCTP", "FWM"}


def test_file_weights_come_from_the_file_and_kernel_weights_from_the_kernel() -> None:
    registry, _ = table_registry(table, lambda: loads(CLUSTER, "cluster.yaml"))
    families = parsed(exposition(registry).decode())

    def by_server(name: str) -> dict[str, float]:
        return {dict(k)["remote_address"]: v for k, v in families[name].items()
                if dict(k)["service"] == "web"}

    assert by_server("ipvsctl_real_server_weight:gauge") == {"192.0.2.21": 1, "192.0.2.22": 0}
    # .23 is in the file only (not in the kernel); .22 is declared draining: desired 0.
    assert by_server("ipvsctl_real_server_file_weight:gauge") == {
        "192.0.2.21": 3, "192.0.2.22": 0, "192.0.2.23": 2}


@pytest.mark.parametrize(("detail", "per_server"), [
    ("all", 14), ("state", 4), ("none", 0)])
def test_real_server_series_can_be_left_out(detail: str, per_server: int) -> None:
    registry, _ = table_registry(table, lambda: loads(CLUSTER, "cluster.yaml"), detail)
    families = parsed(exposition(registry).decode())
    names = [n for n in families if n.startswith("ipvsctl_real_server_")]
    assert len(names) == per_server
    assert len([n for n in families if n.startswith("ipvsctl_service_")]) == 13


def test_an_unreadable_table_is_a_zero_up_gauge_not_an_error() -> None:
    def broken() -> list[m.ServiceCounters]:
        raise KernelError("IPVS is not available: the ip_vs kernel module is not loaded")

    registry, collector = table_registry(broken)
    families = parsed(exposition(registry).decode())
    assert families["ipvsctl_table_up:gauge"] == {(("__name__", "ipvsctl_table_up"),): 0}
    assert not [n for n in families if n.startswith("ipvsctl_service_")]
    assert collector.last_error is not None and "ip_vs" in collector.last_error


def test_the_layout_is_kept_until_the_table_changes_shape() -> None:
    state = table()
    collector = TableCollector(lambda: state)
    list(collector.collect())
    first = collector._layout
    state[0].real_servers[0] = state[0].real_servers[0]._replace(active=99)  # values only
    list(collector.collect())
    assert collector._layout is first
    state[0].real_servers.pop()
    list(collector.collect())
    assert collector._layout is not first


def test_label_values_are_escaped_and_percent_signs_survive_the_template() -> None:
    labels = Labels(("service",), [('a"b\\c\nd%s%%',), ("plain",)])
    family = ColumnFamily("x_thing", "A thing", "gauge", labels, [1, 2])
    text = family.text()
    (back,) = text_string_to_metric_families(text)
    assert [(s.labels["service"], s.value) for s in back.samples] == [
        ('a"b\\c\nd%s%%', 1), ("plain", 2)]
    assert family.samples == back.samples


def test_promtool_accepts_the_output_and_would_refuse_a_bad_one() -> None:
    registry, _ = table_registry(table, lambda: loads(CLUSTER, "cluster.yaml"))
    done = promtool(exposition(registry).decode())
    assert done.returncode == 0, done.stdout + done.stderr
    bad = promtool("# HELP x_bytes Bytes\n# TYPE x_bytes counter\nx_bytes 1\n")
    assert bad.returncode != 0 and "_total" in bad.stdout + bad.stderr


def test_an_empty_table_still_exports_every_family_header() -> None:
    registry = CollectorRegistry()
    registry.register(TableCollector(list))
    text = exposition(registry).decode()
    assert "# TYPE ipvsctl_real_server_connections_total counter" in text
    assert promtool(text).returncode == 0
    assert REAL_SERVER_LABELS[:2] == ("local_address", "local_port")


def test_a_family_longer_than_one_chunk_reads_back_whole() -> None:
    n = 2 * CHUNK + 5
    labels = Labels(("remote_address",), [(f"10.0.{i >> 8}.{i & 255}",) for i in range(n)])
    family = ColumnFamily("x_conns", "Connections", "counter", labels, list(range(n)))
    assert len(labels.templates) == 3
    (back,) = text_string_to_metric_families(family.text())
    assert [s.value for s in back.samples] == list(range(n))
    assert back.samples[CHUNK].labels == {"remote_address": labels.rows[CHUNK][0]}
