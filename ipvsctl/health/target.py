"""What one check looks at, and how it gets there.

A CheckTarget is the identity of a check, and so of its health state: the spec, the real
server's address and the port checked, plus the VIP where the check depends on it (a `via: vip`
check goes to the VIP; an exec check gets it in its environment). A real server behind many
services is checked once per distinct target, not once per service.

A Probe adds what the runner needs to send the packets but what is not part of the identity:
the fwmark steering a `via: vip` check to this real server and the director's own source
address for it.
"""

from __future__ import annotations

from typing import NamedTuple

from ipvsctl.health.spec import CheckSpec, ExecCheck
from ipvsctl.model import RealServerKey, ServiceKey, bracket


class CheckTarget(NamedTuple):
    spec: CheckSpec
    address: str  # the real server's address
    port: int  # the port the check connects to
    vip: str | None = None  # set for `via: vip` checks and for exec checks
    protocol: str = "tcp"  # the service's (tcp, udp, sctp, fwmark): in an exec's environment

    @property
    def via_vip(self) -> bool:
        return self.vip is not None and self.spec.network and self.spec.via == "vip"

    @property
    def destination(self) -> tuple[str, int]:
        """Where the packets go: the VIP for `via: vip`, else the real server itself."""
        vip = self.vip  # (via_vip inlined: this runs once per check)
        if vip and self.spec.via == "vip" and self.spec.network:
            return (vip, self.port)
        return (self.address, self.port)

    def describe(self) -> str:
        where = f"{bracket(self.address)}:{self.port}"
        if self.via_vip:
            where += f" via {bracket(self.vip or '')}"
        return f"{self.spec.kind} {where}"


def target_of(service: ServiceKey, rs: RealServerKey, spec: CheckSpec) -> CheckTarget:
    """The check of real server `rs` in `service` under `spec` (a network or exec spec)."""
    port = spec.port if spec.port is not None else (rs.port or service.port)
    vip: str | None = None
    if isinstance(spec, ExecCheck) or (spec.network and spec.via == "vip"):
        vip = service.address or None  # fwmark services have no VIP to go to
    return CheckTarget(spec, rs.address, port, vip, service.protocol)


class Route(NamedTuple):
    """How the director reaches one real server: the interface the kernel's route uses, and
    the source address it picks (host/routes.py asks the kernel)."""

    interface: str
    source: str | None


class Probe(NamedTuple):
    target: CheckTarget
    mark: int = 0  # SO_MARK of the check's socket (0: none)
    source: str | None = None  # the director's address to send from (None: the kernel picks)
