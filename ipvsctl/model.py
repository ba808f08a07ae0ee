"""The IPVS vocabulary as small value objects, in the kernel's own words.

Both the config loader (desired state) and the kernel adapter (observed state) produce these
types, fully normalised, so the planner compares like with like. Identity lives in the keys;
comparable settings live in the specs; counters and source locations never take part in equality.
Keys and specs are immutable NamedTuples; the objects that carry them are dataclasses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # value objects of the file too, which import this module
    from ipvsctl.health.policy import MinHealthy, ServiceHealth

# What a value object holds when the file says nothing (the names and ranges: config/vocabulary).
DEFAULT_SCHEDULER = "wrr"
DEFAULT_FORWARD = "dr"
DEFAULT_WEIGHT = 1
DEFAULT_PERSISTENCE_TIMEOUT = 300
# Seconds between `ipvsctl run`'s full reads of the live table (docs/health.md says why 30).
DEFAULT_RECONCILE_INTERVAL = 30.0
# The IPVS sync daemon's kernel defaults (net/netfilter/ipvs/ip_vs_sync.c).
DEFAULT_SYNC_PORT = 8848
DEFAULT_SYNC_TTL = 1
DEFAULT_SYNC_GROUP = "224.0.0.81"
SYNC_STATES = ("master", "backup")  # the kernel's two sync threads


def family_of(address: str) -> int:
    """4 or 6 for an address string (already validated)."""
    return ipaddress.ip_address(address).version


def bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def fields_dict(value: NamedTuple) -> dict[str, Any]:
    """A key's or spec's fields as a dict, nested ones (a Tunnel, a Persistence) as dicts too."""
    return {name: fields_dict(v) if hasattr(v, "_fields") else v
            for name, v in zip(value._fields, value, strict=True)}


# NamedTuples for C-level hash/eq/order: every plan hashes and compares them once per real server.
class ServiceKey(NamedTuple):
    """The kernel's service identity: (family, protocol, VIP, port) or (family, fwmark)."""

    family: int  # 4 or 6
    protocol: str  # tcp | udp | sctp, or "fwmark" for firewall-mark services
    address: str  # compressed VIP; "" for fwmark services
    port: int  # 0 for fwmark services
    fwmark: int = 0

    @classmethod
    def vip(cls, protocol: str, address: str, port: int) -> ServiceKey:
        ip = ipaddress.ip_address(address)
        return cls(ip.version, protocol, ip.compressed, port, 0)

    @classmethod
    def mark(cls, fwmark: int, family: int = 4) -> ServiceKey:
        return cls(family, "fwmark", "", 0, fwmark)

    @property
    def is_fwmark(self) -> bool:
        return self.protocol == "fwmark"

    def __str__(self) -> str:
        if self.is_fwmark:
            return f"fwmark/{self.fwmark}" + ("/ipv6" if self.family == 6 else "")
        return f"{self.protocol}/{bracket(self.address)}:{self.port}"


class RealServerKey(NamedTuple):
    """A real server within one service: its address and port."""

    address: str
    port: int

    @classmethod
    def of(cls, address: str, port: int) -> RealServerKey:
        return cls(ipaddress.ip_address(address).compressed, port)

    @property
    def family(self) -> int:
        return family_of(self.address)

    def __str__(self) -> str:
        return f"{bracket(self.address)}:{self.port}"


class Persistence(NamedTuple):
    timeout: int  # seconds
    prefix_len: int  # client-address granularity: 32 (IPv4) or 128 (IPv6) = per client address
    engine: str | None = None  # persistence engine, e.g. "sip"

    def describe(self) -> str:
        text = f"persistence {self.timeout}s /{self.prefix_len}"
        return text + (f" engine {self.engine}" if self.engine else "")


class ServiceSpec(NamedTuple):
    """A service's comparable settings (the kernel's HASHED flag never appears here)."""

    scheduler: str = DEFAULT_SCHEDULER
    scheduler_flags: frozenset[str] = frozenset()
    persistence: Persistence | None = None
    one_packet: bool = False

    def describe(self) -> str:
        parts = [f"scheduler {self.scheduler}"]
        if self.scheduler_flags:
            parts.append("flags " + ",".join(sorted(self.scheduler_flags)))
        if self.persistence:
            parts.append(self.persistence.describe())
        if self.one_packet:
            parts.append("one-packet")
        return ", ".join(parts)


class Tunnel(NamedTuple):
    type: str = "ipip"  # ipip | gue | gre
    port: int = 0  # GUE destination port
    csum: str = "nocsum"  # nocsum | csum | remcsum

    def describe(self) -> str:
        text = self.type + (f" port {self.port}" if self.type == "gue" else "")
        return text + ("" if self.csum == "nocsum" else f" {self.csum}")


class RealServerSpec(NamedTuple):
    """A real server's comparable settings."""

    weight: int = DEFAULT_WEIGHT
    forward: str = DEFAULT_FORWARD  # dr | tunnel | nat
    upper_threshold: int = 0  # 0 = no limit
    lower_threshold: int = 0
    tunnel: Tunnel | None = None  # only with forward == "tunnel"

    def describe(self) -> str:
        parts = [self.forward if not self.tunnel else f"tunnel {self.tunnel.describe()}"]
        parts.append(f"weight {self.weight}")
        if self.upper_threshold or self.lower_threshold:
            parts.append(f"thresholds {self.lower_threshold}..{self.upper_threshold}")
        return ", ".join(parts)


@dataclass(slots=True)
class Stats:
    """Transient counters as the kernel reports them; never part of identity or equality."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


class RealServerCounters(NamedTuple):
    """One real server's live figures as a metrics scrape reads them: flat, one tuple each, so
    a table of 110,000 real servers costs one small object apiece (ipvs.IpvsAdapter.counters)."""

    key: RealServerKey
    weight: int  # the kernel's (health and drains may differ from the file's)
    active: int
    inactive: int
    # The kernel's 64-bit counters and its rate estimates (Stats' fields, in its order).
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int
    cps: int
    inpps: int
    outpps: int
    inbps: int
    outbps: int


class ServiceCounters(NamedTuple):
    """One service's counters (Stats' fields, in order) and its real servers' figures."""

    key: ServiceKey
    stats: tuple[int, int, int, int, int, int, int, int, int, int]
    real_servers: list[RealServerCounters]


@dataclass(frozen=True, slots=True)
class Connections:
    """Per-real-server connection counts (what draining waits on)."""

    active: int = 0
    inactive: int = 0
    persistent: int = 0

    @property
    def total(self) -> int:
        return self.active + self.inactive


@dataclass(slots=True)
class RealServer:
    key: RealServerKey
    spec: RealServerSpec = RealServerSpec()  # noqa: RUF009 (a NamedTuple: immutable)
    draining: bool = False  # declared `state: draining` (kept at weight 0, never deleted)
    source: str | None = field(default=None, compare=False)  # "cluster.yaml:14:9"
    stats: Stats | None = field(default=None, compare=False)
    connections: Connections | None = field(default=None, compare=False)


@dataclass(slots=True)
class Service:
    key: ServiceKey
    spec: ServiceSpec = ServiceSpec()  # noqa: RUF009 (a NamedTuple: immutable)
    real_servers: dict[RealServerKey, RealServer] = field(default_factory=dict)
    name: str | None = field(default=None, compare=False)  # the file's label; the kernel has none
    source: str | None = field(default=None, compare=False)
    stats: Stats | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """IPVS connection timeouts in seconds; None = leave as it is."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """What this file claims: services inside it that the file does not list are removed."""

    networks: tuple[str, ...] = ()  # CIDRs of VIPs
    fwmarks: tuple[tuple[int, int], ...] = ()  # inclusive ranges

    def claims(self, key: ServiceKey) -> bool:
        if key.is_fwmark:
            return any(lo <= key.fwmark <= hi for lo, hi in self.fwmarks)
        ip = ipaddress.ip_address(key.address)
        return any(ip in ipaddress.ip_network(net) for net in self.networks)


class SyncDaemon(NamedTuple):
    """One thread of the IPVS connection sync daemon, in the kernel's words (GET_DAEMON)."""

    state: str  # master | backup
    interface: str  # mcast_ifn: the link its multicast goes out of / is received on
    syncid: int  # 0..255: which pair's messages a backup takes
    maxlen: int | None = None  # UDP payload size; None = the kernel's choice (MTU - 28)
    port: int = DEFAULT_SYNC_PORT
    ttl: int = DEFAULT_SYNC_TTL
    group: str = DEFAULT_SYNC_GROUP

    def satisfied_by(self, running: SyncDaemon) -> bool:
        """Does the running thread do what this desired one says? An unset maxlen accepts
        whatever the kernel chose."""
        mine = self if self.maxlen is not None else self._replace(maxlen=running.maxlen)
        return mine == running

    def describe(self) -> str:
        text = (f"syncid {self.syncid} on {self.interface}, group "
                f"{bracket(self.group)}:{self.port} ttl {self.ttl}")
        return text + (f", maxlen {self.maxlen}" if self.maxlen is not None else "")


# A net.ipv4.vs sysctl's value: one integer, or two for the pair settings (sync_threshold is
# "threshold period"; vocabulary.PAIR_SYSCTLS).
SysctlValue = int | tuple[int, int]


def sysctl_text(value: SysctlValue) -> str:
    """The value as the kernel reads and writes it ("3 50" for a pair)."""
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


@dataclass(slots=True)
class Director:
    """Director-wide settings; None/empty means "not managed"."""

    timeouts: Timeouts = Timeouts()
    sysctls: dict[str, SysctlValue] = field(default_factory=dict)  # net.ipv4.vs.<name>
    drain_timeout: int | None = None  # seconds; None = wait for connections to reach 0
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL  # `ipvsctl run` only
    # net.ipv4.conf.<interface>.<setting>: set by `ipvsctl run` for `via: vip` checks only
    interface_sysctls: dict[tuple[str, str], int] = field(default_factory=dict)
    # The sync threads this director runs, by state (filled for one node of an HA pair by
    # ha.node.for_node); None = not managed, {} = none may run.
    sync_daemons: dict[str, SyncDaemon] | None = None


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """The file's `ha.sync`: the pair's connection sync daemon (both threads on each director)."""

    enabled: bool = True  # `sync: false`: no thread may run
    interface: str | None = None  # None = each director's VRRP interface
    syncid: int = 0
    maxlen: int | None = None
    port: int = DEFAULT_SYNC_PORT
    ttl: int = DEFAULT_SYNC_TTL
    group: str = DEFAULT_SYNC_GROUP


@dataclass(frozen=True, slots=True)
class HaDirector:
    """One director of the pair, as `ha.directors` lists it (every default filled)."""

    name: str
    hostname: str | None  # matched against the host's name; None = its name
    address: str | None  # its address on the VRRP interface (unicast source/peer)
    priority: int  # VRRP base priority; `ipvsctl run`'s health adds Ha.health_weight
    interface: str  # the VRRP interface (where the VIPs go)
    source: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Ha:
    """The file's `ha` section: the directors sharing it and their VRRP and sync settings."""

    virtual_router_id: int
    advert_centis: int  # advert interval in hundredths of a second (VRRPv3's resolution)
    vrrp_version: int  # 2 or 3
    unicast: bool  # unicast adverts to the other directors; False = multicast 224.0.0.18
    health_weight: int  # priority bonus while `ipvsctl run` reports healthy (track_file)
    vips: tuple[str, ...]  # addresses beyond the services' VIPs (e.g. for fwmark services)
    directors: tuple[HaDirector, ...]
    sync: SyncSettings | None = None  # None = the sync daemon is not managed

    def director(self, name: str) -> HaDirector | None:
        return next((d for d in self.directors if d.name == name), None)


@dataclass(frozen=True, slots=True)
class BgpNeighbour:
    """A router a director peers with (one BGP session; its address family is the family of
    the VIPs it is sent)."""

    address: str
    asn: int
    port: int = 179

    @property
    def family(self) -> int:
        return family_of(self.address)


@dataclass(frozen=True, slots=True)
class Bfd:
    interval_ms: int
    multiplier: int


@dataclass(frozen=True, slots=True)
class BgpDirector:
    """One director of `bgp.directors` (every default filled from the bgp section)."""

    name: str
    hostname: str | None
    router_id: str  # an IPv4 address, unique among the routers
    local_address: str | None  # the session's source address for neighbours of its family
    local_as: int
    neighbours: tuple[BgpNeighbour, ...]
    source: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Bgp:
    """The file's `bgp` section: the directors announcing VIPs and their speaker's settings."""

    hold_time: int  # seconds; keepalive = hold_time // 3
    bfd: Bfd | None
    withdraw_wait: float  # seconds between the withdrawal and stopping on SIGTERM
    directors: tuple[BgpDirector, ...]

    @property
    def keepalive(self) -> int:
        return max(1, self.hold_time // 3)


@dataclass(frozen=True, slots=True)
class Announce:
    """A service's `announce`: its VIP is announced while at least `min_healthy` of its real
    servers are healthy (MinHealthy, as the health section counts them)."""

    min_healthy: MinHealthy
    med: int | None = None
    communities: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True)
class Cluster:
    """The desired state, as loaded and validated from a cluster file.

    `health`: the checks, min_healthy and sorry server of each service that has any (the
    pure health step reads them; `apply` does not)."""

    services: dict[ServiceKey, Service] = field(default_factory=dict)
    director: Director = field(default_factory=Director)
    scope: Scope = Scope()
    path: str | None = None
    health: dict[ServiceKey, ServiceHealth] = field(default_factory=dict)
    ha: Ha | None = None
    bgp: Bgp | None = None
    announce: dict[ServiceKey, Announce] = field(default_factory=dict)
    # The director of `bgp.directors` this host is (director.workflow.as_node chooses it).
    bgp_node: BgpDirector | None = None


@dataclass(slots=True)
class Observed:
    """The director's live state, as the kernel adapter reads it (normalised).

    `as_desired`: services the adapter was given the desired table for and found exactly as
    that table has them (same settings, the same real servers with the same settings); they
    are not built, so they are not in `services`. Empty unless the read was given one."""

    services: dict[ServiceKey, Service] = field(default_factory=dict)
    timeouts: Timeouts = Timeouts()
    sysctls: dict[str, SysctlValue] = field(default_factory=dict)
    # (interface, setting) -> value, for the settings `ipvsctl run` may manage (tunables.py)
    interface_sysctls: dict[tuple[str, str], int] = field(default_factory=dict)
    sync_daemons: dict[str, SyncDaemon] = field(default_factory=dict)  # by state
    as_desired: frozenset[ServiceKey] = frozenset()

    def present(self) -> set[ServiceKey]:
        """Every service the kernel has (built or found as desired)."""
        return set(self.services) | self.as_desired
