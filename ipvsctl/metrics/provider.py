"""What a daemon (`ipvsctl run`) supplies so that /metrics and the status API can describe it.

Two directions, both small:

- pull: a DaemonView answers, whenever a scrape or an `ipvsctl status` asks, what the daemon
  knows now: its own facts (pid, file, last reload, last repair), the running (last good) file,
  the live table's counters and each real server's health. Nothing is copied on the daemon's
  side; the view is read from the metrics and status threads, so it must hand out values that
  are safe to read there (immutable snapshots, or a table read over its own netlink socket).
- push: the daemon reports events to metrics.events.DaemonMetrics as they happen (a check's
  result and duration, a transition, an apply, a reload, a min_healthy decision).

This module holds only the types; nothing here reads the kernel or runs a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from ipvsctl.model import Cluster, RealServerKey, ServiceCounters, ServiceKey

# A real server's health state as the daemon reports it: up, down, unknown (checked, no verdict
# yet) or unchecked (`check: none`). The status adds draining and absent from the file and the
# kernel (metrics/status.py).
HEALTH_STATES = ("up", "down", "unknown", "unchecked")
HealthKey = tuple[ServiceKey, RealServerKey]


class ServerHealth(NamedTuple):
    state: str  # one of HEALTH_STATES
    since: float | None = None  # Unix seconds the state began (None: since the daemon started)
    result: str = ""  # the last result in words: "http 200 in 2 ms", "connect: refused"
    check: str = "none"  # the check type: tcp, http, https, udp, dns, exec, none
    last_success: float | None = None  # Unix seconds of the last passing check (None: never)


class ReloadFacts(NamedTuple):
    last_at: float | None = None  # the last attempt to load the file (start-up included)
    last_ok: bool | None = None  # None: never attempted
    last_error: str | None = None  # the one-line message of a failed load
    last_good_at: float | None = None  # when the file now running was loaded


class RepairFacts(NamedTuple):
    last_at: float | None = None  # the last reconcile that changed the kernel
    changes: int = 0  # how many changes it applied


class CheckerFacts(NamedTuple):
    """The health-check runner itself (health/runner.py): how much it checks and whether it
    keeps its rate. Under overload it sheds rate, never correctness: these say so."""

    targets: int = 0  # distinct check targets (one check serves every service sharing it)
    in_flight: int = 0
    lag_seconds: float = 0.0  # how long the oldest check due but not started has waited
    # Monotonic since the daemon started:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    overrun: int = 0  # rounds skipped: the target's previous check still running
    capped: int = 0  # rounds skipped: too many checks in flight
    late: int = 0  # checks started more than a tick after they were due
    stalled_seconds: float = 0.0  # time the loop looked late at in-flight checks


class BgpSessionFacts(NamedTuple):
    name: str  # the BGP protocol's name in BIRD (ipvsctl_n1, ...)
    neighbour: str
    asn: int
    state: str  # BIRD's word: Established, Active, Connect, ... ("" not read yet)


class AnnouncementFacts(NamedTuple):
    address: str  # the VIP
    announced: bool  # in BIRD's files now
    reason: str  # why, in words (each announcing service's count)
    since: float | None  # Unix seconds of the last change (None: since the daemon started)
    services: tuple[str, ...]  # the announcing services on it, as keys


class BgpFacts(NamedTuple):
    director: str  # this director's name in bgp.directors
    sessions: tuple[BgpSessionFacts, ...]
    announcements: tuple[AnnouncementFacts, ...]


VRRP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "unknown")
SYNC_THREADS = ("master", "backup")


class SyncThread(NamedTuple):
    """One sync daemon thread as the kernel reports it (GET_DAEMON), against the file."""

    state: str  # master | backup
    running: bool
    wanted: bool | None  # the file wants it running (None: the file leaves the daemon alone)
    syncid: int | None = None
    interface: str | None = None


class HaFacts(NamedTuple):
    """A director of an HA pair: its VRRP role as keepalived last told ipvsctl (ha-notify),
    whether the VIPs are local (the truth for "gets the traffic"), its health file, and the
    kernel's sync threads."""

    node: str
    vrrp_state: str = "unknown"  # one of VRRP_STATES
    vrrp_since: float | None = None  # when keepalived reported it
    vips: int = 0
    vips_local: int = 0  # of those, on an interface of this namespace now
    healthy: bool | None = None  # what `run` wrote to the health file (None: not yet)
    sync: tuple[SyncThread, ...] = ()

    @property
    def split_brain_risk(self) -> bool:
        """VIPs held while keepalived says it is not master (a SIGKILLed keepalived leaves
        them): both directors may then answer ARP for them."""
        return self.vips_local > 0 and self.vrrp_state != "MASTER"


class DaemonFacts(NamedTuple):
    pid: int
    started_at: float  # Unix seconds
    file: str  # the cluster file, as given
    netns: str | None = None
    reload: ReloadFacts = ReloadFacts()
    repair: RepairFacts = RepairFacts()
    bgp: BgpFacts | None = None  # None: the file has no bgp section
    ha: HaFacts | None = None  # None: the file has no ha section
    checker: CheckerFacts | None = None  # None: no runner yet, or nothing to check


class DaemonView(Protocol):
    """The pull side: what the daemon knows now (read from the metrics and status threads)."""

    def facts(self) -> DaemonFacts: ...

    def cluster(self) -> Cluster | None:
        """The running file (the last good one); None before the first good load."""
        ...

    def counters(self) -> list[ServiceCounters]:
        """The live table (IpvsAdapter.counters over a socket of its own); may raise an
        IpvsctlError, which a scrape reports as ipvsctl_table_up 0."""
        ...

    def health(self) -> Mapping[HealthKey, ServerHealth]:
        """Each checked real server's health; a real server missing here is `unknown`."""
        ...

    def min_healthy(self, service: ServiceKey) -> int:
        """The number of real servers `min_healthy` keeps pooled for the service (resolved
        from a count or a percentage); 0 without one."""
        ...
