"""The pure step of BGP: (cluster file, health states, what is announced now) -> the VIPs to
announce, each with its reason.

A service with `announce` votes for its VIP:
- yes while at least `min_healthy` of its real servers meant to serve (file weight above 0,
  not draining) are healthy (UP, or with no check), counted as the health section counts them
  (a percentage of those meant to serve, rounded up), and never with none healthy: a director
  with nothing to send the traffic to must let the router send it to the others;
- no when that many can no longer be healthy, counting every server without a verdict yet;
  or when the service is not in the kernel table (the director could not forward it);
- undecided while the verdicts still missing could go either way (just started): the VIP
  keeps what it has now, so a restarted `ipvsctl run` neither withdraws nor announces
  anything until its checks have spoken (as it keeps the kernel's weights).
A VIP is one route: it is announced while every announcing service on it votes yes (a
director that can serve only some of the VIP's ports must let the others take it), withdrawn
as soon as one votes no, and otherwise kept as it is. The sorry server never counts: it is
the last resort of a director with no other directors to turn to.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass

from ipvsctl.bgp.render import Route
from ipvsctl.health.spec import NoCheck
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.model import Announce, Cluster, Service, ServiceKey


@dataclass(frozen=True, slots=True)
class Vote:
    service: ServiceKey
    name: str | None
    healthy: int
    unknown: int
    needed: int
    vote: bool | None  # None: undecided (verdicts missing)
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """One VIP: announce it or not, the route it is announced as, and why."""

    route: Route
    announce: bool
    reason: str
    votes: tuple[Vote, ...]


def announcements(cluster: Cluster, states: Mapping[CheckTarget, State],
                  announced: Set[str], present: Set[ServiceKey] | None = None
                  ) -> dict[str, Verdict]:
    """Every announced-by-file VIP of `cluster`, decided. `announced`: the VIPs announced now;
    `present`: the services the kernel has (None: not known, not required)."""
    by_vip: dict[str, list[Vote]] = {}
    routes: dict[str, Route] = {}
    for key, rule in sorted(cluster.announce.items()):
        service = cluster.services.get(key)
        if service is None or key.is_fwmark:
            continue
        if present is not None and key not in present:
            vote = Vote(key, service.name, 0, 0, 0, False, "not in the kernel table")
        else:
            vote = _vote(cluster, service, rule, states)
        by_vip.setdefault(key.address, []).append(vote)
        routes.setdefault(key.address, Route(key.address, rule.med, rule.communities))
    out: dict[str, Verdict] = {}
    for address, votes in by_vip.items():
        route = routes[address]
        against = [v for v in votes if v.vote is False]
        open_ = [v for v in votes if v.vote is None]
        if against:
            yes, reason = False, "; ".join(f"{_named(v)}: {v.reason}" for v in against)
        elif open_:
            yes = address in announced
            reason = ("kept announced" if yes else "kept withdrawn") + " until the checks " \
                f"decide ({'; '.join(f'{_named(v)}: {v.reason}' for v in open_)})"
        else:
            yes, reason = True, "; ".join(f"{_named(v)}: {v.reason}" for v in votes)
        out[address] = Verdict(route, yes, reason, tuple(votes))
    return out


def _vote(cluster: Cluster, service: Service, rule: Announce,
          states: Mapping[CheckTarget, State]) -> Vote:
    health = cluster.health.get(service.key)
    serving = healthy = unknown = 0
    for rs_key, rs in service.real_servers.items():
        if rs.draining or rs.spec.weight == 0:
            continue
        serving += 1
        spec = health.check_of(rs_key) if health is not None else None
        if spec is None or isinstance(spec, NoCheck):
            healthy += 1
            continue
        state = states.get(target_of(service.key, rs_key, spec), State.UNKNOWN)
        if state is State.UP:
            healthy += 1
        elif state is State.UNKNOWN:
            unknown += 1
    needed = max(1, rule.min_healthy.needed(serving))
    counted = f"{healthy} of {serving} healthy, min_healthy {rule.min_healthy.describe()} " \
              f"needs {needed}"
    if healthy >= needed:
        return Vote(service.key, service.name, healthy, unknown, needed, True, counted)
    if healthy + unknown < needed:
        return Vote(service.key, service.name, healthy, unknown, needed, False, counted)
    return Vote(service.key, service.name, healthy, unknown, needed, None,
                f"{counted}, {unknown} not checked yet")


def routes_of(verdicts: Mapping[str, Verdict]) -> list[Route]:
    """The routes to announce, in address order."""
    return [v.route for _, v in sorted(verdicts.items()) if v.announce]


def _named(vote: Vote) -> str:
    return f"{vote.service}" + (f" ({vote.name})" if vote.name else "")
