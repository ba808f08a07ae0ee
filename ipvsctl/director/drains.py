"""Graceful removal: what leaves the file drains first, and its drain is remembered by id.

A real server the file no longer lists is set to weight 0 while it still has connections and
deleted once they reach 0 (or once the file's drain_timeout has passed since the drain started);
a service leaves once all its real servers have. Pure, like the planner that calls it: whether a
server is draining is read from the kernel (weight 0, not in the file), and only each drain's
start time is kept, in the ownership record under its drain_id().
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ipvsctl.director.ops import (
    DeleteRealServer,
    DeleteService,
    DrainRealServer,
    named,
    rs_target,
    spec_json,
)
from ipvsctl.model import RealServer, Service, ServiceKey
from ipvsctl.plan.changes import Change, Noop


def drain_id(service: ServiceKey, rs: RealServer) -> str:
    """The key under which a drain's start time is recorded."""
    return f"{service}|{rs.key}"


def drain_service(drain: str) -> str:
    """The service part of a drain id, as str(ServiceKey) prints it (which never holds '|')."""
    return drain.partition("|")[0]


def connections(rs: RealServer) -> int:
    return rs.connections.total if rs.connections else 0


@dataclass(slots=True)
class Removal:
    """Plans graceful removals, putting each change in the plan's bucket for its kind."""

    drain_timeout: int | None  # seconds; None: wait for the connections to reach 0
    now: float
    started: Mapping[str, float]  # drain id -> when that drain started (the record's)
    noops: list[Noop]  # the plan's: what is still draining, waiting on connections
    drain_rs: list[Change] = field(default_factory=list)
    delete_rs: list[Change] = field(default_factory=list)
    delete_service: list[Change] = field(default_factory=list)

    def real_server(self, service: ServiceKey, have: RealServer, why: str) -> bool:
        """Plan the graceful removal of one real server. True when it is deleted in this plan."""
        conns = connections(have)
        target = rs_target(service, have)
        if conns == 0:
            text = f"delete real server {have.key} from {service} ({why}; no connections)"
            self.delete_rs.append(Change(DeleteRealServer(service, have), target, text,
                                         before=spec_json(have.spec)))
            return True
        if have.spec.weight != 0:
            drained = RealServer(have.key, have.spec._replace(weight=0))
            text = (f"drain real server {have.key} in {service} ({why}): weight "
                    f"{have.spec.weight} -> 0, {conns} connection(s) left; "
                    "deleted once they reach 0")
            self.drain_rs.append(Change(DrainRealServer(service, drained), target, text,
                                        before=spec_json(have.spec),
                                        after=spec_json(drained.spec)))
            return False
        timeout, now = self.drain_timeout, self.now
        started = self.started.get(drain_id(service, have))
        if timeout is not None and started is not None and now - started >= timeout:
            text = (f"delete real server {have.key} from {service} ({why}; drain timeout "
                    f"{timeout}s reached with {conns} connection(s) left)")
            self.delete_rs.append(Change(DeleteRealServer(service, have), target, text,
                                         before=spec_json(have.spec)))
            return True
        left = ""
        if timeout is not None and started is not None:
            left = f", {max(0, int(timeout - (now - started)))}s until the drain timeout"
        self.noops.append(Noop("real-server", target,
                               f"real server {have.key} in {service} is draining: "
                               f"{conns} connection(s) left{left}", waiting=True))
        return False

    def service(self, have: Service, label: str) -> None:
        """A service leaves once all its real servers have drained (or none has traffic)."""
        busy = [have.real_servers[k] for k in sorted(have.real_servers)
                if connections(have.real_servers[k]) > 0]
        if not busy:
            n = len(have.real_servers)
            self.delete_service.append(
                _delete_service(have, f"not in {label}; {n} real server(s), no connections"))
            return
        scratch = Removal(self.drain_timeout, self.now, self.started, self.noops)
        done = [scratch.real_server(have.key, rs, f"service not in {label}") for rs in busy]
        if all(done):
            self.delete_service.append(
                _delete_service(have, f"not in {label}; drain timeout reached"))
            return
        # Drain the busy ones; the idle ones stay until the service goes (no churn meanwhile).
        self.drain_rs.extend(scratch.drain_rs)


def _delete_service(service: Service, note: str) -> Change:
    text = f"delete service {named(service)} ({note})"
    return Change(DeleteService(service), str(service.key), text,
                  before=spec_json(service.spec))
