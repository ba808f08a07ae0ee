"""The daemon's state, frozen into a Snapshot (snapshot.py) for status pages and metrics."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from ipvsctl.daemon.snapshot import RealServerStatus, ServiceStatus, Snapshot
from ipvsctl.health.marks import FIRST_MARK
from ipvsctl.health.policy import ServiceHealth
from ipvsctl.health.spec import NoCheck
from ipvsctl.health.state import State
from ipvsctl.health.target import target_of
from ipvsctl.metrics.provider import (
    AnnouncementFacts,
    BgpFacts,
    BgpSessionFacts,
    CheckerFacts,
)
from ipvsctl.model import Service

if TYPE_CHECKING:
    from ipvsctl.daemon.loop import Daemon
    from ipvsctl.health.runner import Runner

_NO_RULES = ServiceHealth()


def snapshot_of(daemon: Daemon, runner: Runner | None, writes: int) -> Snapshot:
    services = tuple(_service(daemon, service) for _, service in
                     sorted(daemon.cluster.services.items()))
    paths = sum(1 for k in daemon.kernel if k.is_fwmark and (k.fwmark or 0) >= FIRST_MARK)
    return Snapshot(
        pid=os.getpid(), started=daemon.started, file=str(daemon.path), netns=daemon.netns,
        ready=daemon.ready, taken=time.time(), last_reload=daemon.last_reload,
        last_good_reload=daemon.last_good_reload, last_repair=daemon.last_repair,
        last_reconcile=daemon.last_reconcile, connections_at=None, services=services,
        check_paths=paths, counters=daemon.stats.frozen(writes), bgp=_bgp(daemon),
        checker=checker_of(runner))


def checker_of(runner: Runner | None) -> CheckerFacts | None:
    """The runner's figures, copied (on the loop: lag() reads its heap)."""
    if runner is None or not runner.target_count:
        return None
    c = runner.counters
    return CheckerFacts(runner.target_count, runner.in_flight, runner.lag(), c.started,
                        c.succeeded, c.failed, c.timed_out, c.overrun, c.capped, c.late,
                        c.stalled)


def _bgp(daemon: Daemon) -> BgpFacts | None:
    announcer = daemon.announcer
    node = daemon.cluster.bgp_node
    if announcer is None or node is None:
        return None
    return BgpFacts(
        node.name,
        tuple(BgpSessionFacts(s.name, s.neighbour, s.asn, s.state)
              for s in announcer.session_list()),
        tuple(AnnouncementFacts(a.address, a.announced, a.reason, a.since or None,
                                tuple(str(k) for k in a.services))
              for a in announcer.announcement_list()))


def _service(daemon: Daemon, service: Service) -> ServiceStatus:
    rules = daemon.cluster.health.get(service.key, _NO_RULES)
    live = daemon.kernel.get(service.key)
    statuses: list[RealServerStatus] = []
    total = up = pooled = 0
    holding = False
    for rs_key, rs in sorted(service.real_servers.items()):
        had = live.real_servers.get(rs_key) if live else None
        weight = had.spec.weight if had is not None else None
        file_weight = 0 if rs.draining else rs.spec.weight
        spec = rules.check_of(rs_key)
        serving = file_weight > 0
        if isinstance(spec, NoCheck):
            state, check, detail, since, last, success = "unchecked", None, "", None, None, None
        else:
            seen = daemon.tracker.seen(target_of(service.key, rs_key, spec))
            check = spec.kind
            if seen is None:
                state, detail, since, last, success = "unknown", "", None, None, None
            else:
                state, detail = seen.state.value, seen.detail
                since, last = seen.since or None, seen.checked or None
                success = seen.succeeded or None
        kept = state == State.DOWN.value and (weight or 0) > 0
        holding |= kept and serving
        if serving:
            total += 1
            up += state in ("up", "unchecked")
            pooled += (weight or 0) > 0
        statuses.append(RealServerStatus(rs_key, state, check, detail, since, last, success,
                                         weight, file_weight, kept, False,
                                         had.connections if had else None))
    sorry_pooled = False
    if rules.sorry_server is not None:
        sorry = rules.sorry_server
        had = live.real_servers.get(sorry.key) if live else None
        sorry_pooled = had is not None and had.spec.weight > 0
        statuses.append(RealServerStatus(sorry.key, "unchecked", None, "", None, None, None,
                                         had.spec.weight if had else None, sorry.spec.weight,
                                         False, True, had.connections if had else None))
    return ServiceStatus(service.key, service.name, total, up, pooled,
                         rules.min_healthy.describe(), rules.min_healthy.needed(total),
                         holding, sorry_pooled, tuple(statuses))
