"""A read-only picture of the running director: what `ipvsctl run` knows, at one moment.

Plain frozen data (value objects and tuples), made on the daemon's loop by
`Daemon.snapshot()` and safe to hand to any thread afterwards: nothing in it changes, and
nothing in it refers back to the daemon. The metrics exporter and the status API read these
types and nothing else of the daemon (docs/health.md).

Times are wall-clock seconds since the epoch (`time.time()`); durations are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ipvsctl.metrics.provider import BgpFacts, CheckerFacts
from ipvsctl.model import Connections, RealServerKey, ServiceKey

# Seconds: the bounds of the duration histograms (Prometheus' default buckets, plus finer ones
# at the low end where checks and single writes live).
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
          30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Durations:
    """A cumulative histogram: `counts[i]` observations took at most `bounds[i]` seconds."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    count: int  # every observation (the +Inf bucket)
    total: float  # their sum, in seconds


@dataclass(frozen=True, slots=True)
class Reload:
    """The last time the file was read: `ok` False keeps the table as it was."""

    time: float
    ok: bool
    errors: tuple[str, ...] = ()  # the file's problems, `file:line:col: ...` each
    changes: int = 0  # changes it made to the kernel


@dataclass(frozen=True, slots=True)
class Repair:
    """The last reconcile that found the kernel differing from the desired table."""

    time: float
    changes: tuple[str, ...]  # what was put back, in the printer's words


@dataclass(frozen=True, slots=True)
class RealServerStatus:
    key: RealServerKey
    state: str  # "up", "down", "unknown" (no verdict yet) or "unchecked" (no check)
    check: str | None  # the check in words; None: unchecked
    detail: str  # the last result in words ("connected", "timed out after 1s connecting")
    since: float | None  # when the state began (None: no result yet)
    last_check: float | None
    last_success: float | None
    kernel_weight: int | None  # None: not in the kernel (yet)
    file_weight: int  # what the file says (0 for declared draining)
    kept_by_min_healthy: bool  # failed, yet pooled because of min_healthy
    sorry: bool  # the service's sorry server (never checked)
    connections: Connections | None  # as of Snapshot.connections_at


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    key: ServiceKey
    name: str | None
    total: int  # real servers meant to serve (file weight above 0, not draining)
    up: int  # of those, healthy: up, or unchecked
    pooled: int  # of those, with a kernel weight above 0
    min_healthy: str  # as written ("2", "50%"); "1" by default
    min_healthy_needed: int  # what it means for `total` now
    min_healthy_holding: bool  # failed servers are pooled because of it, now
    sorry_pooled: bool
    real_servers: tuple[RealServerStatus, ...]  # in key order; the sorry server last


@dataclass(frozen=True, slots=True)
class Counters:
    """Monotonic counts since the daemon started."""

    applies: int  # plans executed that changed something
    changes: Mapping[str, int]  # changes made, by kind: "add service", "edit real-server", ...
    drift_repairs: int  # changes made because the kernel differed (out-of-band changes)
    reloads_ok: int
    reloads_failed: int
    transitions: Mapping[str, int]  # "unknown->up", "up->down", "down->up", ...
    min_healthy_kept: int  # times min_healthy kept failed servers pooled (a new set each)
    writes: int  # netlink write requests sent
    apply_seconds: Durations  # each plan's execution
    check_seconds: Durations  # each check, from start to result


@dataclass(frozen=True, slots=True)
class Snapshot:
    pid: int
    started: float
    file: str
    netns: str | None
    ready: bool  # the first apply is done and checking has begun
    taken: float
    last_reload: Reload | None  # None: only the start-up read so far
    last_good_reload: float  # when the table last followed the file (start-up included)
    last_repair: Repair | None
    last_reconcile: float | None  # the last full read of the live table
    connections_at: float | None  # when the connection counts were read
    services: tuple[ServiceStatus, ...]  # in key order (check services are not shown)
    check_paths: int  # fwmark services steering via: vip checks
    counters: Counters
    bgp: BgpFacts | None = None  # sessions and announcements (None: no bgp section)
    checker: CheckerFacts | None = None  # the check runner (None: not started, no checks)
