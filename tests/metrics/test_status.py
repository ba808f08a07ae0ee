"""The status API on the host: verdicts and the screen on plain documents; the root-only socket
between a server holding a document and `ipvsctl status` (no daemon, no kernel needed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import DaemonUnreachable, HostError, StatusCode
from ipvsctl.metrics.status import select, status_lines, verdict
from ipvsctl.metrics.status_socket import StatusServer, ask, socket_path

NOW = 1_800_000_000.0


def real_server(address: str, state: str, kernel: int | None, file: int,
                result: str = "") -> dict[str, Any]:
    return {"address": address, "port": 80, "state": state, "since": NOW - 90, "result": result,
            "kernel_weight": kernel, "file_weight": file, "active": 3, "inactive": 10}


def document() -> dict[str, Any]:
    return {
        "version": 1,
        "daemon": {"pid": 4242, "started_at": NOW - 7300, "uptime_seconds": 7300,
                   "file": "/etc/ipvsctl/cluster.yaml", "netns": None,
                   "ipvsctl_version": "0.1.0"},
        "reload": {"last_at": NOW - 600, "last_ok": True, "last_error": None,
                   "last_good_at": NOW - 600},
        "repair": {"last_at": NOW - 30, "changes": 1},
        "services": [
            {"name": "http", "key": "tcp/10.10.0.100:80", "servers": 2, "up": 2, "pooled": 2,
             "min_healthy": 1, "real_servers": [
                 real_server("10.10.0.11", "up", 1, 1, "http 200 in 2 ms"),
                 real_server("10.10.0.12", "up", 2, 2, "http 200 in 3 ms")]},
            {"name": None, "key": "udp/10.10.0.100:53", "servers": 1, "up": 1, "pooled": 1,
             "min_healthy": 1, "real_servers": [
                 real_server("10.10.0.11", "unchecked", 1, 1)]},
        ],
    }


def degraded() -> dict[str, Any]:
    doc = document()
    http = doc["services"][0]
    http["up"] = 1
    http["pooled"] = 1
    http["real_servers"][1].update(state="down", kernel_weight=0,
                                   result="connect: connection refused")
    return doc


def critical() -> dict[str, Any]:
    doc = degraded()
    http = doc["services"][0]
    http["up"] = http["pooled"] = 0
    http["real_servers"][0].update(state="down", kernel_weight=0, result="timed out")
    return doc


def test_the_verdict_follows_the_worst_service_and_the_last_reload() -> None:
    assert verdict(document()) is StatusCode.HEALTHY
    assert verdict(degraded()) is StatusCode.DEGRADED
    assert verdict(critical()) is StatusCode.CRITICAL
    failed = document()
    failed["reload"].update(last_ok=False, last_error="cluster.yaml:3:9: services[0].port: "
                                                      "must be 1..65535")
    assert verdict(failed) is StatusCode.DEGRADED
    drained = document()  # every real server declared draining: nothing meant to serve
    drained["services"][0].update(servers=0, up=0, pooled=0)
    assert verdict(drained) is StatusCode.HEALTHY


def test_the_screen_names_every_service_and_real_server() -> None:
    lines = status_lines(degraded(), now=NOW)
    assert lines[0] == ("ipvsctl run, pid 4242, up 2h01m, /etc/ipvsctl/cluster.yaml, namespace "
                        "(this one): DEGRADED")
    assert lines[2].endswith("(30s ago, 1 change)")
    http = next(ln for ln in lines if ln.startswith("http tcp/10.10.0.100:80"))
    assert http.split()[-3:] == ["1/2", "1", "degraded"]
    down = next(ln for ln in lines if "10.10.0.12:80" in ln)
    assert down.split()[2:6] == ["down", "since", "90s", "ago"]
    assert "weight 0/2" in down and down.endswith("connect: connection refused")
    failed = document()
    failed["reload"].update(last_ok=False, last_at=NOW - 5, last_error="bad file")
    assert status_lines(failed, now=NOW)[1] == (
        "  last reload FAILED 5s ago (bad file); running the file loaded 10m ago")


KEEPS_UP = {"targets": 100000, "in_flight": 12, "lag_seconds": 0.04, "started": 5_000_000,
            "succeeded": 4_999_000, "failed": 1000, "timed_out": 20, "overrun": 0,
            "capped": 0, "late": 0, "stalled_seconds": 0.0}
LINE = "  checks: 100000 targets, 12 in flight, lag {} s; skipped {} (still running) {} (capped), "


@pytest.mark.parametrize(("changed", "line"), [
    ({}, LINE.format("0.0", 0, 0) + "0 late"),
    ({"lag_seconds": 1.0}, LINE.format("1.0", 0, 0) + "0 late"),  # 1 s: still in time
    ({"lag_seconds": 2.46, "late": 900}, LINE.format("2.5", 0, 0) + "900 late: the checker is "
     "NOT keeping its rate"),
    ({"overrun": 3}, LINE.format("0.0", 3, 0) + "0 late: the checker has not always kept its "
     "rate"),
    ({"capped": 2}, LINE.format("0.0", 0, 2) + "0 late: the checker has not always kept its "
     "rate"),
    ({"late": 1}, LINE.format("0.0", 0, 0) + "1 late: the checker has not always kept its "
     "rate"),
])
def test_the_checker_line_says_when_it_does_not_keep_its_rate(changed: dict[str, Any],
                                                               line: str) -> None:
    doc = document()
    before = status_lines(doc, now=NOW)  # no checker: no line
    doc["checker"] = {**KEEPS_UP, **changed}
    after = status_lines(doc, now=NOW)
    assert after[3] == line  # below the last repair
    assert after[:3] + after[4:] == before  # one line more, the others as they were


def test_one_service_is_selected_by_name_or_key() -> None:
    assert [s["key"] for s in select(document(), "http")["services"]] == ["tcp/10.10.0.100:80"]
    assert [s["key"] for s in select(document(), "udp/10.10.0.100:53")["services"]] == [
        "udp/10.10.0.100:53"]
    assert verdict(select(degraded(), "udp/10.10.0.100:53")) is StatusCode.HEALTHY


# ---- the socket ------------------------------------------------------------------------------

@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(path))
    return path


class Daemon:
    """A status server holding a document, as `ipvsctl run` will."""

    def __init__(self, netns: str | None = None) -> None:
        self.doc = document()
        self.requests: list[dict[str, Any]] = []
        self.server = StatusServer(socket_path(netns), self.answer)
        self.server.start()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return select(self.doc, request.get("service"))


@pytest.fixture
def daemon(run_dir: Path) -> Iterator[Daemon]:
    d = Daemon()
    yield d
    d.server.close()


def test_the_socket_is_root_only_and_answers_the_document(daemon: Daemon) -> None:
    path = socket_path(None)
    assert oct(os.lstat(path).st_mode & 0o777) == "0o600"
    assert ask(None) == daemon.doc
    assert [s["name"] for s in ask(None, {"service": "http"})["services"]] == ["http"]
    assert daemon.requests == [{}, {"service": "http"}]


@pytest.mark.parametrize(("make", "code"), [
    (document, StatusCode.HEALTHY), (degraded, StatusCode.DEGRADED),
    (critical, StatusCode.CRITICAL)])
def test_status_exits_as_a_monitoring_check_expects(daemon: Daemon, make: Any,
                                                    code: StatusCode) -> None:
    daemon.doc = make()
    res = CliRunner().invoke(app, ["status"])
    assert res.exit_code == code, res.output
    assert res.stdout.splitlines()[0].endswith(code.name)
    res = CliRunner().invoke(app, ["status", "--json"])
    assert res.exit_code == code and json.loads(res.stdout) == daemon.doc


def test_status_of_one_service_judges_that_service(daemon: Daemon) -> None:
    daemon.doc = critical()
    res = CliRunner().invoke(app, ["status", "--service", "udp/10.10.0.100:53", "--json"])
    assert res.exit_code == StatusCode.HEALTHY
    assert [s["key"] for s in json.loads(res.stdout)["services"]] == ["udp/10.10.0.100:53"]
    res = CliRunner().invoke(app, ["status", "--service", "nope"])
    assert res.exit_code == StatusCode.UNKNOWN
    assert res.stderr.splitlines() == ["ipvsctl: --service 'nope': the running file has no "
                                       "such service (it has: http, udp/10.10.0.100:53)"]


def test_no_daemon_is_one_line_and_exit_3(run_dir: Path) -> None:
    res = CliRunner().invoke(app, ["status", "--netns", "blue"])
    assert res.exit_code == StatusCode.UNKNOWN and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"ipvsctl: no ipvsctl run is answering for namespace blue (no {run_dir}/"
        "status.blue.sock)"]


def test_a_socket_left_by_a_dead_daemon_is_reported_then_replaced(run_dir: Path) -> None:
    path = socket_path(None)
    run_dir.mkdir()
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # bound, never listening: what a kill -9 leaves
    with pytest.raises(DaemonUnreachable, match="left from one that stopped"):
        ask(None)
    d = Daemon()
    try:
        assert ask(None)["daemon"]["pid"] == 4242
    finally:
        d.server.close()
    assert not path.exists()


def test_a_second_daemon_or_a_foreign_file_is_refused_not_replaced(daemon: Daemon,
                                                                   run_dir: Path) -> None:
    with pytest.raises(HostError, match="another ipvsctl run answers there"):
        StatusServer(socket_path(None), daemon.answer)
    foreign = socket_path("red")
    foreign.write_text("not a socket")
    with pytest.raises(HostError, match="not a socket root made"):
        StatusServer(foreign, daemon.answer)
    with pytest.raises(DaemonUnreachable, match="is not a socket root made"):
        ask("red")
    assert foreign.read_text() == "not a socket"
    link = socket_path("green")
    link.symlink_to(socket_path(None))  # a link to a good socket is still not followed
    with pytest.raises(DaemonUnreachable, match="is not a socket root made"):
        ask("green")


def test_only_root_is_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory(prefix="ipvsctl-status-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 (pytest's tmp_path is closed to other users)
        monkeypatch.setenv("IPVSCTL_RUN_DIR", tmp)
        d = Daemon()
        try:
            path = socket_path(None)
            os.chmod(path, 0o666)  # noqa: S103 (let an unprivileged process reach it)
            # The daemon refuses before it reads: the request may meet a closed socket.
            probe = ("import contextlib, socket, sys; s = socket.socket(socket.AF_UNIX); "
                     "s.connect(sys.argv[1])\nwith contextlib.suppress(BrokenPipeError): "
                     "s.sendall(b'{}\\n')\nprint(s.recv(65536).decode())")
            done = subprocess.run([sys.executable, "-c", probe, str(path)], user=65534,
                                  capture_output=True, text=True, timeout=30, check=False)
        finally:
            d.server.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"error": "the status API answers root only"}
    assert d.requests == []


def test_a_refusal_or_a_garbled_answer_is_one_line_and_exit_3(run_dir: Path) -> None:
    d = Daemon()
    d.server._answer = lambda request: {"error": "the table is being loaded"}
    try:
        res = CliRunner().invoke(app, ["status"])
        assert (res.exit_code, res.stderr) == (StatusCode.UNKNOWN,
                                               "ipvsctl: the table is being loaded\n")
    finally:
        d.server.close()
    path = socket_path(None)
    raw = socket.socket(socket.AF_UNIX)
    raw.bind(str(path))
    raw.listen(1)

    def garble() -> None:
        conn, _ = raw.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"<html>not json</html>")

    thread = threading.Thread(target=garble)
    thread.start()
    try:
        res = CliRunner().invoke(app, ["status"])
    finally:
        thread.join(timeout=10)
        raw.close()
    assert res.exit_code == StatusCode.UNKNOWN and "Traceback" not in res.output
    assert res.stderr == f"ipvsctl: the answer from {path} is not JSON\n"
