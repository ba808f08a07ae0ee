"""The director's typed changes: one operation per thing the IPVS adapter does.

A Change (plan/changes.py) carries one of these as its `op`; the IPVS adapter dispatches on its
type, and so does the workflow when it records what an apply deleted or drained. Plain data:
the planner decides, the adapter executes, nobody compares strings. Below them, the helpers every
director change uses to name its target and summarise its before and after as JSON.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from ipvsctl.model import (
    RealServer,
    RealServerSpec,
    Service,
    ServiceKey,
    ServiceSpec,
    SyncDaemon,
    SysctlValue,
    Timeouts,
    fields_dict,
)


@dataclass(frozen=True, slots=True)
class AddService:
    action: ClassVar[str] = "add"
    subject: ClassVar[str] = "service"
    service: Service  # its key and spec; each real server is added by a change of its own


@dataclass(frozen=True, slots=True)
class EditService:
    action: ClassVar[str] = "edit"
    subject: ClassVar[str] = "service"
    service: Service  # the key and the new spec, set in place


@dataclass(frozen=True, slots=True)
class DeleteService:
    action: ClassVar[str] = "delete"
    subject: ClassVar[str] = "service"
    service: Service  # as observed


@dataclass(frozen=True, slots=True)
class AddRealServer:
    action: ClassVar[str] = "add"
    subject: ClassVar[str] = "real-server"
    service: ServiceKey
    real_server: RealServer


@dataclass(frozen=True, slots=True)
class EditRealServer:
    action: ClassVar[str] = "edit"
    subject: ClassVar[str] = "real-server"
    service: ServiceKey
    real_server: RealServer  # the new spec, set in place


@dataclass(frozen=True, slots=True)
class DrainRealServer:
    action: ClassVar[str] = "drain"
    subject: ClassVar[str] = "real-server"
    service: ServiceKey
    real_server: RealServer  # its spec at weight 0


@dataclass(frozen=True, slots=True)
class DeleteRealServer:
    action: ClassVar[str] = "delete"
    subject: ClassVar[str] = "real-server"
    service: ServiceKey
    real_server: RealServer  # as observed


@dataclass(frozen=True, slots=True)
class SetTimeouts:
    action: ClassVar[str] = "set"
    subject: ClassVar[str] = "timeouts"
    timeouts: Timeouts  # None fields are left as they are


@dataclass(frozen=True, slots=True)
class SetSysctl:
    action: ClassVar[str] = "set"
    subject: ClassVar[str] = "sysctl"
    name: str  # under net.ipv4.vs
    value: SysctlValue


@dataclass(frozen=True, slots=True)
class SetInterfaceSysctl:
    action: ClassVar[str] = "set"
    subject: ClassVar[str] = "sysctl"
    interface: str  # net.ipv4.conf.<interface>.<setting>
    setting: str
    value: int


@dataclass(frozen=True, slots=True)
class StartSyncDaemon:
    action: ClassVar[str] = "start"
    subject: ClassVar[str] = "sync-daemon"
    daemon: SyncDaemon  # IPVS_CMD_NEW_DAEMON


@dataclass(frozen=True, slots=True)
class StopSyncDaemon:
    action: ClassVar[str] = "stop"
    subject: ClassVar[str] = "sync-daemon"
    daemon: SyncDaemon  # as observed; IPVS_CMD_DEL_DAEMON of its state


@dataclass(frozen=True, slots=True)
class RestartSyncDaemon:
    """The kernel has no in-place change for a sync thread: stop it, start it as declared.
    The connection table is untouched (threads only carry updates)."""

    action: ClassVar[str] = "restart"
    subject: ClassVar[str] = "sync-daemon"
    old: SyncDaemon
    new: SyncDaemon


ServiceOp = AddService | EditService | DeleteService
RealServerOp = AddRealServer | EditRealServer | DrainRealServer | DeleteRealServer
SyncDaemonOp = StartSyncDaemon | StopSyncDaemon | RestartSyncDaemon
DirectorOp = (ServiceOp | RealServerOp | SetTimeouts | SetSysctl | SetInterfaceSysctl
              | SyncDaemonOp)
SERVICE_OPS = (AddService, EditService, DeleteService)
REAL_SERVER_OPS = (AddRealServer, EditRealServer, DrainRealServer, DeleteRealServer)
SYNC_DAEMON_OPS = (StartSyncDaemon, StopSyncDaemon, RestartSyncDaemon)


# ---- how director changes describe themselves ------------------------------------------------

def named(service: Service) -> str:
    """A service as changes print it: its key, and its name from the file if it has one."""
    return f"{service.key}" + (f" ({service.name})" if service.name else "")


def rs_target(service: ServiceKey, rs: RealServer) -> str:
    return f"{service} -> {rs.key}"


@functools.lru_cache(maxsize=4096)
def spec_json(spec: ServiceSpec | RealServerSpec) -> dict[str, Any]:
    """Cached: a table of 100,000 real servers has a handful of distinct specs, so changes share
    these dicts (read-only: they only ever go to json.dumps)."""
    data = fields_dict(spec)
    if isinstance(spec, ServiceSpec):
        data["scheduler_flags"] = sorted(spec.scheduler_flags)
    return data


@functools.lru_cache(maxsize=4096)
def describe(spec: RealServerSpec) -> str:
    return spec.describe()
