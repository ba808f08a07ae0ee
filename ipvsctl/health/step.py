"""The pure step: (cluster file, health states, the kernel's weights) -> the desired table.

Health enters the plan here and only here; the planner, executor and printer are the ones
`apply` uses, so one health change is one in-place weight edit, and every rule below can be
read and tested as data (tests/health/cases).

For each service, each real server meant to serve (file weight > 0, not declared draining):
- no check (`none`): the file weight;
- UP: the file weight;
- UNKNOWN (no verdict yet: just started, or a new spec): the weight the kernel has now, 0 when
  the kernel has no such real server (new capacity is not sent traffic before a verdict);
- DOWN: weight 0, so it drains (its connections carry on; health never deletes) - unless that
  would leave fewer healthy pooled servers than `min_healthy`: then the failed servers the
  kernel pools already (then the others, in key order) stay pooled, and a note says which.
When no real server is left pooled and the service has a `sorry_server`, the sorry server is
added (it overrides min_healthy: failed servers then go to 0).

`via: vip` checks add one fwmark service per real-server path (marks.py) to the desired table,
so the normal planner creates, keeps and removes them with everything else. Their probes leave
from the director's own address on the route towards the real server (`routes`, as the kernel
gives them), and that route's interface gets accept_local and loose rp_filter (tunables.py):
director settings in the desired table too, planned and printed like the others.

The daemon keeps the table up to date service by service (`step_service`, `check_services`,
`probes_of`, `path_settings`); `step` is the same rules over the whole file at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from ipvsctl.health.marks import FIRST_MARK, LAST_MARK, CheckPath, allocate, check_service, path_of
from ipvsctl.health.policy import ServiceHealth
from ipvsctl.health.spec import NoCheck
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget, Probe, Route, target_of
from ipvsctl.model import (
    Cluster,
    Director,
    Observed,
    RealServer,
    RealServerKey,
    Scope,
    Service,
    ServiceKey,
)
from ipvsctl.tunables import CHECK_PATH

_EMPTY = Observed()
_NO_ROUTES: Mapping[str, Route | None] = {}
Targets = list[tuple[CheckTarget, CheckPath | None]]  # each check, and its path when via: vip


@dataclass(slots=True)
class StepResult:
    desired: Cluster
    probes: dict[CheckTarget, Probe] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # failed servers kept pooled, sorry servers


@dataclass(slots=True)
class ServiceStep:
    """One service's share of the step."""

    service: Service  # as it should be in the kernel
    notes: list[str]
    targets: Targets
    kept: tuple[RealServerKey, ...] = ()  # failed servers min_healthy keeps pooled
    sorry: bool = False  # the sorry server is pooled


def step(cluster: Cluster, health: Mapping[ServiceKey, ServiceHealth],
         states: Mapping[CheckTarget, State], observed: Observed = _EMPTY,
         only: Set[ServiceKey] | None = None,
         routes: Mapping[str, Route | None] = _NO_ROUTES) -> StepResult:
    """The desired table for `cluster` under `health` and `states`.

    `only` limits the work to some services (the others are left out of the result, as a
    narrowed plan expects); check services are always all computed, they are few and cheap.
    """
    services: dict[ServiceKey, Service] = {}
    notes: list[str] = []
    targets: Targets = []
    for key, service in cluster.services.items():
        rules = health.get(key)
        if rules is None:
            if only is None or key in only:
                services[key] = service
            continue
        done = step_service(service, rules, states, observed.services.get(key))
        targets += done.targets
        if only is None or key in only:
            services[key] = done.service
            notes += done.notes
    checks = check_services({p for _, p in targets if p is not None}, observed)
    for check in checks.values():
        if only is None or check.key in only:
            services[check.key] = check
    probes = probes_of(targets, checks, routes)
    desired = Cluster(services=services, director=with_paths(cluster.director, probes, routes),
                      scope=with_marks(cluster.scope), path=cluster.path)
    return StepResult(desired, probes, notes)


def via_vip_addresses(cluster: Cluster) -> set[str]:
    """The real servers some via: vip check goes to (the daemon asks the kernel for their
    routes)."""
    out: set[str] = set()
    for key, rules in cluster.health.items():
        if key.is_fwmark:
            continue
        out.update(rs.address for rs, spec in rules.checks.items()
                   if spec.network and spec.via == "vip")
    return out


def check_services(paths: Set[CheckPath], observed: Observed) -> dict[CheckPath, Service]:
    """The fwmark service of each path, under the mark the kernel has for it if any."""
    return {path: check_service(path, mark) for path, mark in allocate(paths, observed).items()}


def probes_of(targets: Targets, checks: Mapping[CheckPath, Service],
              routes: Mapping[str, Route | None]) -> dict[CheckTarget, Probe]:
    """What the runner sends: a via: vip check carries its path's mark and leaves from the
    director's own address towards the real server."""
    probes: dict[CheckTarget, Probe] = {}
    for target, via in targets:
        if target in probes:
            continue
        if via is None:
            probes[target] = Probe(target)
            continue
        route = routes.get(target.address)
        probes[target] = Probe(target, checks[via].key.fwmark, route.source if route else None)
    return probes


def path_settings(probes: Mapping[CheckTarget, Probe], routes: Mapping[str, Route | None]
                  ) -> dict[tuple[str, str], int]:
    """accept_local and loose rp_filter on every interface a via: vip reply comes in on."""
    interfaces = set()
    for probe in probes.values():
        if probe.mark:
            route = routes.get(probe.target.address)
            if route is not None and route.interface != "lo":
                interfaces.add(route.interface)
    return {(name, t.setting): t.value for name in sorted(interfaces) for t in CHECK_PATH}


def with_paths(director: Director, probes: Mapping[CheckTarget, Probe],
               routes: Mapping[str, Route | None]) -> Director:
    settings = path_settings(probes, routes)
    if not settings:
        return director
    return dataclasses.replace(director, interface_sysctls={**director.interface_sysctls,
                                                            **settings})


def with_marks(scope: Scope) -> Scope:
    """The file's scope, and the marks reserved for check services (stale ones are removed)."""
    return Scope(scope.networks, (*scope.fwmarks, (FIRST_MARK, LAST_MARK)))


def step_service(service: Service, rules: ServiceHealth, states: Mapping[CheckTarget, State],
                 live: Service | None) -> ServiceStep:
    """One service under its health rules; `live`: the service as the kernel has it."""
    key = service.key
    weights: dict[RealServerKey, int] = {}
    failed: list[RealServer] = []
    targets: list[tuple[CheckTarget, CheckPath | None]] = []
    serving = healthy = 0
    for rs_key in sorted(service.real_servers):
        rs = service.real_servers[rs_key]
        spec = rules.check_of(rs_key)
        if isinstance(spec, NoCheck):
            if not rs.draining and rs.spec.weight > 0:
                serving += 1
                healthy += 1
            continue
        target = target_of(key, rs_key, spec)
        targets.append((target, path_of(key.family, rs) if target.via_vip else None))
        if rs.draining or rs.spec.weight == 0:
            continue
        serving += 1
        state = states.get(target, State.UNKNOWN)
        if state is State.UP:
            healthy += 1
        elif state is State.DOWN:
            failed.append(rs)
        else:
            had = live.real_servers.get(rs_key) if live else None
            weight = had.spec.weight if had is not None else 0
            weights[rs_key] = weight
            healthy += weight > 0
    notes: list[str] = []
    kept: list[RealServerKey] = []
    sorry = rules.sorry_server
    pooled_failed = [rs for rs in failed if _live_weight(live, rs) > 0]
    order = pooled_failed + [rs for rs in failed if rs not in pooled_failed]
    needed = rules.min_healthy.needed(serving)
    short = needed - healthy
    if failed and short > 0 and not (sorry is not None and healthy == 0):
        for rs in order[:short]:
            kept.append(rs.key)
        names = ", ".join(str(rs.key) for rs in order[:short])
        notes.append(f"{_named(service)}: failed real server(s) {names} stay pooled: "
                     f"min_healthy {rules.min_healthy.describe()} needs {needed} of {serving}, "
                     f"{healthy} healthy")
    for rs in failed:
        if rs.key not in kept:
            weights[rs.key] = 0
    files = service.real_servers
    changed = {k: w for k, w in weights.items() if files[k].spec.weight != w}
    servers = dict(files) if changed else files
    for rs_key, weight in changed.items():
        rs = files[rs_key]
        servers[rs_key] = RealServer(rs.key, rs.spec._replace(weight=weight), rs.draining,
                                     rs.source)
    pooled_sorry = False
    if sorry is not None and not any(rs.spec.weight > 0 for rs in servers.values()):
        servers = dict(servers) if servers is files else servers
        servers[sorry.key] = sorry
        pooled_sorry = True
        notes.append(f"{_named(service)}: no healthy real server: sorry server {sorry.key} "
                     "pooled")
    # Unchanged, the file's own object serves (a 100,000-server table is not copied).
    desired = service if servers is files else Service(key, service.spec, servers, service.name,
                                                       service.source)
    return ServiceStep(desired, notes, targets, tuple(kept), pooled_sorry)


def _live_weight(live: Service | None, rs: RealServer) -> int:
    had = live.real_servers.get(rs.key) if live else None
    return had.spec.weight if had is not None else 0


def _named(service: Service) -> str:
    return f"{service.key}" + (f" ({service.name})" if service.name else "")
