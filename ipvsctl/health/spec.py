"""What a health check is: one frozen, hashable spec per check type.

A spec is what the cluster file says after every default is filled (the loader fills them, as
it does for weights and schedulers), so two real servers with the same spec, address and port
share one check however many services list them. The timing fields are common to every type;
each type adds its own.

`via` says which path a network check travels:
- `address`: to the real server's own address and port. Proves the process listens; says
  nothing about the VIP.
- `vip`: to VIP:port, steered to this one real server by a per-real-server fwmark service on
  the director (see marks.py), so the packets take exactly the way clients' packets take:
  DR (or the tunnel), the VIP on the real server's loopback, its reply sourced from the VIP.

The default is `vip` for DR and tunnel real servers: the commonest DR failure is a real server
that lost its VIP on `lo` (a reboot without the boot-time files, a network restart, a container
that came up without it). It still answers on its own address, so an address check calls it
healthy while every client packet sent to it is dropped. Only a check along the DR path sees
what clients see. NAT real servers are reached at their own address anyway, so `address` is
their default, and exec checks run a program, which opens its own sockets: `address` only.
ARP problems on a real server (answering ARP for the VIP) are invisible to any check from the
director: `ipvsctl backend-check` and the lab find those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

# What a check holds when the file says nothing (the names and bounds: config/vocabulary).
DEFAULT_INTERVAL = 2.0
DEFAULT_TIMEOUT = 1.0
DEFAULT_RISE = 2
DEFAULT_FALL = 3


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """The fields every check has. `port` None = the real server's own port."""

    type: ClassVar[str] = "?"
    network: ClassVar[bool] = True  # opens a socket to the target (exec and none do not)

    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    rise: int = DEFAULT_RISE
    fall: int = DEFAULT_FALL
    port: int | None = None
    via: str = "address"

    @property
    def kind(self) -> str:
        return self.type

    def details(self) -> str:
        """The type's own settings, in words (empty for tcp)."""
        return ""

    def describe(self) -> str:
        extra = self.details()
        via = f" via {self.via}" if self.network else ""
        return (f"{self.kind} check{' ' + extra if extra else ''} every {_s(self.interval)} "
                f"(timeout {_s(self.timeout)}, rise {self.rise}, fall {self.fall}){via}")


def _s(seconds: float) -> str:
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class NoCheck(CheckSpec):
    """No checking: the real server keeps its file weight."""

    type: ClassVar[str] = "none"
    network: ClassVar[bool] = False

    def describe(self) -> str:
        return "no check"


@dataclass(frozen=True, slots=True)
class TcpCheck(CheckSpec):
    """Up when a TCP connection is established within the timeout."""

    type: ClassVar[str] = "tcp"


@dataclass(frozen=True, slots=True)
class HttpCheck(CheckSpec):
    """One HTTP/1.1 GET; up when the status is accepted (and the body matches, if asked).

    `status` holds inclusive ranges; `body` is a regular expression searched in the first
    64 KiB of the body; `host` None = the address connected to; `sni` None = `host` when it is
    a name (never an IP literal, RFC 6066); `verify` checks the certificate chain and name.
    """

    type: ClassVar[str] = "http"

    path: str = "/"
    status: tuple[tuple[int, int], ...] = ((200, 299),)
    body: str | None = None
    host: str | None = None
    tls: bool = False
    sni: str | None = None
    verify: bool = False

    @property
    def kind(self) -> str:
        return "https" if self.tls else "http"

    def accepts(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.status)

    def status_text(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.status)

    def details(self) -> str:
        parts = [f"GET {self.path}", f"status {self.status_text()}"]
        if self.body is not None:
            parts.append(f"body /{self.body}/")
        if self.host is not None:
            parts.append(f"Host {self.host}")
        if self.tls:
            parts.append("verify" if self.verify else "no verify")
            if self.sni:
                parts.append(f"SNI {self.sni}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class UdpCheck(CheckSpec):
    """Sends `payload`; up when a reply arrives (containing `expect`, when given).

    An ICMP port unreachable (ECONNREFUSED on the connected socket) is a failure at once.
    """

    type: ClassVar[str] = "udp"

    payload: bytes = b""
    expect: bytes | None = None

    def details(self) -> str:
        text = f"payload {len(self.payload)} bytes"
        return text + (f", expect {self.expect!r}" if self.expect is not None else "")


@dataclass(frozen=True, slots=True)
class DnsCheck(CheckSpec):
    """One DNS query over UDP; up when the reply's rcode is the expected one."""

    type: ClassVar[str] = "dns"

    name: str = "."
    qtype: str = "SOA"
    rcode: str = "NOERROR"

    def details(self) -> str:
        return f"{self.qtype} {self.name} expects {self.rcode}"


@dataclass(frozen=True, slots=True)
class ExecCheck(CheckSpec):
    """Runs argv (argv[0] an absolute path) without a shell; exit status 0 = up.

    The program gets the target in its environment: IPVSCTL_VIP, IPVSCTL_ADDRESS,
    IPVSCTL_PORT, IPVSCTL_PROTOCOL. It is killed (its whole process group) at the timeout.
    """

    type: ClassVar[str] = "exec"
    network: ClassVar[bool] = False

    argv: tuple[str, ...] = ()

    def details(self) -> str:
        return " ".join(repr(a) if not a or any(c.isspace() for c in a) else a
                        for a in self.argv)


CHECK_TYPES: dict[str, type[CheckSpec]] = {
    "tcp": TcpCheck, "http": HttpCheck, "https": HttpCheck, "udp": UdpCheck, "dns": DnsCheck,
    "exec": ExecCheck, "none": NoCheck,
}


def default_via(forward: str, check_type: str, *, fwmark: bool = False) -> str:
    """`vip` for network checks of DR and tunnel real servers, else `address` (see above).

    An fwmark service has no VIP of its own to send a check to: `address`."""
    if forward in ("dr", "tunnel") and CHECK_TYPES[check_type].network and not fwmark:
        return "vip"
    return "address"
