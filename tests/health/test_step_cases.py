"""Every file in cases/ is one case of the pure health step: the file, the health states and the
kernel in; the exact plan lines (the planner `apply` uses), notes and probes out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ipvsctl.director.planner import Ownership, plan_director
from ipvsctl.health.step import step
from ipvsctl.health.target import Route
from ipvsctl.model import Observed
from tests.director.casefile import desired, observed, service_key
from tests.director.test_planner_cases import replay

from .casefile import health, states

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def run(case: dict[str, Any], live: Observed) -> tuple[Any, Any]:
    cluster = desired(case)
    rules = health(case, cluster)
    routes = {address: Route(*route) for address, route in (case.get("routes") or {}).items()}
    result = step(cluster, rules, states(case, rules), live, routes=routes)
    own = Ownership(frozenset(service_key(k) for k in case.get("managed", [])))
    return result, plan_director(result.desired, live, own)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    result, plan = run(case, observed(case))
    assert [c.describe() for c in plan.changes] == case.get("expect", [])
    assert result.notes == case.get("expect_notes", [])
    if "expect_probes" in case:
        assert sorted(f"{t.describe()} mark {p.mark}" + (f" from {p.source}" if p.source else "")
                      for t, p in result.probes.items()) == sorted(case["expect_probes"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_step_is_stable_once_applied(path: Path) -> None:
    """Apply the plan as the kernel would; the same states then plan nothing (marks are
    kept, unknown servers keep what they now have)."""
    case = yaml.safe_load(path.read_text())
    live = observed(case)
    _, plan = run(case, live)
    replay(plan, live)
    _, again = run(case, live)
    assert [c.describe() for c in again.changes] == []


def test_there_are_many_cases() -> None:
    assert len(CASES) >= 15
