"""The fwmark services that steer `via: vip` checks along the DR path.

IPVS schedules the packets the director sends itself. A check socket marked with SO_MARK M,
connecting to VIP:port, is caught by fwmark service M, whose only real server is the one to
check, and forwarded to it exactly as a client's packet would be (DR: MAC rewrite, the VIP
kept; tunnel: encapsulated). One such service per real server path (its address and
forwarding method) serves every VIP and port on that server. Marks come from a range reserved
for ipvsctl (Seesaw's choice of base: 1 << 16); cluster files may not use it.

Allocation is pure and stable: a path keeps the mark the kernel already gives it, so a restart
or a reload changes nothing; new paths take the lowest free marks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ipvsctl.errors import ConfigError
from ipvsctl.model import (
    Observed,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Service,
    ServiceKey,
    ServiceSpec,
    Tunnel,
)

FIRST_MARK = 1 << 16
MARK_COUNT = 1 << 20
LAST_MARK = FIRST_MARK + MARK_COUNT - 1
CHECK_SCHEDULER = "rr"


def reserved(mark: int) -> bool:
    return FIRST_MARK <= mark <= LAST_MARK


class CheckPath(NamedTuple):
    """How packets reach one real server: the VIP's family, its address and forwarding."""

    family: int
    address: str
    forward: str
    tunnel: Tunnel | None = None


def path_of(family: int, rs: RealServer) -> CheckPath:
    return CheckPath(family, rs.key.address, rs.spec.forward, rs.spec.tunnel)


def _observed_path(service: Service) -> CheckPath | None:
    if len(service.real_servers) != 1:
        return None
    (rs,) = service.real_servers.values()
    return path_of(service.key.family, rs)


def allocate(paths: Iterable[CheckPath], observed: Observed) -> dict[CheckPath, int]:
    """A mark for every path: the one the kernel has for it, else the lowest free."""
    wanted = set(paths)
    marks: dict[CheckPath, int] = {}
    taken: set[int] = set()
    for key, service in observed.services.items():
        if key.is_fwmark and reserved(key.fwmark):
            taken.add(key.fwmark)
            path = _observed_path(service)
            if path in wanted and path not in marks and path is not None:
                marks[path] = key.fwmark
    mark = FIRST_MARK
    for path in sorted(wanted - set(marks), key=_order):
        while mark in taken:
            mark += 1
        if mark > LAST_MARK:
            raise ConfigError([f"more than {MARK_COUNT} real-server paths need via: vip "
                               "check services; use via: address for some"])
        marks[path] = mark
        taken.add(mark)
    return marks


def _order(path: CheckPath) -> tuple[int, str, str, tuple[str, int, str]]:
    tunnel = path.tunnel or Tunnel("", 0, "")
    return (path.family, path.address, path.forward, tuple(tunnel))  # type: ignore[return-value]


def check_service(path: CheckPath, mark: int) -> Service:
    """The fwmark service steering marked check packets to the path's real server."""
    key = ServiceKey.mark(mark, path.family)
    rs = RealServer(RealServerKey(path.address, 0),
                    RealServerSpec(weight=1, forward=path.forward, tunnel=path.tunnel))
    return Service(key, ServiceSpec(CHECK_SCHEDULER), {rs.key: rs},
                   name=f"check path to {path.address}")
