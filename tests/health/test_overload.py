"""The runner under overload, against real listeners in namespaces: a loop that cannot keep
the rate sheds rate, never correctness. A check's timeout measures the check, not time it
spent waiting for a busy loop; every started check completes; the runner says how late it is."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from ipvsctl.health import HttpCheck, Probe, TcpCheck
from ipvsctl.health.runner import START_SLACK, Counters, Runner
from ipvsctl.health.target import CheckTarget
from ipvsctl.host.netns import run_in_netns

from .listeners import (
    NOBODY_IP,
    SERVER_IP,
    FirstAtOnce,
    Http,
    Listeners,
    Pair,
)

pytestmark = pytest.mark.netns


def http_targets(n: int, interval: float, timeout: float) -> list[CheckTarget]:
    return [CheckTarget(HttpCheck(interval=interval, timeout=timeout, path=f"/{i}"),
                        SERVER_IP, 80) for i in range(n)]


def test_a_stalled_loop_is_not_charged_to_the_checks(pair: Pair, servers: Listeners) -> None:
    """The loop blocks for twice the timeout right after the checks connected: their
    requests go out late, the server answers at once, and every check succeeds (before:
    all 20 reported as timed out while the server had answered nothing yet)."""
    servers.http(pair.server, SERVER_IP, 80, Http())
    targets = http_targets(20, interval=5.0, timeout=0.5)
    results: list[tuple[bool, str]] = []

    async def main() -> tuple[Counters, float]:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: results.append((ok, d)), rng=FirstAtOnce())
        runner.update({t: Probe(t) for t in targets})
        loop.call_later(0.003, time.sleep, 1.0)  # a loop busy elsewhere (the GIL is free)
        until = loop.time() + 10
        while len(results) < len(targets) and loop.time() < until:
            await asyncio.sleep(0.05)
        lag = runner.lag()
        runner.close()
        return runner.counters, lag

    counters, lag = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert results == [(True, "HTTP 200")] * 20, results
    assert counters.timed_out == 0 and counters.stalled >= 0.9, counters
    assert lag == 0.0  # nothing due: interval 5 s


def test_a_loop_that_cannot_keep_the_rate_sheds_rate_not_checks(
        pair: Pair, servers: Listeners) -> None:
    """40 http checks every 0.5 s want 80 a second; every result costs the loop 30 ms (a
    slow consumer), so it can take 33 at most. The achieved rate falls, the runner reports
    how late it is, and the checks it starts still complete: none times out (before: most of
    them did, their requests sent only after their deadline)."""
    servers.http(pair.server, SERVER_IP, 80, Http())
    targets = http_targets(40, interval=0.5, timeout=1.0)
    results: list[bool] = []

    def slow_report(target: CheckTarget, ok: bool, detail: str) -> None:
        results.append(ok)
        time.sleep(0.03)

    async def main() -> tuple[Counters, float]:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, slow_report, rng=FirstAtOnce())
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(3.0)
        lag = runner.lag()
        runner.close()
        return runner.counters, lag

    counters, lag = run_in_netns(pair.director, lambda: asyncio.run(main()))
    wanted = 3.0 / 0.5 * len(targets)  # 240 at the full rate
    assert counters.timed_out == 0 and counters.failed == 0, counters
    assert 30 <= counters.succeeded < 0.8 * wanted, counters  # the rate fell; checks completed
    assert counters.late > 0, counters
    print(f"achieved {counters.succeeded / 3.0:.0f} of {wanted / 3.0:.0f} checks/s, "
          f"lag {lag:.2f} s, stalled {counters.stalled:.2f} s, {counters}")


def test_a_loop_late_all_the_time_still_times_a_hung_target_out(pair: Pair) -> None:
    """The loop is blocked 50 ms of every 60: nearly all of its time is stalled time, yet a
    target that never answers is reported at three times its timeout at the latest."""
    target = CheckTarget(HttpCheck(interval=5.0, timeout=0.3), NOBODY_IP, 80)
    seen: list[tuple[float, bool, str]] = []

    async def main() -> tuple[float, Counters]:
        loop = asyncio.get_running_loop()

        def hog() -> None:
            time.sleep(0.05)
            loop.call_later(0.01, hog)

        runner = Runner(loop, lambda t, ok, d: seen.append((loop.time(), ok, d)),
                        rng=FirstAtOnce())
        start = loop.time()
        runner.update({target: Probe(target)})
        hog()
        while not seen and loop.time() < start + 10:
            await asyncio.sleep(0.01)
        runner.close()
        return start, runner.counters

    start, counters = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert seen and seen[0][1:] == (False, "timed out after 0.3s connecting"), seen
    took = seen[0][0] - start
    assert took <= 3 * 0.3 + 0.5, took  # the hard bound, and a loaded machine's margin
    assert counters.stalled > 0.3, counters


def test_a_check_answered_within_connect_is_collected_by_the_tick_that_started_it(
        pair: Pair, servers: Listeners) -> None:
    """Over a veth the kernel completes the handshake inside connect(): the tick that starts
    20 tcp checks also collects them. Before, each batch cost a second wake-up a tick later,
    which at a low check rate was a third of a check's CPU."""
    targets = [CheckTarget(TcpCheck(interval=5.0, timeout=1.0), SERVER_IP, 80 + i)
               for i in range(20)]
    for target in targets:
        servers.tcp(pair.server, SERVER_IP, target.port)
    results: list[tuple[bool, str]] = []

    async def main() -> int:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: results.append((ok, d)), rng=FirstAtOnce())
        ticks = 0
        tick = runner._tick

        def counted() -> None:
            nonlocal ticks
            if len(results) < len(targets):
                ticks += 1
            tick()

        runner._tick = counted  # type: ignore[method-assign]
        runner.update({t: Probe(t) for t in targets})
        until = loop.time() + 10
        while len(results) < len(targets) and loop.time() < until:
            await asyncio.sleep(0.05)
        runner.close()
        return ticks

    ticks = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert results == [(True, "connected")] * 20, results
    assert ticks == 1, ticks


def test_at_a_low_rate_one_wake_up_starts_several_checks(
        pair: Pair, servers: Listeners) -> None:
    """100 tcp checks a second, jittered: a tick starts what is due within START_SLACK too,
    so the runner wakes far less often than once per check (before: about once per check,
    and each wake-up cost as much as the check itself; then 0.25 with 30 ms of slack)."""
    servers.tcp(pair.server, SERVER_IP, 80)
    targets = [CheckTarget(TcpCheck(interval=1.0, timeout=1.0, fall=1 + i), SERVER_IP, 80)
               for i in range(100)]
    results: list[bool] = []

    async def main() -> int:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: results.append(ok), rng=random.Random(7))  # noqa: S311
        ticks = 0
        tick = runner._tick

        def counted() -> None:
            nonlocal ticks
            ticks += 1
            tick()

        runner._tick = counted  # type: ignore[method-assign]
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(2.0)
        runner.close()
        return ticks

    ticks = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert len(results) >= 150 and all(results), (len(results), results.count(False))
    print(f"{ticks} wake-ups for {len(results)} checks")
    assert ticks <= 0.15 * len(results), (ticks, len(results))  # 0.09 now


def test_a_batch_of_http_checks_costs_its_start_and_one_collecting_wake_up(
        pair: Pair, servers: Listeners) -> None:
    """100 http checks a second: their answers come after connect(), so a tick collects each
    batch. Only a tick at which a check is due starts checks; before, each collecting tick
    also started the few that had just come within the slack, whose answers needed one more
    tick, and so on: 0.28 wake-ups per check (0.22 of them starting) instead of 0.18 (0.09)."""
    servers.http(pair.server, SERVER_IP, 80, Http())
    targets = http_targets(100, interval=1.0, timeout=1.0)
    results: list[bool] = []

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: results.append(ok), rng=random.Random(7))  # noqa: S311
        ticks = starting = 0
        tick = runner._tick

        def counted() -> None:
            nonlocal ticks, starting
            before = runner.counters.started
            tick()
            ticks += 1
            starting += runner.counters.started > before

        runner._tick = counted  # type: ignore[method-assign]
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(3.0)
        runner.close()
        return ticks, starting

    ticks, starting = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert len(results) >= 250 and all(results), (len(results), results.count(False))
    print(f"{ticks} wake-ups ({starting} starting checks) for {len(results)} checks")
    assert starting <= 0.13 * len(results), (starting, len(results))
    assert ticks <= 0.26 * len(results), (ticks, len(results))


def test_the_start_slack_is_a_quarter_of_the_shortest_interval_at_most() -> None:
    """A check starts at most START_SLACK early, and never more than a quarter of its interval:
    a 0.1 s check is not started a whole interval early."""
    loop = asyncio.new_event_loop()
    try:
        runner = Runner(loop, lambda t, ok, d: None)
        slow = CheckTarget(TcpCheck(interval=2.0, timeout=1.0), SERVER_IP, 80)
        fast = CheckTarget(TcpCheck(interval=0.1, timeout=0.05), SERVER_IP, 81)
        runner.update({slow: Probe(slow)})
        assert runner._slack == START_SLACK == 0.1
        runner.update({slow: Probe(slow), fast: Probe(fast)})
        assert runner._slack == 0.025
        runner.update({slow: Probe(slow)})
        assert runner._slack == 0.1
        runner.close()
    finally:
        loop.close()
