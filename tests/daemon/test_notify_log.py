"""sd_notify by hand over a real datagram socket, and one log line per event."""

from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

from ipvsctl.daemon.log import EventLog
from ipvsctl.daemon.notify import Notifier, watchdog_interval


def test_notify_sends_datagrams_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.active
        assert notifier.send(READY="1", STATUS="checking 3 real servers\nin 1 service")
        assert systemd.recv(4096) == b"READY=1\nSTATUS=checking 3 real servers in 1 service"
        notifier.close()


def test_notify_abstract_socket() -> None:
    name = f"ipvsctl-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(b"\0" + name.encode())
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.send(WATCHDOG="1")
        assert systemd.recv(64) == b"WATCHDOG=1"


def test_without_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.active and not notifier.send(READY="1")


def test_a_vanished_systemd_is_not_fatal(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.send(READY="1") is False


def test_watchdog_interval() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "10000000",
                              "WATCHDOG_PID": str(os.getpid())}) == 5.0
    assert watchdog_interval({}) is None


def test_log_lines() -> None:
    out = io.StringIO()
    EventLog("text", out).event("transition", "tcp 10.0.0.11:80: up -> down")
    EventLog("text", out).event("invalid", "cluster.yaml:3:9: bad", level="error")
    assert out.getvalue().splitlines() == [
        "ipvsctl run: transition: tcp 10.0.0.11:80: up -> down",
        "ipvsctl run: error: invalid: cluster.yaml:3:9: bad"]
    out = io.StringIO()
    EventLog("json", out).event("repair", "weight 0 -> 5", service="tcp/192.0.2.10:80")
    record = json.loads(out.getvalue())
    assert record["event"] == "repair" and record["service"] == "tcp/192.0.2.10:80"
    assert record["level"] == "info" and record["time"] > 0


def test_notify_never_blocks_when_systemd_lags(tmp_path: Path) -> None:
    """A reader that does not keep up fills the datagram queue; the sender drops, not waits."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as reader:
        reader.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        started = time.monotonic()
        sent = [notifier.send(WATCHDOG="1") for _ in range(1000)]
        assert time.monotonic() - started < 5
        assert sent[0] and not sent[-1]  # the queue filled, and later pings were dropped
        notifier.close()
