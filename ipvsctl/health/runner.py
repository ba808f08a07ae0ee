"""The check runner: every probe on its own schedule, on one asyncio loop.

- One check per target however many services share it (targets are the keys).
- Jittered: a new target's first check comes at a random point of its first interval, so a
  start or a reload never fires every check at once; then one check per interval.
- Bounded: every check is aborted at its timeout and reported as failed; a target whose
  check is still running when its next one is due skips that round (counted), it never
  queues up. A hung or slow target holds one socket and delays no other check.
- Cheap: start times and deadlines live in two heaps, sockets in one epoll set (poller.py),
  and one loop timer (a tick: at the next start or deadline, or when a socket is ready; at
  most every 10 ms) starts what is due, collects what is done and aborts what is late, in
  batches: the cost per check is a few C calls around the socket's own system calls.
- In-flight checks are capped (open descriptors): a check that would exceed the cap is
  skipped and counted, never queued.

It reports results through `report(target, ok, detail)` and nothing else: the state machine
(state.py) decides what a result means. `timed(seconds)`, when given, gets each check's
duration (a timed-out one: its timeout).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import resource
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ipvsctl.health.checkers import CHECKERS, Check, Context
from ipvsctl.health.checkers.exec import settled
from ipvsctl.health.poller import Poller
from ipvsctl.health.target import CheckTarget, Probe

Report = Callable[[CheckTarget, bool, str], None]
Timed = Callable[[float], None]
TICK = 0.01  # seconds between wake-ups while checks are in flight or due
RESERVED_FDS = 256  # descriptors left for everything else in the process


@dataclass(slots=True)
class Counters:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    overrun: int = 0  # a round skipped: the previous check of that target still running
    capped: int = 0  # a round skipped: too many checks in flight


class _Slot:
    __slots__ = ("check", "due", "generation", "probe", "report_ok", "running", "started")

    def __init__(self, probe: Probe, due: float) -> None:
        self.probe = probe
        self.due = due
        self.started = 0.0  # when the running check started
        self.check: Check | None = None
        self.generation = 0  # bumped per check: stale deadlines are ignored
        self.running = False
        self.report_ok = True  # False once the slot is removed


def max_in_flight() -> int:
    """Raise the soft descriptor limit to the hard one; what remains after a reserve."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(16, soft - RESERVED_FDS)


class Runner:
    def __init__(self, loop: asyncio.AbstractEventLoop, report: Report, *,
                 rng: random.Random | None = None, in_flight: int | None = None,
                 timed: Timed | None = None) -> None:
        self._loop = loop
        self._report = report
        self._timed = timed
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._cap = in_flight if in_flight is not None else max_in_flight()
        self._poller = Poller(loop)
        self._ctx = Context(loop, self._poller)
        self._slots: dict[CheckTarget, _Slot] = {}
        self._starts: list[tuple[float, int, _Slot]] = []
        self._deadlines: list[tuple[float, int, _Slot, int]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._in_flight = 0
        self._last = 0.0  # when the last tick ran
        self.counters = Counters()

    @property
    def targets(self) -> frozenset[CheckTarget]:
        return frozenset(self._slots)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def overdue(self, slack: float = 5.0) -> int:
        """Checks past their deadline by more than `slack` seconds and not yet aborted: the
        runner's own tick has stopped (the daemon's watchdog stops pinging then)."""
        now = self._loop.time()
        return sum(1 for at, _, slot, generation in self._deadlines
                   if at + slack < now and slot.running and slot.generation == generation)

    def update(self, probes: Mapping[CheckTarget, Probe]) -> None:
        """Check exactly these probes from now on. Targets kept keep their schedule (a new
        mark or source applies from their next check); new ones start within one interval."""
        self.change(probes, [t for t in self._slots if t not in probes])

    def change(self, probes: Mapping[CheckTarget, Probe], removed: Iterable[CheckTarget] = ()
               ) -> None:
        """Add or update these probes and stop checking `removed`; every other target is
        left as it is (a daemon's reload touches only what its edit changed)."""
        now = self._loop.time()
        for target in removed:
            slot = self._slots.pop(target, None)
            if slot is None:
                continue
            slot.report_ok = False
            if slot.running:
                if slot.check is not None:
                    slot.check.abort()
                self._ended(slot)
        for target, probe in probes.items():
            known = self._slots.get(target)
            if known is not None:
                known.probe = probe
                continue
            if not target.spec.network and target.spec.type != "exec":
                continue  # `none`
            due = now + self._rng.random() * target.spec.interval
            slot = self._slots[target] = _Slot(probe, due)
            heapq.heappush(self._starts, (due, next(self._seq), slot))
        self._wake()

    async def aclose(self) -> None:
        """close(), then wait (bounded) until aborted programs are reaped."""
        self.close()
        await settled()

    def close(self) -> None:
        self.update({})
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._poller.close()

    # ---- scheduling ------------------------------------------------------------------------

    def _ready(self) -> None:
        """A check socket is ready: collect it within a tick."""
        self._wake(self._loop.time())

    def _wake(self, soonest: float = float("inf")) -> None:
        """Make sure the timer fires at the next start or deadline (or `soonest`), a tick
        after the last one at the earliest; while sockets are watched, their readiness asks
        for a tick too."""
        soonest = min(soonest, self._starts[0][0] if self._starts else float("inf"),
                      self._deadlines[0][0] if self._deadlines else float("inf"))
        if self._poller.busy and self._timer is None:
            self._poller.arm(self._ready)
        if soonest == float("inf"):
            return
        at = max(soonest, self._last + TICK)
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self._last = self._loop.time()
        self._poller.disarm()
        self._poller.dispatch()
        now = self._loop.time()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, _, slot, generation = heapq.heappop(deadlines)
            check = slot.check
            if slot.running and slot.generation == generation:
                stage = check.abort() if check is not None else "starting"
                self._ended(slot)
                self.counters.timed_out += 1
                self._deliver(slot, False, f"timed out after {slot.probe.target.spec.timeout:g}s "
                              f"{stage}")
        starts = self._starts
        while starts and starts[0][0] <= now:
            due, _, slot = heapq.heappop(starts)
            if not slot.report_ok:
                continue  # removed
            interval = slot.probe.target.spec.interval
            slot.due = due + interval if due + interval > now else now + interval
            heapq.heappush(starts, (slot.due, next(self._seq), slot))
            self._start(slot, now)
        self._wake()

    def _start(self, slot: _Slot, now: float) -> None:
        if slot.running:
            self.counters.overrun += 1
            return
        if self._in_flight >= self._cap:
            self.counters.capped += 1
            return
        probe = slot.probe
        spec = probe.target.spec
        slot.generation += 1
        generation = slot.generation
        heapq.heappush(self._deadlines, (now + spec.timeout, next(self._seq), slot, generation))

        def done(ok: bool, detail: str) -> None:
            if slot.running and slot.generation == generation:
                self._ended(slot)
                self._deliver(slot, ok, detail)

        slot.running = True
        slot.started = now
        self._in_flight += 1
        self.counters.started += 1
        checker = CHECKERS[spec.type](self._ctx, probe, done)
        if slot.running and slot.generation == generation:  # not finished in its constructor
            slot.check = checker

    def _ended(self, slot: _Slot) -> None:
        slot.running = False
        slot.check = None
        self._in_flight -= 1

    def _deliver(self, slot: _Slot, ok: bool, detail: str) -> None:
        if self._timed is not None:
            self._timed(self._loop.time() - slot.started)
        if ok:
            self.counters.succeeded += 1
        else:
            self.counters.failed += 1
        if slot.report_ok:
            self._report(slot.probe.target, ok, detail)
