"""CPU per wake-up of an idle loop: asyncio's, uvloop's (when importable), a bare epoll, sleep.

    python bench/wakeups.py [--period 0.01] [--count 300] [--rounds 2] [--json FILE]

The check runner (ipvsctl/health/runner.py) wakes the asyncio loop on a timer. Under the test
bed's emulation one wake-up costs about as much CPU as a tcp check, so this prints what a
wake-up costs in this process, user and system time from getrusage, for each kind of loop:
the floor (a bare `epoll.poll(period)` or `time.sleep(period)` in a Python loop) and what a
loop library adds to it. uvloop is not a dependency; put it on PYTHONPATH to compare it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _per(before: tuple[float, float], count: int) -> dict[str, float]:
    user, system = _usage()
    return {"user_ms": round(1e3 * (user - before[0]) / count, 4),
            "system_ms": round(1e3 * (system - before[1]) / count, 4)}


def loop_timer(new_loop: Callable[[], asyncio.AbstractEventLoop], period: float,
               count: int) -> dict[str, float]:
    """A chain of call_at timers, one per period, as the runner's tick is."""
    loop = new_loop()
    try:
        done = loop.create_future()
        left = [count]

        def tick() -> None:
            left[0] -= 1
            if left[0] <= 0:
                done.set_result(None)
            else:
                loop.call_at(loop.time() + period, tick)

        before = _usage()
        loop.call_at(loop.time() + period, tick)
        loop.run_until_complete(done)
        return _per(before, count)
    finally:
        loop.close()


def bare_epoll(period: float, count: int) -> dict[str, float]:
    epoll = select.epoll()
    try:
        before = _usage()
        for _ in range(count):
            epoll.poll(period)
        return _per(before, count)
    finally:
        epoll.close()


def bare_sleep(period: float, count: int) -> dict[str, float]:
    before = _usage()
    for _ in range(count):
        time.sleep(period)
    return _per(before, count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", type=float, default=0.01, help="seconds between wake-ups")
    parser.add_argument("--count", type=int, default=300, help="wake-ups per measure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    kinds: dict[str, Callable[[], dict[str, float]]] = {
        "asyncio": lambda: loop_timer(asyncio.new_event_loop, args.period, args.count),
        "epoll": lambda: bare_epoll(args.period, args.count),
        "sleep": lambda: bare_sleep(args.period, args.count),
    }
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("# uvloop not importable: not measured", flush=True)
    else:
        kinds["uvloop"] = lambda: loop_timer(uvloop.new_event_loop, args.period, args.count)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, measure in kinds.items():
            got = measure()
            results[name].append(got)
            print(f"{name:8} per wake-up: user {got['user_ms']:.3f} ms, "
                  f"system {got['system_ms']:.3f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"period": args.period, "count": args.count,
                                         "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
