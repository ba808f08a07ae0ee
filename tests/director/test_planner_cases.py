"""Every file in cases/ is one planner case: desired + observed in, exact change lines out."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipvsctl.director.planner import Ownership, plan_director
from ipvsctl.director.workflow import narrowed
from ipvsctl.model import (
    Cluster,
    Observed,
    RealServerKey,
    RealServerSpec,
    Service,
    ServiceSpec,
)

from .casefile import desired, observed, service_key

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def run_case(case: dict[str, Any], named: bool = False) -> Any:
    """The case's plan; with `named`, services observed exactly as desired are only named
    (Observed.as_desired), as the adapter reports them when given the desired table."""
    own = Ownership(frozenset(service_key(k) for k in case.get("managed", [])),
                    bool(case.get("prune", False)))
    cluster, live = desired(case), observed(case)
    if "only" in case:  # a narrowed run (--service): the adapter reads just those services
        only = frozenset(service_key(k) for k in case["only"])
        cluster = narrowed(cluster, only)
        live = Observed(services={k: s for k, s in live.services.items() if k in only})
    if named:
        live = as_the_adapter_names_them(cluster, live)
    return plan_director(cluster, live, own, now=float(case.get("now", 0)),
                         drains=case.get("drains") or {})


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    plan = run_case(case)
    assert [c.describe() for c in plan.changes] == case.get("expect", [])
    for text in case.get("expect_noops", []):
        assert any(text in n.describe() for n in plan.noops), (text, plan.noops)
    if "expect_unchanged" in case:
        assert plan.unchanged == case["expect_unchanged"]
    for text in case.get("expect_warnings", []):
        assert any(text in w for w in plan.warnings), (text, plan.warnings)


def specs(service: Service) -> tuple[ServiceSpec, dict[RealServerKey, RealServerSpec]]:
    return service.spec, {k: rs.spec for k, rs in service.real_servers.items()}


def as_the_adapter_names_them(cluster: Cluster, live: Observed) -> Observed:
    same = {k for k, s in live.services.items()
            if k in cluster.services and specs(s) == specs(cluster.services[k])}
    return dataclasses.replace(
        live, services={k: s for k, s in live.services.items() if k not in same},
        as_desired=frozenset(same))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_services_found_as_desired_plan_alike_when_only_named(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    built, named = run_case(case), run_case(case, named=True)
    assert [c.describe() for c in named.changes] == [c.describe() for c in built.changes]
    assert [n.describe() for n in named.noops] == [n.describe() for n in built.noops]
    assert (named.unchanged, named.warnings) == (built.unchanged, built.warnings)


def test_many_cases_have_services_found_as_desired() -> None:
    named = [path for path in CASES
             if as_the_adapter_names_them(desired(c := yaml.safe_load(path.read_text())),
                                          observed(c)).as_desired]
    assert len(named) >= 4


def test_there_are_many_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_applying_the_plan_converges(path: Path) -> None:
    """Replay the plan on the observed state as the kernel would; the next plan is empty.

    Drains keep their connections in the replay, so they show up as "draining" noops."""
    case = yaml.safe_load(path.read_text())
    own = Ownership(frozenset(service_key(k) for k in case.get("managed", [])),
                    bool(case.get("prune", False)))
    want, have = desired(case), observed(case)
    plan = plan_director(want, have, own, now=float(case.get("now", 0)),
                         drains=case.get("drains") or {})
    replay(plan, have)
    again = plan_director(want, have, own, now=float(case.get("now", 0)),
                          drains=case.get("drains") or {})
    assert [c.describe() for c in again.changes] == []


def replay(plan: Any, have: Any) -> None:
    """Each change as the kernel would take it, dispatched on its operation's type."""
    import dataclasses

    from ipvsctl.director import ops
    from ipvsctl.model import RealServer, Service

    for c in plan.changes:
        op = c.op
        if isinstance(op, ops.DeleteService):
            del have.services[op.service.key]
        elif isinstance(op, ops.AddService):
            have.services[op.service.key] = Service(op.service.key, op.service.spec)
        elif isinstance(op, ops.EditService):
            have.services[op.service.key].spec = op.service.spec
        elif isinstance(op, ops.DeleteRealServer):
            del have.services[op.service].real_servers[op.real_server.key]
        elif isinstance(op, ops.AddRealServer | ops.EditRealServer | ops.DrainRealServer):
            rs, servers = op.real_server, have.services[op.service].real_servers
            old = servers.get(rs.key)
            servers[rs.key] = RealServer(rs.key, rs.spec,
                                         connections=old.connections if old else None)
        elif isinstance(op, ops.SetTimeouts):
            have.timeouts = dataclasses.replace(
                have.timeouts, **{k: v for k, v in dataclasses.asdict(op.timeouts).items()
                                  if v is not None})
        elif isinstance(op, ops.SetSysctl):
            have.sysctls[op.name] = op.value
        elif isinstance(op, ops.SetInterfaceSysctl):
            have.interface_sysctls[(op.interface, op.setting)] = op.value
        elif isinstance(op, ops.StartSyncDaemon | ops.RestartSyncDaemon):
            new = op.daemon if isinstance(op, ops.StartSyncDaemon) else op.new
            have.sync_daemons[new.state] = new._replace(maxlen=new.maxlen or 1472)
        elif isinstance(op, ops.StopSyncDaemon):
            del have.sync_daemons[op.daemon.state]
        else:
            raise AssertionError(f"a director plan holds {op!r}")
