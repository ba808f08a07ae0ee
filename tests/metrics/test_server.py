"""/metrics over HTTP on the host: served, gzipped on request, bad and taken addresses refused
in one line before anything is served (no kernel needed: the table is plain data)."""

from __future__ import annotations

import gzip
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ipvsctl import model as m
from ipvsctl.errors import ConfigError, HostError
from ipvsctl.metrics.scrape import table_registry
from ipvsctl.metrics.server import MetricsServer, parse_listen
from tests.metrics.prometheus import prometheus

KEY = m.ServiceKey.vip("tcp", "192.0.2.10", 80)
ROWS = [m.ServiceCounters(KEY, (5,) * 10, [
    m.RealServerCounters(m.RealServerKey("192.0.2.21", 80), 2, 3, 4, *(7,) * 10)])]


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    registry, _ = table_registry(lambda: ROWS)
    srv = MetricsServer(registry, free_address())
    srv.start()
    yield srv
    srv.close()


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def get(srv: MetricsServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http, local)
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_metrics_are_served_plain_and_gzipped(server: MetricsServer) -> None:
    status, headers, body = get(server, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    (sample,) = families["ipvsctl_real_server_connections_active"].samples
    assert sample.value == 3 and sample.labels["remote_address"] == "192.0.2.21"
    status, headers, packed = get(server, "/metrics", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(packed) < len(body)
    unpacked = gzip.decompress(packed).decode()
    timing = "ipvsctl_table_read_seconds "
    assert ([ln for ln in unpacked.splitlines() if not ln.startswith(timing)]
            == [ln for ln in body.decode().splitlines() if not ln.startswith(timing)])
    assert get(server, "/nothing")[0] == 404
    assert get(server, "/")[2].startswith(b"ipvsctl: the metrics are at /metrics")


def test_a_taken_port_is_one_line_naming_the_address(server: MetricsServer) -> None:
    registry, _ = table_registry(lambda: ROWS)
    taken = f"127.0.0.1:{server.port}"
    with pytest.raises(HostError) as caught:
        MetricsServer(registry, taken)
    assert str(caught.value) == (f"--metrics {taken}: address already in use (is another "
                                 "exporter or ipvsctl listening there?)")


def test_an_address_this_host_does_not_have_is_refused() -> None:
    registry, _ = table_registry(lambda: ROWS)
    with pytest.raises(HostError, match="no interface of this host has that address"):
        MetricsServer(registry, "192.0.2.99:9595")


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9595", ("127.0.0.1", 9595)),
    ("[::1]:9595", ("::1", 9595)),
    ("[2001:db8:0::1]:80", ("2001:db8::1", 80)),
    (":9595", ("", 9595)),
])
def test_listen_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("9595", "expected ADDR:PORT"),
    ("127.0.0.1", "expected ADDR:PORT"),
    ("127.0.0.1:", "expected ADDR:PORT"),
    ("127.0.0.1:0", "port must be 1..65535"),
    ("127.0.0.1:65536", "port must be 1..65535"),
    ("127.0.0.1:99999999", "expected ADDR:PORT"),
    ("localhost:9595", "'localhost' is not an IP address"),
    ("::1:9595", "write an IPv6 address in brackets"),
    ("[127.0.0.1]:9595", "brackets are for IPv6 addresses only"),
    ("300.1.1.1:9595", "'300.1.1.1' is not an IP address"),
    ("127.0.0.1:-1", "expected ADDR:PORT"),
])
def test_bad_listen_addresses_are_one_line(text: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_listen(text)
    (line,) = caught.value.lines()
    assert line.startswith(f"--metrics {text!r}: ") and why in line


def test_a_real_prometheus_scrapes_the_server_and_answers_promql(tmp_path: Path) -> None:
    registry, _ = table_registry(lambda: ROWS)
    srv = MetricsServer(registry, free_address())
    srv.start()
    try:
        with prometheus(tmp_path / "prometheus", [f"127.0.0.1:{srv.port}"]) as prom:
            prom.wait_for('up{job="ipvsctl"}', 1)
            (sample,) = prom.wait_for(
                'ipvsctl_real_server_connections_active{remote_address="192.0.2.21"}', 3)
            assert sample["metric"]["service"] == "tcp/192.0.2.10:80"
            assert sample["metric"]["proto"] == "TCP"
            prom.wait_for("sum(ipvsctl_service_real_servers)", 1)
    finally:
        srv.close()
