"""What the cluster file says about one service's health: each real server's check, the
depool floor (min_healthy) and the sorry server."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ipvsctl.health.spec import CheckSpec, NoCheck
from ipvsctl.model import RealServer, RealServerKey

NO_CHECK = NoCheck()


@dataclass(frozen=True, slots=True)
class MinHealthy:
    """A count of real servers, or a percentage of those meant to serve (rounded up)."""

    count: int = 1
    percent: float | None = None

    def needed(self, serving: int) -> int:
        if self.percent is not None:
            return min(serving, math.ceil(self.percent * serving / 100 - 1e-9))
        return min(serving, self.count)

    def describe(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """checks: each real server's resolved check (absent = none)."""

    checks: Mapping[RealServerKey, CheckSpec] = field(default_factory=dict)
    min_healthy: MinHealthy = MinHealthy()
    sorry_server: RealServer | None = None

    def check_of(self, rs: RealServerKey) -> CheckSpec:
        return self.checks.get(rs, NO_CHECK)
