"""The check runner: every probe on its own schedule, on one asyncio loop.

- One check per target however many services share it (targets are the keys).
- Jittered: a new target's first check comes at a random point of its first interval, so a
  start or a reload never fires every check at once; then one check per interval.
- Bounded: every check is aborted at its timeout and reported as failed; a target whose
  check is still running when its next one is due skips that round (counted), it never
  queues up. A hung or slow target holds one socket and delays no other check.
- Cheap: start times live in a heap, deadlines in one FIFO per timeout (checks started in
  order expire in order), sockets in one epoll set (poller.py), and one loop timer (a tick: at
  the next start or deadline, and every 10 ms while sockets are open) starts what is due
  (and then what is due within the next 100 ms: a quarter of the shortest interval at the
  most; a tick that only collects starts nothing early), collects what is done and aborts
  what is late, in batches (and collects once more after starting, for the checks a nearby
  target answered within connect()): the cost per check is a few C calls around the
  socket's own system calls.
- In-flight checks are capped (open descriptors, less those of the idle TCP sockets kept
  for the next checks, checkers/pool.py): a check that would exceed the cap is skipped and
  counted, never queued.

Under overload (more checks due than the loop can start, or a loop busy elsewhere) the
runner sheds rate, never correctness:
- back-pressure: a tick spends at most START_BUDGET starting checks, then collects what is
  ready before it starts more. Checks not started in time wait in the heap for the next tick
  (they are `late`; a check more than a whole interval late skips to the next round), so the
  achieved rate falls but every started check is looked at promptly and completes;
- a timeout measures the check, not the loop: time the runner was late to look at its
  sockets (a tick later than it asked for: a busy loop, a long batch) is `stalled` time and
  moves every in-flight deadline back by as much. Without it, under load, a check whose
  connection was made but whose next step (an http request) the loop could only take after
  the deadline would be reported as timed out while the target answered at once. So that
  a loop that is late all the time still detects a hung target, a check is aborted at three
  times its timeout at the latest, stalled or not (HARD_STRETCH).
`lag()` says how far behind its schedule the runner is.

It reports results through `report(target, ok, detail)` and nothing else: the state machine
(state.py) decides what a result means. `timed(seconds)`, when given, gets each check's
duration (a timed-out one: its timeout; stalled time not counted).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import heapq
import itertools
import random
import resource
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ipvsctl.health.checkers import CHECKERS, Check, Context
from ipvsctl.health.checkers.exec import settled
from ipvsctl.health.checkers.pool import MOST as KEPT_SOCKETS
from ipvsctl.health.checkers.pool import SocketPool
from ipvsctl.health.poller import Poller
from ipvsctl.health.target import CheckTarget, Probe

Report = Callable[[CheckTarget, bool, str], None]
Timed = Callable[[float], None]
TICK = 0.01  # seconds between wake-ups while checks are in flight or due
START_BUDGET = 0.05  # seconds a tick may spend starting checks before it looks again
# A tick also starts what is due within this many seconds (a quarter of the shortest interval
# at the most): one wake-up then starts every check of the next 100 ms instead of one each.
# Their schedule stays as it was (at most this early, never later). A wake-up of the loop
# costs as much CPU as a tcp check (1.3-2.2 ms in the emulated test VM), so at 100 checks a
# second 30 ms of slack still woke the loop 25 times a second, 100 ms wakes it 9 times.
START_SLACK = 0.1
DUE_EARLY = 0.001  # a timer may fire this much before a check is due: still its start tick
HARD_STRETCH = 3.0  # however late the loop, no check is held past 3x its timeout
RESERVED_FDS = 256  # descriptors left for everything else in the process
_INF = float("inf")
_monotonic = time.monotonic


@dataclass(slots=True)
class Counters:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    overrun: int = 0  # a round skipped: the previous check of that target still running
    capped: int = 0  # a round skipped: too many checks in flight
    late: int = 0  # started more than a tick after due: the loop could not keep the rate
    stalled: float = 0.0  # seconds the loop looked late at in-flight checks (not charged)


class _Slot:
    __slots__ = ("check", "done", "due", "live", "probe", "running", "started")

    def __init__(self, probe: Probe, due: float, done: Callable[[_Slot, bool, str], None]
                 ) -> None:
        self.probe = probe
        self.due = due
        self.started = 0.0  # when the running check started (the runner's check clock)
        self.check: Check | None = None
        self.running = False
        self.live = True  # False once the slot is removed
        self.done = functools.partial(done, self)  # once per target, not once per check


def descriptors() -> int:
    """Raise the soft descriptor limit to the hard one; what remains after a reserve."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(0, soft - RESERVED_FDS)


def split_descriptors(budget: int) -> tuple[int, int]:
    """(checks in flight, idle sockets kept) out of `budget` descriptors: the kept ones get
    a quarter at the most."""
    kept = min(KEPT_SOCKETS, budget // 4)
    return max(16, budget - kept), kept


Deadline = tuple[float, float, _Slot, Check]  # check clock, loop clock (the hard bound)


class Runner:
    def __init__(self, loop: asyncio.AbstractEventLoop, report: Report, *,
                 rng: random.Random | None = None, in_flight: int | None = None,
                 kept: int | None = None, timed: Timed | None = None) -> None:
        self._loop = loop
        self._report = report
        self._timed = timed
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        cap, most_kept = split_descriptors(descriptors())
        self._cap = in_flight if in_flight is not None else cap
        self._poller = Poller()
        self._pool = SocketPool(kept if kept is not None else most_kept)
        self._ctx = Context(loop, self._poller, self._pool)
        self._slots: dict[CheckTarget, _Slot] = {}
        self._starts: list[tuple[float, int, _Slot]] = []
        # Deadlines on the check clock (loop time less stalled time) and the hard bounds on
        # the loop's, one FIFO per timeout (both grow in start order).
        self._deadlines: dict[float, collections.deque[Deadline]] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = _INF
        self._in_flight = 0
        self._last = 0.0  # when the last tick ran
        self._intervals: collections.Counter[float] = collections.Counter()  # of the slots
        self._slack = START_SLACK
        self.counters = Counters()

    @property
    def targets(self) -> frozenset[CheckTarget]:
        return frozenset(self._slots)

    @property
    def target_count(self) -> int:
        """len(targets), without copying 100,000 keys for a status page."""
        return len(self._slots)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def lag(self) -> float:
        """How far behind its schedule the runner is: seconds since the oldest check that is
        due but not started yet was due (0 when it keeps up)."""
        starts = self._starts
        while starts and not starts[0][2].live:
            heapq.heappop(starts)
        return max(0.0, self._loop.time() - starts[0][0]) if starts else 0.0

    def overdue(self, slack: float = 5.0) -> int:
        """Checks past their deadline by more than `slack` seconds and not yet aborted: the
        runner's own tick has stopped (the daemon's watchdog stops pinging then)."""
        now = self._loop.time() - self.counters.stalled
        return sum(1 for queue in self._deadlines.values() for at, _, slot, check in queue
                   if at + slack < now and slot.check is check)

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
            self._count_interval(target.spec.interval, -1)
            slot.live = False
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
            slot = self._slots[target] = _Slot(probe, due, self._finished)
            heapq.heappush(self._starts, (due, next(self._seq), slot))
            self._count_interval(target.spec.interval, 1)
        self._slack = min(START_SLACK, min(self._intervals) / 4) if self._intervals else 0.0
        self._wake()

    def _count_interval(self, interval: float, by: int) -> None:
        counts = self._intervals
        counts[interval] += by
        if counts[interval] <= 0:
            del counts[interval]

    async def aclose(self) -> None:
        """close(), then wait (bounded) until aborted programs are reaped."""
        self.close()
        await settled()

    def close(self) -> None:
        self.update({})
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pool.close()
        self._poller.close()

    # ---- scheduling ------------------------------------------------------------------------

    def _next_deadline(self) -> float:
        """The earliest deadline, on the loop's clock."""
        soonest = _INF
        stalled = self.counters.stalled
        for queue in self._deadlines.values():
            if queue:
                at, hard, _, _ = queue[0]
                soonest = min(soonest, at + stalled, hard)
        return soonest

    def _wake(self) -> None:
        """Make sure the timer fires at the next start or deadline, a tick after the last
        one at the earliest; while sockets are watched, a tick after the last one."""
        soonest = self._starts[0][0] if self._starts else _INF
        if self._in_flight:
            soonest = min(soonest, self._next_deadline())
        if self._poller.busy:
            soonest = min(soonest, self._last + TICK)
        if soonest == _INF:
            return
        at = max(soonest, self._last + TICK)
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        counters = self.counters
        if self._in_flight:
            # Later than asked (and than a tick after the last look): the loop, not the
            # checks, kept these sockets waiting. Not charged to their timeouts.
            # (Jitter under a tick is not counted: a loaded host's timers are that late.)
            late = now - max(self._timer_at, self._last + TICK)
            if late > TICK:
                counters.stalled += late
        self._timer = None
        self._timer_at = _INF
        self._last = now
        # The check clock of this tick: that of its poll. Deadlines are held against it, not
        # against the time after the handlers ran: a check whose answer came while they ran
        # (a slow consumer) is collected by the next poll, not aborted; and the time they
        # took is stalled time at the next tick. Checks started below count from it too
        # (so it never runs backwards and the deadlines stay in start order).
        clock = now - counters.stalled
        self._poller.dispatch()
        if self._in_flight:
            self._expire(clock, now)
        now = self._loop.time()
        starts = self._starts
        # Only a tick at which a check is due starts checks (then with the slack). A tick that
        # only collects would otherwise start the one or two that had just come within the
        # slack, whose answers need one more collecting tick, which starts a few more: a
        # chain of wake-ups per batch instead of one.
        if starts and starts[0][0] <= now + DUE_EARLY:
            self._start_due(now, clock)
            # A nearby target (same host, a veth) often answers within connect() itself:
            # collect it now rather than waking again a tick later for it.
            if self._poller.busy:
                self._poller.dispatch()
        self._wake()

    def _expire(self, clock: float, now: float) -> None:
        """Abort every check whose deadline (on the check clock) or hard bound (on the
        loop's) has passed."""
        for timeout, queue in list(self._deadlines.items()):
            while queue and (queue[0][0] <= clock or queue[0][1] <= now):
                _, _, slot, check = queue.popleft()
                if slot.check is not check:
                    continue  # finished already
                stage = check.abort()
                self._ended(slot)
                self.counters.timed_out += 1
                self._deliver(slot, False, f"timed out after {timeout:g}s {stage}")
            if not queue:
                del self._deadlines[timeout]

    def _start_due(self, now: float, clock: float) -> None:
        """Start what is due, for at most START_BUDGET seconds; the rest waits a tick."""
        starts = self._starts
        seq = self._seq
        counters = self.counters
        until = _monotonic() + START_BUDGET
        late_after = now - TICK
        pop, push = heapq.heappop, heapq.heappush
        n = 0
        until_due = now + self._slack
        while starts and starts[0][0] <= until_due:
            n += 1
            if n & 3 == 0 and _monotonic() > until:
                break  # back-pressure: collect what is ready first
            due, _, slot = pop(starts)
            if not slot.live:
                continue  # removed
            if due < late_after:
                counters.late += 1
            interval = slot.probe.target.spec.interval
            slot.due = due + interval if due + interval > now else now + interval
            push(starts, (slot.due, next(seq), slot))
            if slot.running:
                counters.overrun += 1
            elif self._in_flight >= self._cap:
                counters.capped += 1
            else:
                self._start(slot, clock)

    def _start(self, slot: _Slot, clock: float) -> None:
        probe = slot.probe
        slot.running = True
        slot.started = clock
        self._in_flight += 1
        self.counters.started += 1
        check = CHECKERS[probe.target.spec.type](self._ctx, probe, slot.done)
        if slot.running:  # not finished in its constructor
            slot.check = check
            timeout = probe.target.spec.timeout
            queue = self._deadlines.get(timeout)
            if queue is None:
                queue = self._deadlines[timeout] = collections.deque()
            queue.append((clock + timeout, self._last + timeout * HARD_STRETCH, slot, check))

    def _finished(self, slot: _Slot, ok: bool, detail: str) -> None:
        """A check reports (each check at most once, and never once aborted).
        _ended and _deliver inlined: this runs once per check."""
        if not slot.running:
            return
        slot.running = False
        slot.check = None
        self._in_flight -= 1
        counters = self.counters
        if self._timed is not None:
            self._timed(self._loop.time() - counters.stalled - slot.started)
        if ok:
            counters.succeeded += 1
        else:
            counters.failed += 1
        if slot.live:
            self._report(slot.probe.target, ok, detail)

    def _ended(self, slot: _Slot) -> None:
        slot.running = False
        slot.check = None
        self._in_flight -= 1

    def _deliver(self, slot: _Slot, ok: bool, detail: str) -> None:
        if self._timed is not None:
            self._timed(self._loop.time() - self.counters.stalled - slot.started)
        if ok:
            self.counters.succeeded += 1
        else:
            self.counters.failed += 1
        if slot.live:
            self._report(slot.probe.target, ok, detail)
