"""Planner cases as data: facts and a request in (YAML), expected change texts out. No I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ipvsctl.errors import IpvsctlError
from ipvsctl.realserver.checker import check_host
from ipvsctl.realserver.facts import HostFacts
from ipvsctl.realserver.planner import plan_setup, plan_teardown, resolve_client_interfaces
from ipvsctl.realserver.request import build_request

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _request(spec: dict[str, Any]) -> Any:
    return build_request([str(v) for v in spec["vips"]], interface=spec.get("interface", "lo"),
                         client_interfaces=spec.get("client_interfaces"),
                         global_arp=spec.get("global", False))


def _contains_all(found: list[str], wanted: list[str], what: str) -> None:
    for w in wanted:
        assert any(w in f for f in found), f"{what}: {w!r} not in {found}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = load(path)
    facts = HostFacts.from_data(case.get("facts") or {})
    expect = case["expect"]
    mode = case.get("mode", "setup")
    if mode == "teardown":
        plan = plan_teardown(case["record"], facts)
    elif mode == "check":
        req = _request(case["request"])
        findings = check_host(req.vips, facts, resolve_client_interfaces(req, facts),
                              case["request"].get("ports", []))
        for level in ("fail", "warn", "ok"):
            got = [f.message for f in findings if f.level == level]
            _contains_all(got, expect.get(level, []), level)
        assert len([f for f in findings if f.level == "fail"]) == len(expect["fail"])
        return
    else:
        req = _request(case["request"])
        if "error" in expect:
            with pytest.raises(IpvsctlError) as info:
                plan_setup(req, facts, resolve_client_interfaces(req, facts))
            assert expect["error"] in str(info.value)
            return
        plan = plan_setup(req, facts, resolve_client_interfaces(req, facts))
    assert [c.text for c in plan.changes] == expect.get("changes", [])
    _contains_all([n.reason for n in plan.noops], expect.get("noops", []), "noops")
    _contains_all(plan.warnings, expect.get("warnings", []), "warnings")
    if "warnings" not in expect:
        assert plan.warnings == [], plan.warnings
