"""The director at work: `ipvsctl run` owns the lab's director while one real server's listener
stops and comes back.

The daemon is the real program (`python -m ipvsctl run FILE --netns DIRECTOR`), started as
systemd would start it, on the very file the lab applied. The lab watches from outside: it
reads the kernel's table itself, as `ipvsadm -Sn` would, and a client keeps sending requests,
one new connection each, so the report says when the server was taken out, whether any
request after that was lost, and when it was back in.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ipvsctl.health.spec import CheckSpec, NoCheck
from ipvsctl.lab.report import Failover, Tally
from ipvsctl.lab.servers import LabServers
from ipvsctl.lab.topology import Topology
from ipvsctl.lab.traffic import Answer, http_get
from ipvsctl.model import Cluster, RealServerKey, ServiceKey

TICK = 0.05  # seconds between reads of the kernel's weight
READY_WITHIN = 120.0  # the daemon's start-up: seconds of Python under emulation
SETTLE_WITHIN = 30.0  # its first verdicts, past rise x interval
REQUEST_TIMEOUT = 1.0  # a request unanswered this long counts as lost
AFTER = 6  # requests at least, in each stretch that is judged
LOGGED = ("transition", "apply", "pooled", "error", "invalid", "repair")


@dataclass(frozen=True, slots=True)
class Victim:
    service: ServiceKey
    server: RealServerKey
    weight: int
    spec: CheckSpec


def choose_victim(cluster: Cluster) -> Victim | str:
    """The real server whose listener the lab stops: in the first TCP service with a check,
    the checked one with the largest weight (the most traffic to lose). A string says why
    there is none."""
    for key in sorted(cluster.services):
        service, rules = cluster.services[key], cluster.health.get(key)
        if key.protocol != "tcp" or rules is None:
            continue
        serving = [rs for rs in service.real_servers.values()
                   if rs.spec.weight > 0 and not rs.draining]
        checked = [rs for rs in serving if not isinstance(rules.check_of(rs.key), NoCheck)]
        if not checked:
            continue
        if len(serving) - 1 < max(1, rules.min_healthy.needed(len(serving))):
            return (f"{key}: min_healthy {rules.min_healthy.describe()} of {len(serving)} "
                    "keeps a failed real server pooled; the lab needs one it can take out")
        rs = max(checked, key=lambda r: (r.spec.weight, r.key))
        return Victim(key, rs.key, rs.spec.weight, rules.check_of(rs.key))
    return ("no TCP service has a check (`check: {type: tcp}` or http under the service or "
            "`defaults`)")


class _Client(threading.Thread):
    """Requests to the service back to back, each on a new connection, each time-stamped."""

    def __init__(self, netns: str, key: ServiceKey) -> None:
        super().__init__(name="lab-failover-client", daemon=True)
        self.netns, self.key = netns, key
        self.done: list[tuple[float, Answer]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.monotonic()
            answer = http_get(self.netns, self.key.address, self.key.port,
                              timeout=REQUEST_TIMEOUT)
            self.done.append((started, answer))
            self.halt.wait(TICK)

    def since(self, start: float, end: float = float("inf")) -> Tally:
        tally = Tally()
        for at, answer in list(self.done):
            if start <= at < end:
                tally.sent += 1
                if answer.server is None:
                    tally.lost += 1
                else:
                    tally.hits[answer.server] = tally.hits.get(answer.server, 0) + 1
        return tally


class _Daemon:
    """`ipvsctl run FILE --netns NS --log-format json`, its event lines read back."""

    def __init__(self, path: str, netns: str) -> None:
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix="ipvsctl-lab-run-")  # noqa: SIM115 (closed in close())
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ipvsctl", "run", path, "--netns", netns,
             "--log-format", "json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)

    def events(self) -> list[dict[str, Any]]:
        self._log.seek(0)
        out = []
        for line in self._log.read().decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    out.append(event)
        return out

    def tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def wait_for(self, match: Callable[[dict[str, Any]], bool], within: float,
                 what: str) -> None:
        deadline = time.monotonic() + within
        while not any(match(e) for e in self.events()):
            if self.proc.poll() is not None:
                raise _Failed(f"exited {self.proc.returncode} before {what}: {self.tail()}")
            if time.monotonic() > deadline:
                raise _Failed(f"no {what} within {within:g} s: {self.tail()}")
            time.sleep(TICK)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class _Failed(Exception):
    pass


def _up(address: str) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return (event.get("event") == "transition" and event.get("state") == "up"
                and address in str(event.get("target")))
    return match


def _weight(adapter: Any, victim: Victim) -> int | None:
    service = adapter.observe(only=frozenset({victim.service})).services.get(victim.service)
    rs = None if service is None else service.real_servers.get(victim.server)
    return None if rs is None else int(rs.spec.weight)


def _wait_weight(adapter: Any, victim: Victim, weight: int, within: float) -> float | None:
    """Seconds until the kernel holds `weight` for the victim; None: not within `within`."""
    started = time.monotonic()
    while _weight(adapter, victim) != weight:
        if time.monotonic() - started > within:
            return None
        time.sleep(TICK)
    return time.monotonic() - started


def _at_least(client: _Client, start: float, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while client.since(start).sent < count and time.monotonic() < deadline:
        time.sleep(TICK)


def failover(cluster: Cluster, victim: Victim, topo: Topology, servers: LabServers,
             say: Callable[[str], None]) -> Failover:
    """Run it: never raises for what the daemon or the kernel did (that is in the report)."""
    from ipvsctl.ipvs import IpvsAdapter

    spec = victim.spec
    report = Failover(str(victim.service), victim.server.address, victim.weight,
                      spec.describe(), spec.interval, spec.timeout, spec.rise, spec.fall)
    node = topo.real_servers[victim.server.address]
    # Generous waits: a slow machine shows as a figure past its bound, not as a hang.
    out_within = report.out_bound + 30
    back_within = report.back_bound + 30
    daemon = _Daemon(str(cluster.path), topo.director.netns)
    report.pid = daemon.proc.pid
    client = _Client(topo.clients[0].netns, victim.service)
    try:
        with IpvsAdapter(topo.director.netns) as adapter:
            say(f"  ipvsctl run {cluster.path} --netns {topo.director.netns} (pid "
                f"{daemon.proc.pid})")
            daemon.wait_for(lambda e: e.get("event") == "ready", READY_WITHIN, "ready line")
            report.ready_s = time.monotonic() - daemon.started
            for rs_key in cluster.services[victim.service].real_servers:
                if isinstance(cluster.health[victim.service].check_of(rs_key), NoCheck):
                    continue
                daemon.wait_for(_up(rs_key.address), spec.rise * spec.interval + SETTLE_WITHIN,
                                f"{rs_key.address} up")
            client.start()
            _at_least(client, 0.0, 2, 5)
            say(f"  stopping {victim.server.address}'s listener on {victim.service}")
            stopped = time.monotonic()
            if not servers.stop_http(victim.server.address, victim.server.port):
                raise _Failed(f"no listener of {victim.server.address} to stop")
            report.out_s = _wait_weight(adapter, victim, 0, out_within)
            if report.out_s is None:
                raise _Failed(f"{victim.server.address} never reached weight 0 within "
                              f"{out_within:g} s")
            out = stopped + report.out_s
            say(f"  weight 0 after {report.out_s:.2f} s; sending requests while it is out")
            _at_least(client, out, AFTER, 10)
            restarted = time.monotonic()
            servers.start_http(node.netns, victim.service.address, victim.server.port,
                               victim.server.address, freebind=True)
            say(f"  listener back; waiting for weight {victim.weight}")
            report.back_s = _wait_weight(adapter, victim, victim.weight, back_within)
            if report.back_s is None:
                raise _Failed(f"{victim.server.address} never got weight {victim.weight} "
                              f"back within {back_within:g} s")
            back = restarted + report.back_s
            _at_least(client, back, AFTER, 10)
            client.halt.set()
            client.join(2 * REQUEST_TIMEOUT + 1)
            report.before = client.since(stopped, out)
            # while out: until the listener is back (from then on the weight can return
            # before the 50 ms poll sees it, and a request may rightly reach the server)
            report.after = client.since(out, restarted)
            report.back = client.since(back)
            report.exit_code = daemon.stop()
            report.weight_after_stop = _weight(adapter, victim)
    except _Failed as exc:
        report.error = str(exc)
    finally:
        client.halt.set()
        report.log = [f"{e.get('event')}: {e.get('message')}" for e in daemon.events()
                      if e.get("event") in LOGGED]
        daemon.close()
    return report
