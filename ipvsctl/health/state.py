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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

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
    checked: float = 0.0  # when the last result came (the caller's clock; 0: never)
    succeeded: float = 0.0  # when the last success came
    since: float = 0.0  # when the state began (the first result, for UNKNOWN)


class Seen(NamedTuple):
    """What is known of one target, for status pages (times on the caller's clock)."""

    state: State
    detail: str
    checked: float
    succeeded: float
    since: float


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


class _View(Mapping[CheckTarget, State]):
    __slots__ = ("_counters",)

    def __init__(self, counters: dict[CheckTarget, _Counter]) -> None:
        self._counters = counters

    def __getitem__(self, target: CheckTarget) -> State:
        return self._counters[target].state

    def __iter__(self) -> Iterator[CheckTarget]:
        return iter(self._counters)

    def __len__(self) -> int:
        return len(self._counters)


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

    def view(self) -> Mapping[CheckTarget, State]:
        """The states as a live mapping (no copy): what the pure step reads."""
        return _View(self._counters)

    def detail(self, target: CheckTarget) -> str:
        counter = self._counters.get(target)
        return counter.detail if counter else ""

    def seen(self, target: CheckTarget) -> Seen | None:
        c = self._counters.get(target)
        return Seen(c.state, c.detail, c.checked, c.succeeded, c.since) if c else None

    def __len__(self) -> int:
        return len(self._counters)

    def forget(self, targets: Iterable[CheckTarget]) -> None:
        for target in targets:
            self._counters.pop(target, None)

    def keep_only(self, targets: Iterable[CheckTarget]) -> None:
        """Forget targets no longer checked (a removed real server or a changed spec)."""
        wanted = set(targets)
        for target in [t for t in self._counters if t not in wanted]:
            del self._counters[target]

    def record(self, target: CheckTarget, ok: bool, detail: str,
               at: float = 0.0) -> Transition | None:
        """One result (`at`: when, on any clock the caller keeps; status pages show it)."""
        counter = self._counters.get(target)
        if counter is None:
            counter = self._counters[target] = _Counter(since=at)
        counter.detail = detail
        counter.checked = at
        spec = target.spec
        if ok:
            counter.succeeded = at
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
        counter.since = counter.checked
        return Transition(target, old, new, counter.detail, count)
