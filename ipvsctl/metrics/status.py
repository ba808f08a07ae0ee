"""The status document `ipvsctl run` answers with, its verdict and its screen (pure).

The document (`ipvsctl status --json` prints it as it came, version 1):

    {"version": 1,
     "daemon": {"pid", "started_at", "uptime_seconds", "file", "netns", "ipvsctl_version"},
     "reload": {"last_at", "last_ok", "last_error", "last_good_at"},
     "repair": {"last_at", "changes"},
     "ha": null | {"node", "vrrp_state", "vrrp_since", "vips", "vips_local", "healthy",
                   "sync": [{"state", "running", "wanted", "syncid", "interface"}]},
     "services": [{"name", "key", "servers", "up", "pooled", "min_healthy",
                   "real_servers": [{"address", "port", "state", "since", "result", "check",
                                     "last_success_at", "kernel_weight", "file_weight",
                                     "active", "inactive"}]}],
     "bgp": null | {"director", "sessions": [{"name", "neighbour", "as", "state"}],
                    "announcements": [{"vip", "announced", "reason", "since", "services"}]},
     "checker": null | {"targets", "in_flight", "lag_seconds", "started", "succeeded", "failed",
                        "timed_out", "overrun", "capped", "late", "stalled_seconds"}}

Times are Unix seconds (null: never). A real server's state is up, down, unknown (no verdict
yet), unchecked (`check: none`), draining (declared in the file) or absent (in the file, not in
the kernel). `servers` counts the real servers meant to serve (not draining), `up` those of
them up or unchecked, `pooled` those of the service's kernel real servers with a weight above 0.
`checker` is the health-check runner (null: not started, or nothing to check): its distinct
targets, checks in flight and lag (seconds the oldest check due but not started has waited),
then counts since the daemon started: rounds skipped because the target's check was still
running (`overrun`) or too many were in flight (`capped`), checks started late, and the
seconds the loop looked late at checks in flight (`stalled_seconds`, not charged to them).

`summarise` and `document` build it from a daemon's view (metrics/provider.py): the file says
which real servers there should be, the kernel what is pooled, the daemon's health how each is.
The health metrics (metrics/health.py) count with the same `summarise`, so /metrics and
`ipvsctl status` never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from ipvsctl import __version__
from ipvsctl.errors import ConfigError, StatusCode
from ipvsctl.gcpause import gc_paused
from ipvsctl.metrics.provider import BgpFacts, CheckerFacts, DaemonView, HealthKey, ServerHealth
from ipvsctl.model import Cluster, RealServerCounters, RealServerKey, ServiceCounters, ServiceKey

VERSION = 1
SERVING = ("up", "unchecked")  # states that count as healthy
LAG_LIMIT = 1.0  # seconds of lag past which the checker is said to be behind its rate now
VERDICT_WORD = {StatusCode.HEALTHY: "HEALTHY", StatusCode.DEGRADED: "DEGRADED",
                StatusCode.CRITICAL: "CRITICAL", StatusCode.UNKNOWN: "UNKNOWN"}

Doc = Mapping[str, Any]
UNKNOWN = ServerHealth("unknown")


class ServerStatus(NamedTuple):
    key: RealServerKey
    state: str  # a ServerHealth state, or draining / absent
    health: ServerHealth
    file_weight: int  # 0 for a server the file declares draining
    kernel: RealServerCounters | None  # None: not in the kernel


class ServiceStatus(NamedTuple):
    key: ServiceKey
    name: str | None
    servers: int  # meant to serve (not draining)
    up: int  # of those, up or unchecked
    pooled: int  # of the kernel's real servers, weight above 0
    min_healthy: int
    real_servers: list[ServerStatus]


def summarise(cluster: Cluster, counters: list[ServiceCounters],
              health: Mapping[HealthKey, ServerHealth],
              min_healthy: Mapping[ServiceKey, int] | None = None) -> list[ServiceStatus]:
    """Each service of the file with its real servers' states, in key order (pure)."""
    kernel = {svc.key: {rs.key: rs for rs in svc.real_servers} for svc in counters}
    out = []
    for key in sorted(cluster.services):
        svc = cluster.services[key]
        live = kernel.get(key, {})
        rows = []
        for rs_key in sorted(svc.real_servers):
            rs = svc.real_servers[rs_key]
            seen = health.get((key, rs_key), UNKNOWN)
            in_kernel = live.get(rs_key)
            state = ("draining" if rs.draining else "absent" if in_kernel is None
                     else seen.state)
            rows.append(ServerStatus(rs_key, state, seen, 0 if rs.draining else rs.spec.weight,
                                     in_kernel))
        meant = [r for r in rows if r.state != "draining"]
        out.append(ServiceStatus(
            key, svc.name, len(meant), sum(r.state in SERVING for r in meant),
            sum(rs.weight > 0 for rs in live.values()),
            (min_healthy or {}).get(key, 0), rows))
    return out


def document(view: DaemonView, now: float | None = None) -> dict[str, Any]:
    """The status document of a daemon, as its view describes it now."""
    now = time.time() if now is None else now
    facts, cluster = view.facts(), view.cluster()
    services: list[ServiceStatus] = []
    if cluster is not None:
        with gc_paused():  # a few objects per real server, none in cycles
            services = summarise(cluster, view.counters(), view.health(),
                                 {key: view.min_healthy(key) for key in cluster.services})
    reload, repair = facts.reload, facts.repair
    return {
        "version": VERSION,
        "daemon": {"pid": facts.pid, "started_at": facts.started_at,
                   "uptime_seconds": max(0.0, round(now - facts.started_at, 3)),
                   "file": facts.file, "netns": facts.netns, "ipvsctl_version": __version__},
        "reload": reload._asdict(),
        "repair": repair._asdict(),
        "ha": None if facts.ha is None else {
            **{k: v for k, v in facts.ha._asdict().items() if k != "sync"},
            "sync": [t._asdict() for t in facts.ha.sync]},
        "services": [_service_doc(s) for s in services],
        "bgp": _bgp_doc(facts.bgp),
        "checker": _checker_doc(facts.checker),
    }


def _checker_doc(checker: CheckerFacts | None) -> dict[str, Any] | None:
    if checker is None:
        return None
    return {**checker._asdict(), "lag_seconds": round(checker.lag_seconds, 3),
            "stalled_seconds": round(checker.stalled_seconds, 3)}


def _bgp_doc(bgp: BgpFacts | None) -> dict[str, Any] | None:
    if bgp is None:
        return None
    return {"director": bgp.director,
            "sessions": [{"name": s.name, "neighbour": s.neighbour, "as": s.asn,
                          "state": s.state} for s in bgp.sessions],
            "announcements": [{"vip": a.address, "announced": a.announced, "reason": a.reason,
                               "since": a.since, "services": list(a.services)}
                              for a in bgp.announcements]}


def _service_doc(svc: ServiceStatus) -> dict[str, Any]:
    return {"name": svc.name, "key": str(svc.key), "servers": svc.servers, "up": svc.up,
            "pooled": svc.pooled, "min_healthy": svc.min_healthy,
            "real_servers": [_server_doc(r) for r in svc.real_servers]}


def _server_doc(rs: ServerStatus) -> dict[str, Any]:
    k, h = rs.kernel, rs.health
    return {"address": rs.key.address, "port": rs.key.port, "state": rs.state,
            "since": h.since, "result": h.result, "check": h.check,
            "last_success_at": h.last_success, "file_weight": rs.file_weight,
            "kernel_weight": None if k is None else k.weight,
            "active": 0 if k is None else k.active, "inactive": 0 if k is None else k.inactive}


def select(doc: Doc, service: str | None) -> dict[str, Any]:
    """The document narrowed to one service (its name or key); a ConfigError if it has none."""
    out = dict(doc)
    if service is None:
        return out
    found = [s for s in doc.get("services", []) if service in (s.get("name"), s.get("key"))]
    if not found:
        known = ", ".join(s.get("name") or s.get("key", "?") for s in doc.get("services", []))
        raise ConfigError([f"--service {service!r}: the running file has no such service "
                           f"(it has: {known or 'none'})"])
    out["services"] = found
    return out


def service_code(svc: Doc) -> StatusCode:
    if svc.get("servers", 0) and not svc.get("pooled", 0):
        return StatusCode.CRITICAL
    if svc.get("up", 0) < svc.get("servers", 0):
        return StatusCode.DEGRADED
    return StatusCode.HEALTHY


def verdict(doc: Doc) -> StatusCode:
    """CRITICAL if a service pools no real server; DEGRADED if a real server meant to serve is
    not up, the last reload failed, or (with bgp) no BGP session is established or a VIP is
    withdrawn; else HEALTHY."""
    codes = [service_code(svc) for svc in doc.get("services", [])]
    reload = doc.get("reload") or {}
    if reload.get("last_ok") is False:
        codes.append(StatusCode.DEGRADED)
    bgp = doc.get("bgp")
    if bgp and (not any(s.get("state") == "Established" for s in bgp.get("sessions", []))
                or not all(a.get("announced") for a in bgp.get("announcements", []))):
        codes.append(StatusCode.DEGRADED)
    return max(codes, default=StatusCode.HEALTHY)


def _age(then: float | None, now: float) -> str:
    if then is None:
        return "never"
    seconds = max(0, int(now - then))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m ago"
    return f"{seconds // 86400}d ago"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _clock(then: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(then)) if then else "-"


def _ha_lines(ha: Doc | None, now: float) -> list[str]:
    if not ha:
        return []
    health = {True: "1 (healthy)", False: "0 (gives way)", None: "not written"}[ha.get("healthy")]
    state = ha.get("vrrp_state", "unknown")
    lines = [f"  ha: director {ha.get('node')}, VRRP {state} "
             f"({_age(ha.get('vrrp_since'), now)}), VIPs here {ha.get('vips_local', 0)}/"
             f"{ha.get('vips', 0)}, health file {health}"]
    if ha.get("vips_local") and state != "MASTER":
        lines.append("  ha: WARNING: holds VIPs while keepalived is not MASTER (a keepalived "
                     "killed with its VIPs left behind?): both directors may answer ARP")
    for t in ha.get("sync", []):
        wanted = {True: "wanted", False: "not wanted", None: "not managed"}[t.get("wanted")]
        running = (f"running, syncid {t.get('syncid')} on {t.get('interface')}"
                   if t.get("running") else "not running")
        lines.append(f"  sync {t.get('state')}: {running} ({wanted})")
    return lines


def _checker_lines(checker: Doc | None) -> list[str]:
    if not checker:
        return []
    lag, overrun, capped, late = (checker.get(k, 0) for k in ("lag_seconds", "overrun",
                                                             "capped", "late"))
    line = (f"  checks: {checker.get('targets', 0)} targets, {checker.get('in_flight', 0)} in "
            f"flight, lag {lag:.1f} s; skipped {overrun} (still running) {capped} (capped), "
            f"{late} late")
    # Lag is now; the counts are since the start, so they say it fell behind, not that it is.
    if lag > LAG_LIMIT:
        line += ": the checker is NOT keeping its rate"
    elif overrun or capped or late:
        line += ": the checker has not always kept its rate"
    return [line]


def status_lines(doc: Doc, now: float | None = None) -> list[str]:
    """The screen of `ipvsctl status`."""
    now = time.time() if now is None else now
    d, reload, repair = doc.get("daemon", {}), doc.get("reload") or {}, doc.get("repair") or {}
    lines = [f"ipvsctl run, pid {d.get('pid')}, up {_duration(d.get('uptime_seconds', 0))}, "
             f"{d.get('file')}, namespace {d.get('netns') or '(this one)'}: "
             f"{VERDICT_WORD[verdict(doc)]}"]
    if reload.get("last_ok") is False:
        lines.append(f"  last reload FAILED {_age(reload.get('last_at'), now)} "
                     f"({reload.get('last_error')}); running the file loaded "
                     f"{_age(reload.get('last_good_at'), now)}")
    else:
        lines.append(f"  last reload {_clock(reload.get('last_at'))} "
                     f"({_age(reload.get('last_at'), now)})")
    changes = repair.get("changes")
    lines.append(f"  last repair {_clock(repair.get('last_at'))} "
                 f"({_age(repair.get('last_at'), now)}"
                 + (f", {changes} change{'s' * (changes != 1)}" if changes else "") + ")")
    lines += _checker_lines(doc.get("checker"))
    lines += _ha_lines(doc.get("ha"), now)
    lines.append("")
    lines.append(f"{'SERVICE':<34} {'UP':>9} {'POOLED':>7}  HEALTH")
    for svc in doc.get("services", []):
        title = svc.get("key", "?") if not svc.get("name") else f"{svc['name']} {svc['key']}"
        up = f"{svc.get('up', 0)}/{svc.get('servers', 0)}"
        lines.append(f"{title:<34} {up:>9} {svc.get('pooled', 0):>7}  "
                     f"{VERDICT_WORD[service_code(svc)].lower()}")
        for rs in svc.get("real_servers", []):
            address = rs.get("address", "?")
            where = f"[{address}]:{rs.get('port')}" if ":" in address else \
                f"{address}:{rs.get('port')}"
            kernel = rs.get("kernel_weight")
            weight = f"{'-' if kernel is None else kernel}/{rs.get('file_weight', '-')}"
            state = rs.get("state", "?")
            since = "" if state in ("draining", "absent") else \
                f"since {_age(rs.get('since'), now)}"
            lines.append(f"  -> {where:<28} {state:<9} {since:<16} weight {weight:<9} "
                         f"conns {rs.get('active', 0)}/{rs.get('inactive', 0)}  "
                         f"{rs.get('result') or ''}".rstrip())
    bgp = doc.get("bgp")
    if bgp:
        lines.append("")
        lines.append(f"BGP (director {bgp.get('director')}): " + ", ".join(
            f"{s.get('neighbour')} AS{s.get('as')} {s.get('state') or 'unknown'}"
            for s in bgp.get("sessions", [])))
        lines.append(f"{'VIP':<34} {'STATE':<10} {'SINCE':<9}  WHY")
        for a in bgp.get("announcements", []):
            state = "announced" if a.get("announced") else "withdrawn"
            since = _age(a.get("since"), now) if a.get("since") else "start"
            lines.append(f"{a.get('vip', '?'):<34} {state:<10} {since:<9}  "
                         f"{a.get('reason', '')}")
    lines.append("")
    lines.append("weight: kernel/file; conns: active/inactive; UP: up (or unchecked) of the "
                 "real servers meant to serve")
    return lines
