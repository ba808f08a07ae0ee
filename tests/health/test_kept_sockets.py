"""Kept TCP check sockets (checkers/pool.py) against real listeners: a socket whose check
succeeded serves the next checks, leaves no TIME_WAIT, and a failure in between is seen as
a failure, never hidden by a socket kept from before."""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ipvsctl.health import CheckSpec, HttpCheck, Probe, TcpCheck
from ipvsctl.health.runner import Runner
from ipvsctl.health.target import CheckTarget
from ipvsctl.host.netns import run_in_netns
from tests.helpers import run

from .listeners import SERVER_IP, FirstAtOnce, Http, Listeners, Pair

pytestmark = pytest.mark.netns


def sockets() -> set[str]:
    """The socket inodes this process holds open."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            found.add(link)
    return found


def time_waits() -> int:
    """TCP sockets in TIME_WAIT in this thread's namespace."""
    with open("/proc/thread-self/net/tcp") as table:
        return sum(line.split()[3] == "06" for line in list(table)[1:])


@dataclass
class Seen:
    results: list[tuple[float, bool, str]] = field(default_factory=list)
    held: Counter[str] = field(default_factory=Counter)  # new sockets open at each report
    time_waits: int = 0

    @property
    def ok(self) -> int:
        return sum(ok for _, ok, _ in self.results)


def repeat(netns: str, spec: CheckSpec, port: int, seconds: float,
           at: dict[float, Callable[[], None]] | None = None) -> Seen:
    """Check one target for `seconds` in `netns`, running `at`'s actions at their times."""
    target = CheckTarget(spec, SERVER_IP, port)
    seen = Seen()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        before = sockets()  # the loop's own and the listeners'

        def report(t: CheckTarget, ok: bool, detail: str) -> None:
            seen.results.append((loop.time() - start, ok, detail))
            seen.held.update(sockets() - before)

        runner = Runner(loop, report, rng=FirstAtOnce())
        runner.update({target: Probe(target)})
        for when, action in sorted((at or {}).items()):
            await asyncio.sleep(max(0.0, start + when - loop.time()))
            action()
        await asyncio.sleep(max(0.0, start + seconds - loop.time()))
        seen.time_waits = time_waits()
        await runner.aclose()

    run_in_netns(netns, lambda: asyncio.run(main()))
    return seen


@pytest.mark.parametrize("spec", [TcpCheck(interval=0.05, timeout=1.0),
                                  HttpCheck(interval=0.05, timeout=1.0)], ids=["tcp", "http"])
def test_one_socket_serves_every_check(pair: Pair, servers: Listeners, spec: CheckSpec) -> None:
    if spec.type == "tcp":
        servers.tcp(pair.server, SERVER_IP, 80)
    else:
        servers.http(pair.server, SERVER_IP, 80, Http())
    seen = repeat(pair.director, spec, 80, 2.0)
    assert seen.ok == len(seen.results) >= 15, seen.results
    # A fresh socket per check is closed before its report: none would be held at all.
    assert max(seen.held.values(), default=0) >= seen.ok - 1, seen.held
    assert len(seen.held) <= 2, seen.held
    assert seen.time_waits == 0


def test_a_failure_after_kept_checks_is_seen(pair: Pair, servers: Listeners) -> None:
    """The listener goes away and comes back: refused in between, connected after."""
    box: dict[str, object] = {"sock": servers.tcp(pair.server, SERVER_IP, 80)}

    def stop() -> None:
        sock = box["sock"]
        assert hasattr(sock, "close")
        sock.close()

    def start() -> None:
        box["sock"] = servers.tcp(pair.server, SERVER_IP, 80)

    seen = repeat(pair.director, TcpCheck(interval=0.05, timeout=1.0), 80, 3.0,
                  {1.0: stop, 2.0: start})
    phases = [[(ok, d) for t, ok, d in seen.results if lo + 0.15 < t < hi]
              for lo, hi in ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0))]
    assert all(phases) and all(ok for ok, _ in phases[0] + phases[2]), phases
    assert all(not ok and d == "connection refused" for ok, d in phases[1]), phases[1]


def test_a_response_in_two_parts(pair: Pair, servers: Listeners) -> None:
    """A kept socket waits again after a partial read (the one-shot poller re-arms it)."""
    servers.http(pair.server, SERVER_IP, 80, Http(body=b"x" * 3000, pause=0.05))
    seen = repeat(pair.director, HttpCheck(interval=0.1, timeout=1.0, body="x{3000}"), 80, 1.5)
    assert seen.ok == len(seen.results) >= 6, seen.results
    assert max(seen.held.values(), default=0) >= seen.ok - 1, seen.held


def test_kept_sockets_keep_their_mark(pair: Pair, servers: Listeners) -> None:
    """Mark 7 is routed nowhere: its checks fail every time, so a mark-0 socket handed to
    one of them (a pool that ignored the mark) would show as a success."""
    run(["ip", "-n", pair.director, "rule", "add", "fwmark", "7", "prohibit"])
    for port in (80, 81):
        servers.tcp(pair.server, SERVER_IP, port)
    spec = TcpCheck(interval=0.05, timeout=1.0)
    plain, marked = CheckTarget(spec, SERVER_IP, 80), CheckTarget(spec, SERVER_IP, 81)
    seen: dict[CheckTarget, list[bool]] = {plain: [], marked: []}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: seen[t].append(ok),
                        rng=random.Random(3))  # noqa: S311
        runner.update({plain: Probe(plain), marked: Probe(marked, mark=7)})
        await asyncio.sleep(1.5)
        await runner.aclose()

    run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert len(seen[plain]) >= 10 and all(seen[plain]), seen
    assert len(seen[marked]) >= 10 and not any(seen[marked]), seen
