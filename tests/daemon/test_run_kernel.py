"""`ipvsctl run` end to end: the real program, a real kernel, real listeners on real servers in
namespaces (the lab's topology), `ipvsadm` as the oracle. Short intervals keep it cheap under
emulation; the bounds asserted are the ones docs/health.md promises, plus the slack the issue
allows (1 s) and what polling `ipvsadm` costs in the VM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ipvsctl.config import load
from ipvsctl.daemon.view import REUSE as SNAPSHOT_REUSE
from ipvsctl.errors import StatusCode
from ipvsctl.host.netns import run_in_netns
from ipvsctl.lab import topology as topo_mod
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.metrics.exporter import READ_REUSE
from ipvsctl.realserver.workflow import setup
from tests.helpers import ipvsadm_save
from tests.helpers import run_in_netns as run_in_netns_cmd
from tests.metrics.prometheus import free_port, prometheus
from tests.metrics.test_table import promtool

pytestmark = pytest.mark.kernel
VIP = "10.20.0.100"
SERVERS = ("10.20.0.11", "10.20.0.12", "10.20.0.13")
INTERVAL, TIMEOUT, RISE, FALL, RECONCILE = 1.0, 0.5, 2, 2, 3.0
FILE = f"""\
director:
  reconcile_interval: {RECONCILE:g}
services:
  - name: web
    vip: {VIP}
    port: 80
    check: {{type: tcp, interval: {INTERVAL:g}, timeout: {TIMEOUT:g}, rise: {RISE}, fall: {FALL}}}
    min_healthy: 2
    real_servers:
      - {{address: {SERVERS[0]}, weight: 3}}
      - {{address: {SERVERS[1]}, weight: 3}}
      - {{address: {SERVERS[2]}, weight: 3}}
"""
SLOW = 3.0  # the VM's share: one ipvsadm poll, the daemon's tick and a plan, emulated


class Listeners:
    """A TCP listener on :80 per real server, stopped and started at will."""

    def __init__(self, topo: topo_mod.Topology) -> None:
        self.topo = topo
        self.socks: dict[str, socket.socket] = {}

    def start(self, address: str) -> None:
        def make() -> socket.socket:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", 80))  # noqa: S104 (inside a throwaway namespace)
            sock.listen(64)
            return sock

        sock = self.socks[address] = run_in_netns(self.topo.real_servers[address].netns, make)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    @staticmethod
    def _serve(sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self, address: str) -> None:
        sock = self.socks.pop(address)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def close(self) -> None:
        for address in list(self.socks):
            self.stop(address)


class Daemon:
    """`ipvsctl run` as systemd would start it; its JSON event lines parsed."""

    def __init__(self, path: Path, netns: str, log: Path) -> None:
        self.path, self.netns, self.log = path, netns, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.args: list[str] = []  # more options, e.g. --metrics
        # systemd's side of sd_notify: a datagram socket named in NOTIFY_SOCKET.
        self.notify_path = path.with_name("notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.told: list[str] = []
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                self.told.append(self.notify.recv(4096).decode())
            except OSError:
                return

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify_path),
               "WATCHDOG_USEC": "2000000"}  # a ping a second
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ipvsctl", "run", str(self.path), "--netns", self.netns,
                 "--log-format", "json", *self.args], stdout=subprocess.DEVNULL, stderr=err,
                env=env)
        self.wait_for(lambda e: e["event"] == "ready", 60, "ready")

    def events(self) -> list[dict[str, Any]]:
        with self.log.open("rb") as f:
            f.seek(self.offset)
            lines = f.read().decode().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_for(self, match: Callable[[dict[str, Any]], bool], within: float,
                 what: str) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.events():
                if match(event):
                    return event
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {within}s:\n{self.log.read_text()}")

    def notified(self) -> list[str]:
        return list(self.told)

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[
        topo_mod.Topology, Listeners, Daemon]]:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    path = tmp_path / "cluster.yaml"
    path.write_text(FILE)
    topo = topo_mod.describe(plan_addresses(load(path), 1), "dr")
    listeners = Listeners(topo)
    daemon = Daemon(path, topo.director.netns, tmp_path / "run.log")
    try:
        topo_mod.build(topo)
        for address, node in topo.real_servers.items():
            setup([VIP], netns=node.netns)  # the DR path the default `via: vip` checks take
            listeners.start(address)
        yield topo, listeners, daemon
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)
        listeners.close()
        daemon.notify.close()
        topo_mod.teardown(topo)


def rewrite(path: Path, text: str) -> None:
    """Replace the file as editors and config management do: a new file renamed over it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def weights(netns: str) -> dict[str, int]:
    """Each real server's weight in the web service, from `ipvsadm -Sn`."""
    out = {}
    for line in ipvsadm_save(netns):
        parts = line.split()
        if parts[:3] == ["-a", "-t", f"{VIP}:80"]:
            out[parts[4].rsplit(":", 1)[0]] = int(parts[parts.index("-w") + 1])
    return out


def wait_weights(netns: str, want: dict[str, int], within: float) -> float:
    started = time.monotonic()
    while True:
        now = weights(netns)
        if all(now.get(a) == w for a, w in want.items()):
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"weights {now}, wanted {want} within {within:.1f}s")
        time.sleep(0.1)


def connects(topo: topo_mod.Topology, count: int) -> int:
    """New TCP connections from the client to VIP:80 that a real server accepted."""
    def attempt() -> bool:
        try:
            with socket.create_connection((VIP, 80), timeout=2) as sock:
                sock.settimeout(2)
                return sock.recv(1) == b""  # accepted, then closed by the listener
        except OSError:
            return False

    return sum(run_in_netns(topo.clients[0].netns, attempt) for _ in range(count))


def all_up(topo: topo_mod.Topology, daemon: Daemon) -> None:
    """Every server pooled at its file weight once its checks pass."""
    wait_weights(topo.director.netns, dict.fromkeys(SERVERS, 3), 30)
    for address in SERVERS:
        daemon.wait_for(lambda e, a=address: e["event"] == "transition"
                        and e["state"] == "up" and a in e["target"], 30, f"{address} up")


def test_failed_listener_drains_within_the_bound_and_comes_back(lab: Any) -> None:
    topo, listeners, daemon = lab
    director = topo.director.netns
    daemon.start()
    all_up(topo, daemon)
    # systemd hears READY with the first STATUS, then STATUS on each change and the pings.
    time.sleep(1.5)
    told = daemon.notified()
    assert told[0].startswith("READY=1\nSTATUS=1 services, 3 checks"), told
    assert "WATCHDOG=1" in told and any("3 up, 0 down" in m for m in told), told
    out = FALL * INTERVAL + TIMEOUT + 1 + SLOW
    before = len(daemon.events())
    listeners.stop(SERVERS[0])
    took = wait_weights(director, {SERVERS[0]: 0, SERVERS[1]: 3, SERVERS[2]: 3}, out)
    assert took <= out
    # One health change is one write: exactly one change, an in-place weight edit.
    applied = [e["message"] for e in daemon.events()[before:] if e["event"] == "apply"]
    assert applied == [f"edit real server {SERVERS[0]}:80 in tcp/{VIP}:80 in place: "
                       "weight 3 -> 0"], applied
    # New connections no longer reach it: every one succeeds (its listener would refuse).
    assert connects(topo, 6) == 6
    # min_healthy 2 of 3: a second failure leaves it pooled, and the log says so.
    listeners.stop(SERVERS[1])
    note = daemon.wait_for(lambda e: e["event"] == "pooled", out + 2, "min_healthy note")
    assert SERVERS[1] in note["message"] and "min_healthy 2" in note["message"], note
    assert weights(director) == {SERVERS[0]: 0, SERVERS[1]: 3, SERVERS[2]: 3}
    listeners.start(SERVERS[0])
    listeners.start(SERVERS[1])
    took = wait_weights(director, dict.fromkeys(SERVERS, 3), RISE * INTERVAL + SLOW)
    assert took <= RISE * INTERVAL + SLOW
    assert daemon.stop() == 0
    assert weights(director) == dict.fromkeys(SERVERS, 3)  # SIGTERM leaves the table
    assert daemon.events()[-1]["event"] == "stop"


def test_edits_bad_edits_and_sighup(lab: Any) -> None:
    topo, _, daemon = lab
    director = topo.director.netns
    daemon.start()
    all_up(topo, daemon)
    before = len(daemon.events())
    rewrite(daemon.path, FILE.replace(f"{{address: {SERVERS[2]}, weight: 3}}",
                                      f"{{address: {SERVERS[2]}, weight: 5}}"))
    wait_weights(director, {SERVERS[2]: 5}, 2 + SLOW)
    reload = daemon.wait_for(lambda e: e["event"] == "reload", 5, "reload")
    assert "1 change(s)" in reload["message"], reload
    applied = [e for e in daemon.events()[before:] if e["event"] == "apply"]
    assert [e["message"] for e in applied] == [
        f"edit real server {SERVERS[2]}:80 in tcp/{VIP}:80 in place: weight 3 -> 5"], applied
    table = ipvsadm_save(director)
    rewrite(daemon.path, FILE.replace("weight: 3}", "weight: 70000}", 1))
    bad = daemon.wait_for(lambda e: e["event"] == "invalid", 2 + SLOW, "invalid")
    assert bad["message"].startswith(f"{daemon.path}:10:"), bad  # file:line:col
    assert "weight" in bad["message"]
    time.sleep(1)
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert ipvsadm_save(director) == table
    daemon.send(signal.SIGHUP)
    again = daemon.wait_for(lambda e: e["event"] == "invalid" and e.get("trigger") == "SIGHUP",
                            5, "SIGHUP reload")
    assert again["level"] == "error"
    assert ipvsadm_save(director) == table
    assert daemon.stop() == 0


def test_restart_repair_and_one_writer(lab: Any, tmp_path: Path) -> None:
    topo, _, daemon = lab
    director = topo.director.netns
    daemon.start()
    all_up(topo, daemon)
    assert daemon.proc is not None
    # One writer: apply is refused, naming the running daemon.
    refused = subprocess.run(
        [sys.executable, "-m", "ipvsctl", "apply", str(daemon.path), "--netns", director],
        capture_output=True, text=True, check=False)
    assert refused.returncode == 3, refused
    assert f"ipvsctl run {daemon.path}" in refused.stderr
    assert f"pid {daemon.proc.pid}" in refused.stderr
    # An out-of-band edit is put back within the reconcile interval, and logged.
    run_in_netns_cmd(director, ["ipvsadm", "-e", "-t", f"{VIP}:80", "-r", f"{SERVERS[1]}:80",
                                "-g", "-w", "9"])
    # The repair may come before a poll could see the 9: its log line proves the kernel had it.
    wait_weights(director, {SERVERS[1]: 3}, RECONCILE + SLOW)
    repair = daemon.wait_for(lambda e: e["event"] == "repair", 2, "repair")
    assert SERVERS[1] in repair["message"] and "weight 9 -> 3" in repair["message"], repair
    # kill -9, then a restart: the kernel is exactly as it was, before and after.
    table = ipvsadm_save(director)
    daemon.stop(signal.SIGKILL)
    assert ipvsadm_save(director) == table
    daemon.start()
    time.sleep(FALL * INTERVAL + RISE * INTERVAL)  # every check has decided by now
    assert ipvsadm_save(director) == table
    assert not [e for e in daemon.events() if e["event"] in ("apply", "repair")]
    assert daemon.stop() == 0


def test_saves_in_place_edits_of_many_lines_and_a_linked_file(lab: Any, tmp_path: Path
                                                             ) -> None:
    """inotify sees an in-place save at once and a one-weight edit is read as such; an edit
    of two lines reads the whole file; a file behind a symlink (whose target inotify on the
    link's folder cannot see) is still picked up by the poll."""
    topo, _, daemon = lab
    director = topo.director.netns
    daemon.start()
    all_up(topo, daemon)

    def reload_after(since: float) -> dict[str, Any]:
        return daemon.wait_for(lambda e: e["event"] == "reload" and e["time"] >= since,
                               2 + SLOW, "reload")

    def line(address: str, weight: int) -> str:
        return f"{{address: {address}, weight: {weight}}}"

    since = time.time()
    text = FILE.replace(line(SERVERS[0], 3), line(SERVERS[0], 4))
    with daemon.path.open("w") as f:  # an editor that writes in place
        f.write(text)
    wait_weights(director, {SERVERS[0]: 4}, 2 + SLOW)
    reload = reload_after(since)
    assert reload["read"] == "weight" and "1 change(s)" in reload["message"], reload
    since = time.time()
    text = text.replace(line(SERVERS[1], 3), line(SERVERS[1], 6)).replace(
        line(SERVERS[2], 3), line(SERVERS[2], 6))
    rewrite(daemon.path, text)
    wait_weights(director, {SERVERS[1]: 6, SERVERS[2]: 6}, 2 + SLOW)
    reload = reload_after(since)
    assert reload["read"] == "file" and "2 change(s)" in reload["message"], reload
    assert daemon.stop() == 0
    real = tmp_path / "config" / "cluster.yaml"
    real.parent.mkdir()
    real.write_text(text)
    daemon.path.unlink()
    daemon.path.symlink_to(real)
    daemon.start()
    since = time.time()
    with real.open("w") as f:
        f.write(text.replace(line(SERVERS[0], 4), line(SERVERS[0], 5)))
    wait_weights(director, {SERVERS[0]: 5}, 2 + SLOW)
    assert reload_after(since)["read"] == "weight"
    assert daemon.stop() == 0



def samples(text: str, name: str) -> dict[str, float]:
    """remote_address (or service, for per-service families) -> value, in the web service
    only (the via: vip check paths are fwmark services of their own)."""
    return {s.labels.get("remote_address", s.labels.get("service", "")): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name and s.labels.get("service", "web") == "web"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        return str(reply.read().decode())


def status(netns: str) -> tuple[int, dict[str, str]]:
    """`ipvsctl status --json`'s exit code and each web real server's state."""
    res = subprocess.run([sys.executable, "-m", "ipvsctl", "status", "--netns", netns,
                          "--json"], capture_output=True, text=True, check=False)
    assert res.stdout, res
    doc = json.loads(res.stdout)
    web = next(s for s in doc["services"] if s["name"] == "web")
    return res.returncode, {r["address"]: r["state"] for r in web["real_servers"]}


def test_a_stopped_listener_shows_down_in_metrics_status_and_prometheus(
        lab: Any, tmp_path: Path) -> None:
    topo, listeners, daemon = lab
    director = topo.director.netns
    port = free_port()
    daemon.args = ["--metrics", f"127.0.0.1:{port}"]
    # Prometheus starts first: under emulation it takes longer to be ready than run does.
    with prometheus(tmp_path / "prometheus", [f"127.0.0.1:{port}"], "2s") as prom:
        daemon.start()
        all_up(topo, daemon)
        # A scrape of Prometheus's own may have taken a snapshot just before the last server
        # came up; one serves the scrapes of the next SNAPSHOT_REUSE seconds (daemon/view.py).
        time.sleep(SNAPSHOT_REUSE + 0.1)
        text = scrape(port)
        assert samples(text, "ipvsctl_real_server_up") == dict.fromkeys(SERVERS, 1)
        assert promtool(text).returncode == 0, promtool(text).stdout
        assert status(director) == (StatusCode.HEALTHY, dict.fromkeys(SERVERS, "up"))
        prom.wait_for('sum(ipvsctl_service_servers_up{service="web"})', 3)

        listeners.stop(SERVERS[0])
        wait_weights(director, {SERVERS[0]: 0}, FALL * INTERVAL + TIMEOUT + 1 + SLOW)
        time.sleep(READ_REUSE + 0.1)  # a table read a scrape made before the write expires
        text = scrape(port)
        assert samples(text, "ipvsctl_real_server_up") == {
            SERVERS[0]: 0, SERVERS[1]: 1, SERVERS[2]: 1}
        assert samples(text, "ipvsctl_service_servers_pooled") == {"web": 2}
        assert samples(text, "ipvsctl_real_server_weight")[SERVERS[0]] == 0
        assert samples(text, "ipvsctl_applies_total") != {}
        assert promtool(text).returncode == 0, promtool(text).stdout
        code, states = status(director)
        assert code == StatusCode.DEGRADED
        assert states == {SERVERS[0]: "down", SERVERS[1]: "up", SERVERS[2]: "up"}
        prom.wait_for('sum(ipvsctl_service_servers_up{service="web"})', 2)
        prom.wait_for(f'ipvsctl_real_server_up{{remote_address="{SERVERS[0]}"}}', 0)

        listeners.start(SERVERS[0])
        wait_weights(director, {SERVERS[0]: 3}, RISE * INTERVAL + SLOW)
        time.sleep(1)  # past the moment a snapshot serves (daemon/view.py)
        assert status(director) == (StatusCode.HEALTHY, dict.fromkeys(SERVERS, "up"))
        assert samples(scrape(port), "ipvsctl_real_server_up") == dict.fromkeys(SERVERS, 1)
        prom.wait_for('sum(ipvsctl_service_servers_up{service="web"})', 3)
    assert daemon.stop() == 0
