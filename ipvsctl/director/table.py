"""The IPVS table as the director workflow uses it: read it, change it, close it.

ipvs.IpvsAdapter implements it (the workflow imports the adapter only when it opens one, so
start-up does not pay for it); a daemon or a test may pass any other implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from ipvsctl.model import Observed, Service, ServiceKey
from ipvsctl.plan.changes import Change
from ipvsctl.plan.executor import Outcome


class IpvsTable(Protocol):
    writes: int  # netlink write requests sent so far (one per change)

    def observe(self, *, with_stats: bool = False,
                only: frozenset[ServiceKey] | None = None,
                expect: Mapping[ServiceKey, Service] | None = None) -> Observed:
        """The live table, normalised; with `only`, just those services and no settings;
        with `expect`, services found exactly as expected only named (Observed.as_desired)."""
        ...

    def execute(self, changes: Sequence[Change]) -> Iterator[Outcome]:
        """Attempt changes in order, an Outcome for each one attempted (plan.executor.Target)."""
        ...

    def close(self) -> None: ...
