"""The director planner: desired Cluster + observed kernel state -> ordered, self-describing Plan.

Pure: data in, data out. No pyroute2, no os, no subprocess. Everything is keyed by value
objects, so the diff is a handful of dict lookups per entry, never a nested loop.

Order of changes (so capacity never dips and references always exist):
  director settings, add services, edit services, add real servers, edit real servers,
  drain real servers, delete real servers, delete services.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from typing import Any

from ipvsctl.director.drains import Removal
from ipvsctl.director.ops import (
    AddRealServer,
    AddService,
    EditRealServer,
    EditService,
    RestartSyncDaemon,
    SetInterfaceSysctl,
    SetSysctl,
    SetTimeouts,
    StartSyncDaemon,
    StopSyncDaemon,
    describe,
    named,
    rs_target,
    spec_json,
)
from ipvsctl.model import (
    SYNC_STATES,
    Cluster,
    Observed,
    RealServer,
    RealServerSpec,
    Service,
    ServiceKey,
    ServiceSpec,
    SyncDaemon,
    SysctlValue,
    Timeouts,
    sysctl_text,
)
from ipvsctl.plan.changes import Change, Noop, Plan

ORDER = ("settings", "add-service", "edit-service", "add-rs", "edit-rs", "drain-rs", "delete-rs",
         "delete-service")


@dataclasses.dataclass(frozen=True, slots=True)
class Ownership:
    """Which observed services this run may change or remove."""

    managed: Set[ServiceKey] = frozenset()  # recorded as created by ipvsctl
    prune: bool = False  # claim every service in the kernel

    def owns(self, key: ServiceKey, cluster: Cluster) -> bool:
        return self.prune or key in self.managed or cluster.scope.claims(key)


def plan_director(desired: Cluster, observed: Observed, ownership: Ownership = Ownership(),
                  *, now: float = 0.0, drains: Mapping[str, float] | None = None) -> Plan:
    plan = Plan()
    buckets: dict[str, list[Change]] = {name: [] for name in ORDER}
    removal = Removal(desired.director.drain_timeout, now, drains or {}, plan.noops)
    label = desired.path or "the cluster file"
    _plan_settings(desired, observed, buckets["settings"], plan)

    kept_services = kept_rs = 0
    as_desired = observed.as_desired
    for key in sorted(desired.services):
        want = desired.services[key]
        if key in as_desired:  # the adapter found it exactly so (compared, not built)
            kept_services += 1
            kept_rs += len(want.real_servers)
            continue
        have = observed.services.get(key)
        if have is None:
            buckets["add-service"].append(_add_service(want))
            buckets["add-rs"].extend(_rs_adds(key, want))
            continue
        if want.spec != have.spec:
            buckets["edit-service"].append(_edit_service(want, have))
        else:
            kept_services += 1
        for rs_key in sorted(want.real_servers):
            rs = want.real_servers[rs_key]
            old = have.real_servers.get(rs_key)
            if old is None:
                buckets["add-rs"].append(_add_rs(key, rs))
            elif old.spec != rs.spec:
                buckets["edit-rs"].append(_edit_rs(key, rs, old))
            else:
                kept_rs += 1
        for rs_key in sorted(set(have.real_servers) - set(want.real_servers)):
            removal.real_server(key, have.real_servers[rs_key], f"not in {label}")

    for key in sorted(set(observed.services) - set(desired.services)):
        have = observed.services[key]
        if not ownership.owns(key, desired):
            plan.noops.append(Noop("service", str(key),
                                   f"service {key} is not managed by ipvsctl "
                                   "(made by another tool); left alone"))
            continue
        removal.service(have, label)

    buckets["drain-rs"], buckets["delete-rs"] = removal.drain_rs, removal.delete_rs
    buckets["delete-service"] = removal.delete_service
    for name in ORDER:
        plan.changes.extend(buckets[name])
    plan.unchanged = {"services": kept_services, "real servers": kept_rs}
    return plan


def _plan_settings(desired: Cluster, observed: Observed, out: list[Change], plan: Plan) -> None:
    want_t, have_t = desired.director.timeouts, observed.timeouts
    diffs = [(f, getattr(have_t, f), getattr(want_t, f)) for f in ("tcp", "tcpfin", "udp")
             if getattr(want_t, f) is not None and getattr(want_t, f) != getattr(have_t, f)]
    if diffs:
        text = "set IPVS timeouts " + ", ".join(f"{f} {old}s -> {new}s" for f, old, new in diffs)
        out.append(Change(SetTimeouts(want_t), "ipvs-timeouts", text,
                          before=dataclasses.asdict(have_t), after=dataclasses.asdict(want_t)))
    elif want_t != Timeouts():
        plan.noops.append(Noop("timeouts", "ipvs-timeouts", "IPVS timeouts already as declared"))
    for name in sorted(desired.director.sysctls):
        value = desired.director.sysctls[name]
        full = f"net.ipv4.vs.{name}"
        current = observed.sysctls.get(name)
        if current is None:
            plan.warnings.append(f"sysctl {full} does not exist in this kernel; not set")
        elif current != value:
            out.append(Change(SetSysctl(name, value), full,
                              f"set sysctl {full} {sysctl_text(current)} -> "
                              f"{sysctl_text(value)}", before=_plain(current),
                              after=_plain(value)))
        else:
            plan.noops.append(Noop("sysctl", full, f"sysctl {full} already "
                                                   f"{sysctl_text(value)}"))
    for (interface, setting), value in sorted(desired.director.interface_sysctls.items()):
        full = f"net.ipv4.conf.{interface}.{setting}"
        current = observed.interface_sysctls.get((interface, setting))
        if current is None:
            plan.warnings.append(f"sysctl {full} does not exist (no interface {interface}?); "
                                 "not set")
        elif current != value:
            out.append(Change(SetInterfaceSysctl(interface, setting, value), full,
                              f"set sysctl {full} {current} -> {value} (via: vip checks)",
                              before=current, after=value))
        else:
            plan.noops.append(Noop("sysctl", full, f"sysctl {full} already {value}"))
    if desired.director.sync_daemons is not None:
        _plan_sync(desired.director.sync_daemons, observed.sync_daemons, out, plan)


def _plan_sync(want: Mapping[str, SyncDaemon], have: Mapping[str, SyncDaemon],
               out: list[Change], plan: Plan) -> None:
    """Each sync thread (master, backup) started, stopped or restarted to match the file."""
    for state in SYNC_STATES:
        new, old = want.get(state), have.get(state)
        target = f"sync-daemon/{state}"
        what = f"IPVS sync daemon {state} thread"
        if new is not None and old is None:
            out.append(Change(StartSyncDaemon(new), target, f"start {what} ({new.describe()})",
                              after=new._asdict()))
        elif new is None and old is not None:
            out.append(Change(StopSyncDaemon(old), target,
                              f"stop {what} ({old.describe()}): the file says sync: false",
                              before=old._asdict()))
        elif new is not None and old is not None and not new.satisfied_by(old):
            out.append(Change(RestartSyncDaemon(old, new), target,
                              f"restart {what} (no in-place change exists; connections stay): "
                              f"{_field_diffs(old, new)}", before=old._asdict(),
                              after=new._asdict()))
        elif old is not None:
            plan.noops.append(Noop("sync-daemon", target,
                                   f"{what} already running ({old.describe()})"))
        else:
            plan.noops.append(Noop("sync-daemon", target, f"{what} not running, as declared"))


def _add_service(service: Service) -> Change:
    text = f"add service {named(service)} [{service.spec.describe()}]"
    return Change(AddService(service), str(service.key), text, after=spec_json(service.spec))


def _field_diffs(old: ServiceSpec | RealServerSpec | SyncDaemon,
                 new: ServiceSpec | RealServerSpec | SyncDaemon) -> str:
    parts = []
    for name, a, b in zip(new._fields, old, new, strict=True):
        if a != b and not (isinstance(new, SyncDaemon) and b is None):
            parts.append(f"{name.replace('_', ' ')} {_show(a)} -> {_show(b)}")
    return ", ".join(parts)


def _plain(value: SysctlValue) -> int | list[int]:
    """A sysctl value for JSON: an integer, or the pair as a list."""
    return list(value) if isinstance(value, tuple) else value


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "none"
    if hasattr(value, "describe"):
        return str(value.describe())
    return str(value)


def _edit_service(want: Service, have: Service) -> Change:
    text = f"edit service {named(want)} in place: {_field_diffs(have.spec, want.spec)}"
    return Change(EditService(want), str(want.key), text, before=spec_json(have.spec),
                  after=spec_json(want.spec))


def _add_rs(service: ServiceKey, rs: RealServer) -> Change:
    text = f"add real server {rs.key} ({describe(rs.spec)}) to {service}"
    return Change(AddRealServer(service, rs), rs_target(service, rs), text,
                  after=spec_json(rs.spec))


def _rs_adds(service: ServiceKey, want: Service) -> list[Change]:
    """_add_rs() for every real server of a new service, in key order; the service is printed
    once, not once per real server (the hot path of a first apply)."""
    name = str(service)
    servers = want.real_servers
    out = []
    for rs_key in sorted(servers):
        rs = servers[rs_key]
        spec = rs.spec
        key = str(rs_key)
        out.append(Change(AddRealServer(service, rs), f"{name} -> {key}",
                          f"add real server {key} ({describe(spec)}) to {name}",
                          after=spec_json(spec)))
    return out


def _edit_rs(service: ServiceKey, want: RealServer, have: RealServer) -> Change:
    diffs = _field_diffs(have.spec, want.spec)
    text = f"edit real server {want.key} in {service} in place: {diffs}"
    if want.draining and have.spec.weight != 0:
        text += " (declared draining)"
    return Change(EditRealServer(service, want), rs_target(service, want), text,
                  before=spec_json(have.spec), after=spec_json(want.spec))
