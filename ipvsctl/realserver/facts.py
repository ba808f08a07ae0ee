"""What the real-server planner knows about a host: plain data, observed once.

The observer fills these from one link dump, one address dump, one route dump and one batch of
sysctl reads; the planner and the checker read them and nothing else. Sysctls are keyed by
(protocol, interface, setting) so interface names with dots (eth0.100) need no escaping.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_NOARP = 0x80

SysctlKey = tuple[str, str, str]  # ("ipv4", "eth0", "arp_ignore")
# Interface names ipvsctl sets or renders: the kernel's rules (1-15 bytes, not . or .., no '/',
# ':' or white space) narrowed to what every file it renders takes as is: no '@' (a YAML
# indicator, and ip(8)'s own separator), no leading '-' (an option to ip, a list item to YAML)
# or '.' (a hidden file, an empty sysctl path part).
IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,14}")
IFNAME_RULE = ("1-15 letters, digits, '_', '.', '+' or '-', starting with a letter, digit or "
               "'_'")
PSEUDO_INTERFACES = ("all", "default")  # conf/all and conf/default: not interfaces


def valid_ifname(name: str) -> bool:
    return IFNAME.fullmatch(name) is not None


def sysctl_name(key: SysctlKey) -> str:
    """sysctl(8) spelling: dots inside an interface name become slashes (eth0/100)."""
    proto, iface, setting = key
    return f"net.{proto}.conf.{iface.replace('.', '/')}.{setting}"


def sysctl_record_key(key: SysctlKey) -> str:
    """Unambiguous key for the state record: net/ipv4/conf/eth0.100/arp_ignore."""
    proto, iface, setting = key
    return f"net/{proto}/conf/{iface}/{setting}"


def parse_record_key(text: str) -> SysctlKey:
    parts = text.split("/")
    if len(parts) != 5 or parts[0] != "net" or parts[2] != "conf":
        raise ValueError(f"not a per-interface sysctl: {text!r}")
    return (parts[1], parts[3], parts[4])


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    index: int
    flags: int = IFF_UP
    kind: str | None = None  # "dummy", "veth", "ipip", ...; None for lo and plain NICs

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def arp(self) -> bool:
        """Whether the interface answers ARP at all (lo, dummy and ipip tunnels do not)."""
        return not self.flags & (IFF_NOARP | IFF_LOOPBACK)

    @property
    def is_tunnel(self) -> bool:
        return self.kind in ("ipip", "ip6tnl", "gre", "ip6gre", "sit")


@dataclass(frozen=True, slots=True)
class Address:
    address: str  # compressed
    prefixlen: int
    interface: str

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4

    @property
    def is_host(self) -> bool:
        return self.prefixlen == (32 if self.family == 4 else 128)

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True, slots=True)
class Route:
    """A main-table unicast route (local, broadcast and multicast routes are not kept)."""

    dst: str  # network address, "0.0.0.0" for the default route
    prefixlen: int
    interface: str
    family: int = 4
    gateway: str | None = None  # the next hop (RTA_GATEWAY), None for on-link routes

    def covers(self, address: str) -> bool:
        net = ipaddress.ip_network(f"{self.dst}/{self.prefixlen}", strict=False)
        return ipaddress.ip_address(address) in net


@dataclass(frozen=True, slots=True)
class FileMeta:
    """A file's mode and owner: what teardown puts back besides its content."""

    mode: int
    uid: int
    gid: int

    def to_json(self) -> dict[str, int]:
        return {"mode": self.mode, "uid": self.uid, "gid": self.gid}


@dataclass(slots=True)
class HostFacts:
    links: dict[str, Link] = field(default_factory=dict)
    addresses: list[Address] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    sysctls: dict[SysctlKey, str | None] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)  # path -> content (None = absent)
    listeners: set[tuple[str, int]] = field(default_factory=set)  # (address, port) in LISTEN
    file_meta: dict[str, FileMeta] = field(default_factory=dict)  # path -> its mode and owner

    def addresses_by_ip(self) -> dict[str, list[Address]]:
        out: dict[str, list[Address]] = {}
        for a in self.addresses:
            out.setdefault(a.address, []).append(a)
        return out

    def sysctl_int(self, key: SysctlKey) -> int | None:
        raw = self.sysctls.get(key)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> HostFacts:
        """Build facts from the plain mapping used by the YAML planner cases."""
        links: dict[str, Link] = {}
        for name, spec in (data.get("links") or {}).items():
            spec = spec or {}
            flags = 0
            if spec.get("up", True):
                flags |= IFF_UP
            if name == "lo":
                flags |= IFF_LOOPBACK
            if spec.get("noarp", spec.get("kind") in ("dummy", "ipip")):
                flags |= IFF_NOARP
            links[name] = Link(name, int(spec.get("index", len(links) + 1)), flags,
                               spec.get("kind"))
        addresses = []
        for text in data.get("addresses") or []:
            cidr, _, iface = text.partition(" dev ")
            ip, _, plen = cidr.partition("/")
            addresses.append(Address(ipaddress.ip_address(ip).compressed, int(plen), iface))
        routes = []
        for text in data.get("routes") or []:
            dst, _, iface = text.partition(" dev ")
            dst, _, gateway = dst.partition(" via ")
            dst = "0.0.0.0/0" if dst == "default" else dst
            net = ipaddress.ip_network(dst, strict=False)
            routes.append(Route(str(net.network_address), net.prefixlen, iface, net.version,
                                gateway or None))
        sysctls: dict[SysctlKey, str | None] = {}
        for name, value in (data.get("sysctls") or {}).items():
            sysctls[parse_record_key(name)] = None if value is None else str(value)
        files = {str(k): v for k, v in (data.get("files") or {}).items()}
        listeners = set()
        for text in data.get("listeners") or []:
            host, _, port = str(text).rpartition(":")
            listeners.add((host.strip("[]"), int(port)))
        return cls(links, addresses, routes, sysctls, files, listeners)
