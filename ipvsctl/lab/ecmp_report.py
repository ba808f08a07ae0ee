"""What the ECMP lab measured, as data, JSON and text (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ipvsctl.lab.ecmp_plan import Mode, Timers

TARGET = 0.99  # mh + sloppy_tcp: the share of established connections that must survive
EVENTS = ("kill", "graceful")
EVENT_WORDS = {"kill": "killed (link lost, processes killed)",
               "graceful": "stopped gracefully (SIGTERM: withdraw, then stop)"}


@dataclass(slots=True)
class Event:
    """One director taken out while a round of flows is held."""

    kind: str  # kill | graceful
    source: str  # the round's client address
    flows_per_director: dict[str, int]  # IPVS ESTABLISHED entries of this round, per director
    by_server: dict[str, int]  # real server -> connections, as the client saw the answers
    opened: int
    failed: int
    established: int  # alive just before the event
    survived: int  # alive after it
    withdraw_seconds: float  # until the router's route had lost the director

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source,
                "flows_per_director": self.flows_per_director,
                "flows_per_real_server": self.by_server, "opened": self.opened,
                "failed": self.failed,
                "connections": {"established": self.established, "survived": self.survived},
                "withdraw_seconds": round(self.withdraw_seconds, 3)}


@dataclass(slots=True)
class ServiceFailure:
    """A service failing on one director only: the router must keep the others."""

    director: str
    next_hops_before: list[str]
    next_hops_after: list[str]
    seconds: float  # from the failure until the router dropped the director

    @property
    def ok(self) -> bool:
        return sorted(self.next_hops_after) == sorted(
            h for h in self.next_hops_before if h != self.director)

    def to_json(self) -> dict[str, Any]:
        return {"director": self.director, "next_hops_before": self.next_hops_before,
                "next_hops_after": self.next_hops_after, "kept_others": self.ok,
                "seconds": round(self.seconds, 3)}


@dataclass(slots=True)
class ModeRun:
    mode: Mode
    events: dict[str, Event] = field(default_factory=dict)
    service_failure: ServiceFailure | None = None

    @property
    def established(self) -> int:
        return sum(e.established for e in self.events.values())

    @property
    def survived(self) -> int:
        return sum(e.survived for e in self.events.values())

    @property
    def share(self) -> float:
        return self.survived / self.established if self.established else 0.0

    @property
    def flows_per_director(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for e in self.events.values():
            for d, n in e.flows_per_director.items():
                total[d] = total.get(d, 0) + n
        return total

    def to_json(self) -> dict[str, Any]:
        sf = self.service_failure
        return {"mode": self.mode.name, "scheduler": self.mode.scheduler,
                "scheduler_flags": sorted(self.mode.flags), "sloppy_tcp": self.mode.sloppy_tcp,
                "flows_per_director": self.flows_per_director,
                "connections": {"established": self.established, "survived": self.survived},
                "withdraw_seconds": round(sf.seconds, 3) if sf else None,
                "events": {k: e.to_json() for k, e in self.events.items()},
                "service_failure": sf.to_json() if sf else None}


@dataclass(slots=True)
class EcmpReport:
    file: str
    directors: dict[str, str]  # d1 -> address
    driver: str  # what runs on each director
    flow_service: str
    flows: int
    timers: Timers
    check: dict[str, Any] = field(default_factory=dict)  # the lab's check on every director
    modes: list[ModeRun] = field(default_factory=list)
    duration: float = 0.0
    error: str | None = None  # the lab could not finish: why

    @property
    def checks(self) -> list[tuple[str, bool, str]]:
        out = []
        for run in self.modes:
            if run.mode.scheduler == "mh" and run.mode.sloppy_tcp:
                out.append((f"{run.mode.name}: connections survive", run.share >= TARGET,
                            f"{run.survived}/{run.established} ({run.share:.1%}), "
                            f"target {TARGET:.0%}"))
            sf = run.service_failure
            if sf is not None:
                out.append((f"{run.mode.name}: one director withdrawn", sf.ok,
                            f"router kept {', '.join(sf.next_hops_after) or 'nothing'}"))
        return out

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.modes) and all(ok for _, ok, _ in self.checks)

    def to_json(self) -> dict[str, Any]:
        t = self.timers
        return {"file": self.file, "verdict": "pass" if self.ok else "fail", "ok": self.ok,
                "directors": self.directors, "director_runs": self.driver,
                "flow_service": self.flow_service, "flows_per_round": self.flows,
                "bgp_timers": {"hold": t.hold, "keepalive": t.keepalive,
                               "connect_delay": t.connect_delay},
                "check": self.check,
                "modes": [m.to_json() for m in self.modes],
                "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in self.checks],
                "error": self.error, "duration_seconds": round(self.duration, 1)}


def _split(counts: dict[str, int], names: list[str]) -> str:
    return "/".join(str(counts.get(n, 0)) for n in names)


def report_lines(report: EcmpReport) -> list[str]:
    names = list(report.directors)
    t = report.timers
    lines = [f"ECMP lab: {report.file}, {len(names)} directors behind a BIRD router "
             "(merge paths, L4 hash)",
             "  directors: " + ", ".join(f"{n} {a}" for n, a in report.directors.items())
             + f"; each runs {report.driver}",
             f"  BGP hold {t.hold} s, keepalive {t.keepalive} s; {report.flows} long-lived "
             f"flows a round to {report.flow_service}, a fresh client address a round", ""]
    if report.modes:
        width = 26
        head = f"  {'':<40}" + "".join(
            f"{m.mode.name + (' + sloppy_tcp' if m.mode.sloppy_tcp else ''):<{width}}"
            for m in report.modes)
        lines.append(head.rstrip())

        def row(label: str, cells: list[str]) -> None:
            lines.append((f"  {label:<40}" + "".join(f"{c:<{width}}" for c in cells)).rstrip())

        for kind in EVENTS:
            evs = [m.events.get(kind) for m in report.modes]
            row(f"{kind}: flows per director ({'/'.join(names)})",
                [_split(e.flows_per_director, names) if e else "-" for e in evs])
            row(f"{kind} d1: survived/established",
                [f"{e.survived}/{e.established}" if e else "-" for e in evs])
            row(f"{kind} d1: router withdrew after",
                [f"{e.withdraw_seconds:.2f} s" if e else "-" for e in evs])
        sfs = [m.service_failure for m in report.modes]
        row("service fails on d1: router kept",
            [", ".join(s.next_hops_after) if s else "-" for s in sfs])
        row("service fails on d1: withdrawn in", [f"{s.seconds:.2f} s" if s else "-"
                                                  for s in sfs])
        row("all events: survived",
            [f"{m.survived}/{m.established} ({m.share:.1%})" for m in report.modes])
        lines.append("")
        lines.append("  d1 " + "; then ".join(EVENT_WORDS[k] for k in EVENTS) + ".")
    for name, ok, detail in report.checks:
        lines.append(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if report.error:
        lines.append(f"  FAIL the lab stopped: {report.error}")
    lines.append(f"{'PASS' if report.ok else 'FAIL'} ({report.duration:.0f} s)")
    return lines
