"""The one executor: feeds a Plan's changes to a target adapter and accounts for every change.

Targets (the IPVS adapter on a director, the host adapter on a real server) execute changes in
order and yield one Outcome per change they attempted. The executor stops at the first failure
and reports what was applied, what failed and what was never attempted: the plan is computed
against the live state, so rerunning converges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ipvsctl.errors import PartialApplyError
from ipvsctl.plan.changes import Change, Plan


@dataclass(frozen=True, slots=True)
class Outcome:
    change: Change
    error: str | None = None  # the kernel's or host's reason, in words

    @property
    def ok(self) -> bool:
        return self.error is None


class Target(Protocol):
    def execute(self, changes: Sequence[Change]) -> Iterator[Outcome]:
        """Attempt changes in order, yielding an Outcome for each one attempted.

        A target may stop after the first failed change; it may also have attempted a few more
        (a batched netlink write): it must yield an Outcome for everything it attempted.
        """
        ...


@dataclass(slots=True)
class Result:
    applied: list[Change] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    not_applied: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_applied


Progress = Callable[[Outcome], None]


def execute(plan: Plan, target: Target, progress: Progress | None = None,
            raise_on_failure: bool = True) -> Result:
    result = Result()
    attempted: set[int] = set()
    for outcome in target.execute(plan.changes):
        attempted.add(id(outcome.change))
        if progress:
            progress(outcome)
        if outcome.ok:
            result.applied.append(outcome.change)
        else:
            result.failed.append(outcome)
    if result.failed:
        result.not_applied = [c for c in plan.changes if id(c) not in attempted]
    if raise_on_failure and not result.ok:
        raise partial_error(plan, result)
    return result


def partial_error(plan: Plan, result: Result) -> PartialApplyError:
    """What was applied, what failed (with the reason) and what was never attempted."""
    return PartialApplyError(
        f"apply stopped: {len(result.applied)} of {len(plan.changes)} changes applied, "
        f"{len(result.failed)} failed, {len(result.not_applied)} not attempted",
        applied=[c.describe() for c in result.applied],
        failed=[f"{o.change.describe()}: {o.error}" for o in result.failed],
        not_applied=[c.describe() for c in result.not_applied],
    )
