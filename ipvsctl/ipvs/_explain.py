"""The kernel's refusals in words a network engineer acts on, given what was being changed."""

from __future__ import annotations

import errno
import os

from ipvsctl.director.ops import (
    REAL_SERVER_OPS,
    SERVICE_OPS,
    SYNC_DAEMON_OPS,
    AddRealServer,
    AddService,
    DeleteRealServer,
    EditService,
    RealServerOp,
    ServiceOp,
    SetTimeouts,
    StartSyncDaemon,
    StopSyncDaemon,
    SyncDaemonOp,
)
from ipvsctl.plan.changes import Operation

LO_DOWN_HINT = (
    "the kernel rejected the real server address; in a fresh network namespace bring `lo` up "
    "(ip link set lo up): the kernel checks the address type against the namespace's routes")


def _generic(err: int) -> str:
    name = errno.errorcode.get(err, str(err))
    return f"{os.strerror(err).lower()} ({name})"


def service_error(err: int, op: ServiceOp, module_problem: str | None = None) -> str:
    spec = op.service.spec
    settings = isinstance(op, AddService | EditService)
    if err == errno.EEXIST and isinstance(op, AddService):
        return "the service already exists"
    if err == errno.ESRCH:
        return "no such service"
    if err == errno.ENOENT and settings:
        if module_problem:
            return module_problem
        engine = spec.persistence.engine if spec.persistence else None
        text = f"scheduler module ip_vs_{spec.scheduler} is not available"
        if engine:
            text += f" (or persistence engine module ip_vs_pe_{engine})"
        return text
    if err == errno.EINVAL and settings:
        return ("the kernel rejected the service settings (scheduler flags, persistence "
                "timeout or netmask)")
    if err == errno.EAFNOSUPPORT:
        return "this kernel's IPVS has no IPv6 support"
    return _generic(err)


def real_server_error(err: int, op: RealServerOp) -> str:
    service_key, rs = op.service, op.real_server
    spec = rs.spec
    if err == errno.ESRCH:
        return f"no such service {service_key}"
    if err == errno.EEXIST and isinstance(op, AddRealServer):
        return "the real server already exists in this service"
    if err == errno.ENOENT and not isinstance(op, AddRealServer):
        return "no such real server in this service"
    if err == errno.ERANGE:
        return (f"lower threshold {spec.lower_threshold} is above upper threshold "
                f"{spec.upper_threshold}")
    if err in (errno.EINVAL, errno.ENOENT) and not isinstance(op, DeleteRealServer):
        mixed = not service_key.is_fwmark and rs.key.family != service_key.family
        if mixed and spec.forward != "tunnel":
            return ("a real server of another address family than the service needs tunnel "
                    "forwarding")
        if spec.forward == "tunnel" and spec.tunnel and spec.tunnel.type == "gue" \
                and not spec.tunnel.port:
            return "a GUE tunnel needs a destination port"
        if spec.forward == "tunnel" and spec.tunnel and spec.tunnel.csum == "remcsum" \
                and spec.tunnel.type != "gue":
            return "remote checksum offload (remcsum) needs a GUE tunnel"
        return LO_DOWN_HINT
    if err == errno.EAFNOSUPPORT:
        return "this kernel cannot mix address families in one service"
    return _generic(err)


def sync_daemon_error(err: int, op: SyncDaemonOp) -> str:
    daemon = op.daemon if isinstance(op, StartSyncDaemon | StopSyncDaemon) else op.new
    thread = f"the sync daemon's {daemon.state} thread"
    if err == errno.EEXIST:
        return f"{thread} is already running (started by another tool?)"
    if err == errno.ESRCH:
        return f"{thread} is not running"
    if err == errno.ENODEV:
        return f"no interface {daemon.interface} in this network namespace"
    if err == errno.EINVAL:
        return (f"the kernel refused {thread}'s settings (the group must be multicast, the "
                "interface up and able to multicast)")
    return _generic(err)


def change_error(err: int, op: Operation, module_problem: str | None = None) -> str:
    if err == errno.EPERM:
        return "permission denied: changing IPVS needs root (CAP_NET_ADMIN)"
    if isinstance(op, SERVICE_OPS):
        return service_error(err, op, module_problem)
    if isinstance(op, REAL_SERVER_OPS):
        return real_server_error(err, op)
    if isinstance(op, SYNC_DAEMON_OPS):
        return sync_daemon_error(err, op)
    if isinstance(op, SetTimeouts) and err == errno.EINVAL:
        return "the kernel rejected the timeouts (each must be 0..2147483 seconds)"
    return _generic(err)
