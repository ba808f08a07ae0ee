"""What a lab run measured, the checks it is judged by, and how it reads (text and JSON).

Judging is pure: it takes the figures and returns Checks, so it is tested on plain data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ipvsctl.lab.addressing import AddressPlan
from ipvsctl.model import ServiceKey, Stats

# Schedulers whose split over sequential new connections follows the weights exactly (rr: evenly
# over servers with weight > 0), and ones that follow them roughly (connection counts).
EXACT_SPLIT = ("rr", "wrr")
ROUGH_SPLIT = ("lc", "wlc", "sed", "nq")
DR_MAX_DIRECTOR_SHARE = 0.25  # DR: the director carries less than a quarter of the reply bytes


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class ServiceRun:
    key: ServiceKey
    scheduler: str
    persistent: bool
    weights: dict[str, int]  # real server address -> weight
    sent: int = 0
    hits: dict[str, int] = field(default_factory=dict)  # identity -> answers
    errors: dict[str, int] = field(default_factory=dict)  # "refused" -> count
    connections: int = 0  # every connection/datagram flow the clients opened (all phases)
    ipvs: Stats | None = None  # the director's counters after the traffic

    @property
    def answered(self) -> int:
        return sum(self.hits.values())

    def expected(self) -> tuple[dict[str, float], float] | None:
        """Expected hits per real server and the tolerance; None: the split is not by weight."""
        if self.persistent or self.scheduler not in EXACT_SPLIT + ROUGH_SPLIT:
            return None
        weights = dict(self.weights)
        if self.scheduler == "rr":  # rr ignores weights, but never picks weight 0
            weights = {a: 1 if w > 0 else 0 for a, w in weights.items()}
        total = sum(weights.values())
        if total == 0:
            return {a: 0.0 for a in weights}, 0.0
        share = {a: self.sent * w / total for a, w in weights.items()}
        if self.scheduler in ROUGH_SPLIT:
            return share, 0.25 * self.sent + 1
        g = math.gcd(*[w for w in weights.values() if w])
        cycle = total // g
        return share, 0.0 if self.sent % cycle == 0 else max(weights.values()) / g

    def to_json(self) -> dict[str, Any]:
        exp = self.expected()
        return {
            "service": str(self.key), "protocol": self.key.protocol, "vip": self.key.address,
            "port": self.key.port, "scheduler": self.scheduler, "persistent": self.persistent,
            "sent": self.sent, "answered": self.answered, "errors": dict(self.errors),
            "weights": dict(self.weights), "hits": dict(self.hits),
            "expected": exp[0] if exp else None, "tolerance": exp[1] if exp else None,
            "connections": self.connections,
            "ipvs": None if self.ipvs is None else {
                "conns": self.ipvs.conns, "inpkts": self.ipvs.inpkts,
                "outpkts": self.ipvs.outpkts, "inbytes": self.ipvs.inbytes,
                "outbytes": self.ipvs.outbytes},
        }


@dataclass(slots=True)
class Transfer:
    """Large responses, and the bytes that crossed the director's interface meanwhile."""

    service: str
    requests: int
    size: int
    answered: int = 0
    client_bytes: int = 0
    director_rx: int = 0
    director_tx: int = 0

    @property
    def director_bytes(self) -> int:
        return self.director_rx + self.director_tx

    @property
    def ratio(self) -> float | None:
        return self.director_bytes / self.client_bytes if self.client_bytes else None

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "requests": self.requests, "size": self.size,
                "answered": self.answered, "client_bytes": self.client_bytes,
                "director_rx_bytes": self.director_rx, "director_tx_bytes": self.director_tx,
                "director_bytes": self.director_bytes, "ratio": self.ratio}


FAILOVER_SLACK = 1.0  # seconds the issue allows past the timers: the write and our read


@dataclass(slots=True)
class Tally:
    """Requests sent in one stretch of a failover, and who answered them."""

    sent: int = 0
    lost: int = 0
    hits: dict[str, int] = field(default_factory=dict)  # identity -> answers

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "lost": self.lost, "hits": dict(self.hits)}


@dataclass(slots=True)
class Failover:
    """`ipvsctl run` owning the director while one real server's listener stops and comes
    back: what the kernel's table did, measured from the outside, and the requests meanwhile.

    before: sent after the listener stopped and before the kernel showed weight 0 (the
    checks were still deciding: the server's share is lost); after: sent from then until its
    weight was back (every one must be answered, none by it); back: sent after that."""

    service: str
    server: str
    weight: int  # its file weight
    check: str  # the check, in words
    interval: float
    timeout: float
    rise: int
    fall: int
    pid: int | None = None
    ready_s: float | None = None  # start -> the daemon's ready line
    out_s: float | None = None  # listener stopped -> weight 0 in the kernel
    back_s: float | None = None  # listener started -> the file weight in the kernel
    before: Tally = field(default_factory=Tally)
    after: Tally = field(default_factory=Tally)
    back: Tally = field(default_factory=Tally)
    exit_code: int | None = None  # after SIGTERM
    weight_after_stop: int | None = None  # the kernel's, after the daemon stopped
    log: list[str] = field(default_factory=list)  # the daemon's transition and write lines
    error: str | None = None

    @property
    def out_bound(self) -> float:
        return self.fall * self.interval + self.timeout + FAILOVER_SLACK

    @property
    def back_bound(self) -> float:
        return self.rise * self.interval + FAILOVER_SLACK

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {"service": self.service, "server": self.server, "weight": self.weight,
                "check": self.check, "interval": self.interval, "timeout": self.timeout,
                "rise": self.rise, "fall": self.fall, "pid": self.pid,
                "ready_s": r(self.ready_s), "out_s": r(self.out_s),
                "out_bound_s": r(self.out_bound), "back_s": r(self.back_s),
                "back_bound_s": r(self.back_bound), "before": self.before.to_json(),
                "after": self.after.to_json(), "back": self.back.to_json(),
                "exit_code": self.exit_code, "weight_after_stop": self.weight_after_stop,
                "log": list(self.log), "error": self.error}


@dataclass(slots=True)
class RunReport:
    mode: str  # dr | nat
    prefix: str
    plan: AddressPlan
    services: list[ServiceRun] = field(default_factory=list)
    transfer: Transfer | None = None
    director_mac: str | None = None
    real_server_macs: dict[str, str] = field(default_factory=dict)  # address -> MAC
    vip_macs: dict[str, dict[str, str | None]] = field(default_factory=dict)  # vip->client->MAC
    arp_answers: dict[str, list[str]] = field(default_factory=dict)  # vip -> MACs answering ARP
    down: tuple[str, ...] = ()
    skipped_setup: tuple[str, ...] = ()
    vip_without_arp: tuple[str, ...] = ()
    listeners: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    checks: list[Check] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # commands that delete a kept lab
    failover: Failover | None = None  # --run-director: the director at work

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "mode": self.mode, "ok": self.ok, "prefix": self.prefix,
            "addresses": {"server_net": p.server_net, "client_net": p.client_net,
                          "director": p.director, "vips": list(p.vips),
                          "real_servers": list(p.real_servers), "clients": list(p.clients)},
            "down": list(self.down), "skipped_backend_setup": list(self.skipped_setup),
            "vip_without_arp": list(self.vip_without_arp),
            "services": [s.to_json() for s in self.services],
            "transfer": self.transfer.to_json() if self.transfer else None,
            "director_mac": self.director_mac, "real_server_macs": self.real_server_macs,
            "vip_neighbours": self.vip_macs, "arp_answers": self.arp_answers,
            "checks": [c.to_json() for c in self.checks],
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "kept": self.kept,
            "failover": self.failover.to_json() if self.failover else None,
        }


@dataclass(slots=True)
class LabReport:
    path: str
    runs: list[RunReport]
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def verdict(self) -> str:
        return "pass" if self.ok else "fail"

    def comparison(self) -> dict[str, Any] | None:
        by_mode = {r.mode: r.transfer for r in self.runs if r.transfer}
        if "dr" not in by_mode or "nat" not in by_mode:
            return None
        return {mode: {"client_bytes": t.client_bytes, "director_bytes": t.director_bytes,
                       "ratio": t.ratio} for mode, t in by_mode.items() if t}

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "verdict": self.verdict, "ok": self.ok,
                "duration_s": round(self.duration, 2), "runs": [r.to_json() for r in self.runs],
                "comparison": self.comparison()}


# ---- judging ---------------------------------------------------------------------------------

def judge(run: RunReport) -> list[Check]:
    checks: list[Check] = []
    for svc in run.services:
        checks += _service_checks(run.mode, svc)
    if run.transfer:
        checks.append(_bytes_check(run.mode, run.transfer))
    for vip, seen in sorted(run.vip_macs.items()):
        bad = {c: m for c, m in seen.items() if m != run.director_mac}
        detail = (f"every client resolves {vip} to the director's MAC {run.director_mac}"
                  if not bad else "; ".join(
                      f"client {c} resolves {vip} to {m or 'nothing'}, not the director's "
                      f"{run.director_mac}" + _owner(run, m) for c, m in sorted(bad.items())))
        checks.append(Check(f"{vip} neighbour", not bad, detail))
    for vip, macs in sorted(run.arp_answers.items()):
        others = [m for m in macs if m != run.director_mac]
        ok = macs == [run.director_mac]
        detail = (f"only the director ({run.director_mac}) answers ARP for {vip}" if ok else
                  f"ARP for {vip} answered by {', '.join(macs) or 'nobody'}"
                  + "".join(_owner(run, m) for m in others))
        checks.append(Check(f"{vip} ARP", ok, detail))
    if run.failover:
        checks += failover_checks(run.failover)
    return checks


def failover_checks(f: Failover) -> list[Check]:
    name = f"{f.service} failover"
    if f.error is not None:
        return [Check(name, False, f"ipvsctl run: {f.error}")]
    out_ok = f.out_s is not None and f.out_s <= f.out_bound
    checks = [Check(f"{name} out", out_ok,
                    f"{f.server}'s listener stopped: weight {f.weight} -> 0 in the kernel "
                    + (f"{f.out_s:.2f} s later" if f.out_s is not None else "never")
                    + f" (bound fall {f.fall} x interval {f.interval:g} s + timeout "
                    f"{f.timeout:g} s + {FAILOVER_SLACK:g} s = {f.out_bound:g} s)")]
    served = f.after.hits.get(f.server, 0)
    checks.append(Check(
        f"{name} no loss", f.after.sent > 0 and f.after.lost == 0 and not served,
        f"after it was taken out: {f.after.sent - f.after.lost} of {f.after.sent} requests "
        f"answered" + (f", {served} by {f.server}" if served else f", none by {f.server}")
        + f"; before (the checks deciding): {f.before.lost} of {f.before.sent} lost"))
    back_ok = f.back_s is not None and f.back_s <= f.back_bound
    again = f.back.hits.get(f.server, 0)
    checks.append(Check(
        f"{name} back", back_ok and again > 0,
        f"listener restarted: weight 0 -> {f.weight} "
        + (f"{f.back_s:.2f} s later" if f.back_s is not None else "never")
        + f" (bound rise {f.rise} x interval {f.interval:g} s + {FAILOVER_SLACK:g} s = "
        f"{f.back_bound:g} s); it answered {again} of the {f.back.sent} requests since"))
    stopped = f.exit_code == 0 and f.weight_after_stop == f.weight
    checks.append(Check(f"{name} stop", stopped,
                        f"SIGTERM: exit {f.exit_code}, {f.server} still at weight "
                        f"{f.weight_after_stop} (the table is left as it is)"))
    return checks


def _owner(run: RunReport, mac: str | None) -> str:
    owners = [a for a, m in run.real_server_macs.items() if m == mac]
    return f" (ARP flux: real server {', '.join(owners)} answers ARP for the VIP)" if owners else ""


def _service_checks(mode: str, svc: ServiceRun) -> list[Check]:
    name = str(svc.key)
    out = []
    lost = svc.sent - svc.answered
    why = ", ".join(f"{n} {e}" for e, n in sorted(svc.errors.items()))
    out.append(Check(f"{name} answers", lost == 0 and svc.sent > 0,
                     f"{svc.answered} of {svc.sent} requests answered"
                     + (f"; {lost} lost ({why})" if lost else "")))
    exp = svc.expected()
    if exp is not None:
        share, tol = exp
        off = {a: (svc.hits.get(a, 0), e) for a, e in share.items()
               if abs(svc.hits.get(a, 0) - e) > tol}
        stray = {a: n for a, n in svc.hits.items() if a not in share}
        parts = [f"{a} {svc.hits.get(a, 0)}/{e:g} (weight {svc.weights[a]})"
                 for a, e in sorted(share.items())]
        detail = f"hits/expected {', '.join(parts)}, tolerance {tol:g}"
        detail += "".join(f"; {a} served {n} but is not in the file" for a, n in stray.items())
        out.append(Check(f"{name} split", not off and not stray, detail))
    else:
        zero = {a: svc.hits[a] for a, w in svc.weights.items() if w == 0 and svc.hits.get(a)}
        out.append(Check(f"{name} split", not zero,
                         f"{svc.scheduler}{' with persistence' if svc.persistent else ''} does "
                         "not split by weight; checked only that weight-0 servers got nothing"
                         + "".join(f"; {a} (weight 0) served {n}" for a, n in zero.items())))
    if svc.ipvs is None:
        out.append(Check(f"{name} director counters", False, "no IPVS counters for the service"))
        return out
    through = svc.ipvs.conns >= svc.connections
    out.append(Check(f"{name} through director", through,
                     f"IPVS scheduled {svc.ipvs.conns} connections for the clients' "
                     f"{svc.connections}" + ("" if through else
                                             ": some traffic bypassed the director")))
    if mode == "dr":
        out.append(Check(f"{name} OutPkts", svc.ipvs.outpkts == 0,
                         f"director OutPkts {svc.ipvs.outpkts} (DR: replies never cross the "
                         f"director), InPkts {svc.ipvs.inpkts}"))
    else:
        out.append(Check(f"{name} OutPkts", svc.ipvs.outpkts > 0,
                         f"director OutPkts {svc.ipvs.outpkts} (NAT: every reply crosses the "
                         f"director), InPkts {svc.ipvs.inpkts}"))
    return out


def _bytes_check(mode: str, t: Transfer) -> Check:
    name = "director bytes"
    if not t.client_bytes:
        return Check(name, False, f"clients received nothing from {t.service}")
    ratio = t.director_bytes / t.client_bytes
    base = (f"director carried {human(t.director_bytes)} while clients received "
            f"{human(t.client_bytes)} ({ratio:.1%})")
    if mode == "dr":
        return Check(name, ratio < DR_MAX_DIRECTOR_SHARE,
                     f"{base}; DR wants < {DR_MAX_DIRECTOR_SHARE:.0%}")
    return Check(name, ratio >= 1.0, f"{base}; NAT carries every reply byte")


# ---- text ------------------------------------------------------------------------------------

def human(n: int) -> str:
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


MODE_TITLE = {"dr": "DR (direct routing: replies bypass the director)",
              "nat": "NAT (masquerading: replies return through the director)"}


def run_lines(run: RunReport) -> list[str]:
    p = run.plan
    lines = [f"== {MODE_TITLE.get(run.mode, run.mode)} :: namespaces {run.prefix}-*",
             f"   director {p.director} (VIPs {', '.join(p.vips)} on its eth0, MAC "
             f"{run.director_mac}); real servers {', '.join(p.real_servers)} in {p.server_net}; "
             f"clients {', '.join(p.clients)} in {p.client_net} (same bridge, on-link routes)"]
    if run.down:
        lines.append(f"   down (no listener): {', '.join(run.down)}")
    if run.skipped_setup:
        lines.append(f"   backend setup skipped: {', '.join(run.skipped_setup)}")
    if run.vip_without_arp:
        lines.append(f"   VIP on lo without ARP sysctls: {', '.join(run.vip_without_arp)}")
    for svc in run.services:
        st = svc.ipvs
        lines.append(f"   {svc.key} ({svc.scheduler}): {svc.answered}/{svc.sent} answered"
                     + (f"; IPVS conns {st.conns}, InPkts {st.inpkts}, OutPkts {st.outpkts}"
                        if st else ""))
        exp = svc.expected()
        for addr, weight in svc.weights.items():
            want = f", expected {exp[0][addr]:g}" if exp else ""
            lines.append(f"      {addr:<15} weight {weight:<3} hits {svc.hits.get(addr, 0)}{want}")
    if run.transfer:
        t = run.transfer
        lines.append(f"   large responses: {t.answered}/{t.requests} x {human(t.size)} on "
                     f"{t.service}: clients received {human(t.client_bytes)}, director "
                     f"interface rx {human(t.director_rx)} + tx {human(t.director_tx)}")
    if run.failover:
        lines += failover_lines(run.failover)
    for c in run.checks:
        lines.append(f"   {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if run.timings:
        lines.append("   time: " + ", ".join(f"{k} {v:.1f}s" for k, v in run.timings.items()))
    if run.kept:
        lines.append("   kept for inspection (`ip netns exec NS ...`); delete with:")
        lines += [f"     {cmd}" for cmd in run.kept]
    return lines


def _tally(t: Tally) -> str:
    hits = ", ".join(f"{a} {n}" for a, n in sorted(t.hits.items())) or "nobody"
    return f"{t.sent} sent, {t.lost} lost (answered by {hits})"


def failover_lines(f: Failover) -> list[str]:
    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f} s"

    lines = [f"   director at work: `ipvsctl run` (pid {f.pid}) owns the director; "
             f"{f.server}'s listener on {f.service} stops, then comes back",
             f"      check: {f.check}; ready {s(f.ready_s)} after start"]
    if f.error is None:
        lines += [f"      out:  weight {f.weight} -> 0 {s(f.out_s)} after the stop "
                  f"(bound {f.out_bound:g} s)",
                  f"      back: weight 0 -> {f.weight} {s(f.back_s)} after the restart "
                  f"(bound {f.back_bound:g} s)",
                  f"      requests while deciding: {_tally(f.before)}",
                  f"      requests while out:      {_tally(f.after)}",
                  f"      requests once back:      {_tally(f.back)}"]
    lines += [f"      run: {line}" for line in f.log]
    return lines


def report_lines(report: LabReport) -> list[str]:
    lines = [f"ipvsctl lab {report.path}"]
    for run in report.runs:
        lines += run_lines(run)
    comp = report.comparison()
    if comp:
        lines.append("== bytes through the director for the same large responses")
        lines.append(f"   {'mode':<5} {'clients received':>17} {'director carried':>17} "
                     f"{'ratio':>7}")
        for mode, row in comp.items():
            ratio = row["ratio"]
            lines.append(f"   {mode.upper():<5} {human(row['client_bytes']):>17} "
                         f"{human(row['director_bytes']):>17} "
                         f"{'-' if ratio is None else f'{ratio:.3f}':>7}")
    n = sum(len(r.checks) for r in report.runs)
    failed = [f"{r.mode}: {c.name}" for r in report.runs for c in r.checks if not c.ok]
    lines.append(f"VERDICT: {'PASS' if report.ok else 'FAIL'} ({n - len(failed)} of {n} checks "
                 f"passed{'; failed: ' + '; '.join(failed) if failed else ''}; "
                 f"{report.duration:.1f} s)")
    return lines
