"""Check results -> health states, one small state machine per check target.

It only reports: it never looks at or changes the kernel. Every target starts UNKNOWN, which
the pure step reads as "keep the weight the kernel has now", so a restarted director changes
nothing until it has evidence. Leaving UNKNOWN takes the same evidence as any other change:
`rise` successes in a row to become UP, `fall` failures in a row to become DOWN. A server is
therefore never taken out on less evidence after a restart than in steady state (keepalived's
lost-state-on-reload complaints), and never put back on less either.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ipvsctl.health.target import CheckTarget


class State(enum.Enum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class _Counter:
    state: State = State.UNKNOWN
    successes: int = 0  # in a row
    failures: int = 0  # in a row
    detail: str = ""  # the last result, in words


@dataclass(frozen=True, slots=True)
class Transition:
    target: CheckTarget
    old: State
    new: State
    detail: str  # the result that decided it
    count: int  # how many results in a row decided it

    def describe(self) -> str:
        word = "successes" if self.new is State.UP else "failures"
        return (f"{self.target.describe()}: {self.old.value} -> {self.new.value} after "
                f"{self.count} {word} in a row ({self.detail})")


class Tracker:
    """The health state of every check target; `record` returns the transition a result made."""

    __slots__ = ("_counters",)

    def __init__(self) -> None:
        self._counters: dict[CheckTarget, _Counter] = {}

    def state(self, target: CheckTarget) -> State:
        counter = self._counters.get(target)
        return counter.state if counter else State.UNKNOWN

    def states(self) -> dict[CheckTarget, State]:
        return {t: c.state for t, c in self._counters.items()}

    def detail(self, target: CheckTarget) -> str:
        counter = self._counters.get(target)
        return counter.detail if counter else ""

    def keep_only(self, targets: Iterable[CheckTarget]) -> None:
        """Forget targets no longer checked (a removed real server or a changed spec)."""
        wanted = set(targets)
        for target in [t for t in self._counters if t not in wanted]:
            del self._counters[target]

    def record(self, target: CheckTarget, ok: bool, detail: str) -> Transition | None:
        counter = self._counters.get(target)
        if counter is None:
            counter = self._counters[target] = _Counter()
        counter.detail = detail
        spec = target.spec
        if ok:
            counter.failures = 0
            counter.successes += 1
            if counter.state is not State.UP and counter.successes >= spec.rise:
                return self._move(target, counter, State.UP, counter.successes)
        else:
            counter.successes = 0
            counter.failures += 1
            if counter.state is not State.DOWN and counter.failures >= spec.fall:
                return self._move(target, counter, State.DOWN, counter.failures)
        return None

    @staticmethod
    def _move(target: CheckTarget, counter: _Counter, new: State, count: int) -> Transition:
        old, counter.state = counter.state, new
        return Transition(target, old, new, counter.detail, count)
