"""What a daemon feeds in and what /metrics and `ipvsctl status` then say (host, no kernel).

The daemon side is a DaemonView holding plain data (the table as IpvsAdapter.counters returns
it, health as the checker reports it); everything after it is the real thing: the Exporter's
HTTP server and status socket, `ipvsctl status`, promtool, and a real Prometheus server.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from ipvsctl import model as m
from ipvsctl.cli import app
from ipvsctl.config import loads
from ipvsctl.errors import HostError, KernelError, StatusCode
from ipvsctl.metrics.events import DaemonMetrics
from ipvsctl.metrics.exporter import Exporter, daemon_registry
from ipvsctl.metrics.exposition import exposition
from ipvsctl.metrics.provider import (
    CheckerFacts,
    DaemonFacts,
    HealthKey,
    ReloadFacts,
    ServerHealth,
)
from ipvsctl.metrics.status import document, summarise
from ipvsctl.metrics.status_socket import socket_path
from tests.metrics.prometheus import prometheus
from tests.metrics.test_table import promtool

NOW = 1_800_000_000.0
# The runner of a daemon that kept up but for a few rounds (each figure distinct).
CHECKER = CheckerFacts(targets=3, in_flight=2, lag_seconds=0.0123, started=1200,
                       succeeded=1150, failed=45, timed_out=30, overrun=4, capped=7, late=11,
                       stalled_seconds=1.5)
WEB = m.ServiceKey.vip("tcp", "192.0.2.10", 80)
A, B, C, D = (m.RealServerKey(f"192.0.2.{i}", 80) for i in (21, 22, 23, 24))
CLUSTER = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    real_servers:
      - {address: 192.0.2.21, weight: 3}
      - {address: 192.0.2.22, weight: 2}
      - {address: 192.0.2.23}
      - {address: 192.0.2.24, state: draining}
"""


def rs(key: m.RealServerKey, weight: int, active: int = 0) -> m.RealServerCounters:
    return m.RealServerCounters(key, weight, active, 0, *(0,) * 10)


class View:
    """A daemon's view as plain data: A and B up and pooled, C not in the kernel, D draining."""

    def __init__(self) -> None:
        self.loaded = loads(CLUSTER, "cluster.yaml")
        self.table = [m.ServiceCounters(WEB, (0,) * 10, [rs(A, 3, 5), rs(B, 2), rs(D, 0)])]
        self.states: dict[HealthKey, ServerHealth] = {
            (WEB, A): ServerHealth("up", NOW - 60, "http 200 in 2 ms", "http", NOW - 1),
            (WEB, B): ServerHealth("up", NOW - 60, "http 200 in 3 ms", "http", NOW - 1)}
        self.broken = False

    def facts(self) -> DaemonFacts:
        return DaemonFacts(4242, NOW - 3600, "/etc/ipvsctl/cluster.yaml", None,
                           ReloadFacts(NOW - 600, True, None, NOW - 600), checker=CHECKER)

    def cluster(self) -> m.Cluster | None:
        return self.loaded

    def counters(self) -> list[m.ServiceCounters]:
        if self.broken:
            raise KernelError("IPVS is not available: the ip_vs kernel module is not loaded")
        return self.table

    def health(self) -> Mapping[HealthKey, ServerHealth]:
        return self.states

    def min_healthy(self, service: m.ServiceKey) -> int:
        return 1

    def take_down(self, key: m.RealServerKey) -> None:
        """What the daemon does when a server fails: health down, then weight 0 applied."""
        self.states[(WEB, key)] = ServerHealth("down", NOW, "connect: connection refused",
                                               "http", NOW - 1)
        (svc,) = self.table
        self.table = [svc._replace(real_servers=[
            r._replace(weight=0) if r.key == key else r for r in svc.real_servers])]


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def samples(text: str, name: str) -> dict[str, float]:
    """remote_address (or service) -> value of one family's samples."""
    return {s.labels.get("remote_address", s.labels.get("service", "")): s.value
            for f in text_string_to_metric_families(text) for s in f.samples if s.name == name}


def test_summarise_counts_as_the_status_document_says() -> None:
    view = View()
    (svc,) = summarise(view.loaded, view.table, view.states)
    assert [(r.key.address, r.state) for r in svc.real_servers] == [
        ("192.0.2.21", "up"), ("192.0.2.22", "up"), ("192.0.2.23", "absent"),
        ("192.0.2.24", "draining")]
    assert (svc.servers, svc.up, svc.pooled) == (3, 2, 2)
    del view.states[(WEB, B)]  # no verdict yet
    (svc,) = summarise(view.loaded, view.table, view.states)
    assert svc.real_servers[1].state == "unknown" and svc.up == 1


def test_the_document_carries_the_daemon_the_file_and_the_kernel() -> None:
    doc = document(View(), now=NOW)
    assert doc["daemon"]["pid"] == 4242 and doc["daemon"]["uptime_seconds"] == 3600
    assert doc["reload"]["last_ok"] is True and doc["repair"] == {"last_at": None, "changes": 0}
    (web,) = doc["services"]
    assert (web["name"], web["key"], web["min_healthy"]) == ("web", "tcp/192.0.2.10:80", 1)
    first = web["real_servers"][0]
    assert first == {"address": "192.0.2.21", "port": 80, "state": "up", "since": NOW - 60,
                     "result": "http 200 in 2 ms", "check": "http", "last_success_at": NOW - 1,
                     "file_weight": 3, "kernel_weight": 3, "active": 5, "inactive": 0}
    assert doc["checker"] == {"targets": 3, "in_flight": 2, "lag_seconds": 0.012,
                              "started": 1200, "succeeded": 1150, "failed": 45,
                              "timed_out": 30, "overrun": 4, "capped": 7, "late": 11,
                              "stalled_seconds": 1.5}
    absent = web["real_servers"][2]
    assert (absent["state"], absent["kernel_weight"], absent["file_weight"]) == ("absent",
                                                                                 None, 1)
    json.dumps(doc)  # the socket sends it as JSON


def full_exposition() -> tuple[str, DaemonMetrics]:
    """A daemon's exposition with every family holding samples (each event reported)."""
    registry, events, _ = daemon_registry(View())
    events.check(WEB, "web", "http", True, 0.002)
    events.check(WEB, "web", "http", False, 3.0)
    events.transition(WEB, "web", B, "http", "down")
    events.kept_by_min_healthy(WEB, "web", 1)
    events.applied("health", True, [("edit", "real-server")], 0.004)
    events.applied("drift", True, [("add", "real-server"), ("edit", "service")], 0.01)
    events.reloaded(True, NOW - 600)
    events.reloaded(False, NOW)
    return exposition(registry).decode(), events


def test_the_daemon_exposition_passes_promtool_with_every_event_family() -> None:
    text, events = full_exposition()
    done = promtool(text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert samples(text, "ipvsctl_drift_repairs_total") == {"": 1}
    assert samples(text, "ipvsctl_health_check_targets") == {"": 3}
    assert samples(text, "ipvsctl_health_checks_in_flight") == {"": 2}
    assert samples(text, "ipvsctl_health_checker_lag_seconds") == {"": 0.0123}
    assert samples(text, "ipvsctl_health_checks_late_total") == {"": 11}
    assert samples(text, "ipvsctl_health_checker_stalled_seconds_total") == {"": 1.5}
    skipped = {s.labels["reason"]: s.value for f in text_string_to_metric_families(text)
               for s in f.samples if s.name == "ipvsctl_health_check_rounds_skipped_total"}
    assert skipped == {"overrun": 4, "capped": 7}
    assert samples(text, "ipvsctl_health_check_duration_seconds_count") == {"web": 2}
    assert samples(text, "ipvsctl_health_transitions_total") == {"192.0.2.22": 1}
    assert samples(text, "ipvsctl_config_reloads_total") == {"": 1}  # one per result label
    assert samples(text, "ipvsctl_config_last_reload_successful") == {"": 0}
    assert samples(text, "ipvsctl_config_last_reload_success_timestamp_seconds") == {
        "": NOW - 600}
    changes = {(s.labels["action"], s.labels["subject"]): s.value
               for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "ipvsctl_changes_total"}
    assert changes == {("edit", "real-server"): 1, ("add", "real-server"): 1,
                       ("edit", "service"): 1}
    assert "_created" not in text
    with pytest.raises(ValueError, match="cause must be one of"):
        events.applied("whim", True, [], 0.0)


def test_health_series_follow_real_servers_detail() -> None:
    for detail, present in (("all", 3), ("state", 1), ("none", 0)):
        registry, _, _ = daemon_registry(View(), detail)
        text = exposition(registry).decode()
        names = {f.name for f in text_string_to_metric_families(text)
                 if f.name.startswith("ipvsctl_real_server_") and f.name.endswith(
                     ("_up", "_state_since_timestamp_seconds", "_last_success_timestamp_seconds"))}
        assert len(names) == present, (detail, names)
        assert samples(text, "ipvsctl_service_servers_up") == {"web": 2}


def test_an_unreadable_table_keeps_health_and_says_table_up_0() -> None:
    view = View()
    view.broken = True
    registry, _, _ = daemon_registry(view)
    text = exposition(registry).decode()
    assert samples(text, "ipvsctl_table_up") == {"": 0}
    assert samples(text, "ipvsctl_service_servers_pooled") == {"web": 0}
    assert promtool(text).returncode == 0


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(path))
    return path


@pytest.fixture
def exporter(run_dir: Path) -> Iterator[tuple[Exporter, View]]:
    view = View()
    exp = Exporter(view, None, free_address())
    exp.start()
    yield exp, view
    exp.close()


def scrape(exp: Exporter) -> str:
    assert exp.metrics is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{exp.metrics.port}/metrics",
                                timeout=10) as reply:
        return str(reply.read().decode())


def test_a_server_taken_down_shows_in_metrics_status_and_prometheus(
        exporter: tuple[Exporter, View], tmp_path: Path) -> None:
    exp, view = exporter
    assert exp.metrics is not None
    with prometheus(tmp_path / "prometheus", [f"127.0.0.1:{exp.metrics.port}"]) as prom:
        prom.wait_for('sum(ipvsctl_service_servers_up{service="web"})', 2)
        res = CliRunner().invoke(app, ["status"])
        assert res.exit_code == StatusCode.DEGRADED, res.output  # .23 is absent from the kernel
        view.table[0].real_servers.append(rs(C, 1))  # the daemon added it, then checked it
        view.states[(WEB, C)] = ServerHealth("up", NOW, "http 200 in 2 ms", "http", NOW)
        res = CliRunner().invoke(app, ["status"])
        assert res.exit_code == StatusCode.HEALTHY, res.output

        view.take_down(B)
        prom.wait_for('sum(ipvsctl_service_servers_up{service="web"})', 2)  # A and C
        prom.wait_for('ipvsctl_real_server_up{remote_address="192.0.2.22"}', 0)
        prom.wait_for('sum(ipvsctl_service_servers_pooled{service="web"})', 2)
    text = scrape(exp)
    assert samples(text, "ipvsctl_real_server_up") == {"192.0.2.21": 1, "192.0.2.22": 0,
                                                       "192.0.2.23": 1}
    res = CliRunner().invoke(app, ["status"])
    assert res.exit_code == StatusCode.DEGRADED, res.output
    down = next(ln for ln in res.stdout.splitlines() if "192.0.2.22:80" in ln)
    assert " down " in down and "weight 0/2" in down
    assert down.endswith("connect: connection refused")
    res = CliRunner().invoke(app, ["status", "--json", "--service", "web"])
    states = {r["address"]: r["state"] for r in json.loads(res.stdout)["services"][0][
        "real_servers"]}
    assert states == {"192.0.2.21": "up", "192.0.2.22": "down", "192.0.2.23": "up",
                      "192.0.2.24": "draining"}


def test_a_taken_port_leaves_no_status_socket_and_a_second_daemon_frees_its_port(
        exporter: tuple[Exporter, View]) -> None:
    exp, view = exporter
    assert exp.metrics is not None
    with pytest.raises(HostError, match="address already in use"):
        Exporter(view, "blue", f"127.0.0.1:{exp.metrics.port}")
    assert not socket_path("blue").exists()
    listen = free_address()
    with pytest.raises(HostError, match="another ipvsctl run answers there"):
        Exporter(view, None, listen)
    with socket.socket() as s:  # the refused exporter closed the port it had bound
        s.bind(("127.0.0.1", int(listen.rsplit(":", 1)[1])))
