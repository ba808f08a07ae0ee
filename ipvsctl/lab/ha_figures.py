"""The failover figures, from what the client saw (pure: data in, figures out).

All times are the client's: the lab kills the master at `kill` and starts it again at
`back`. Failover = from the kill until the answer to the first request of STEADY answered
requests in a row, among those started after the first failure: a lucky answer inside the gap
does not end it early, and one stray timeout later (a loaded machine) does not stretch it; such
strays still count as failed requests. Split brain = an ARP probe answered by two MACs before
the next probe.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ipvsctl.lab.ha_traffic import Traffic

BUCKET = 1.0  # seconds per bar in the picture
STEADY = 5  # answered requests in a row that end a failover (half a second of traffic)
CONVERGE = 1.0  # seconds after a takeover's announcement (GARP) the old holder may still answer


@dataclass(frozen=True, slots=True)
class Events:
    kill: float  # the master's link went down (keepalived and run killed next)
    back: float  # the master's link up again, run and keepalived restarted
    back_master: float | None  # the VIP answered from the master again (its GARP)


@dataclass(slots=True)
class ModeFigures:
    sync: bool
    failover_seconds: float | None  # None: the VIP never answered from the backup
    established: int
    survived: int
    sent: int
    failed: int
    failed_in_failover: int
    died_at_failover: int  # held connections that died between the kill and the return
    died_after_return: int
    failed_after_return: int
    split_brain: int  # probes two MACs answered
    split_brain_converged: int  # of those, outside CONVERGE s after a takeover's announcement
    split_brain_at: list[float]  # when (seconds from the kill), the first 20
    probes: int
    return_seconds: float | None  # the return until the VIP answered from the master again
    errors: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "failover_seconds": self.failover_seconds,
            "connections": {"established": self.established, "survived": self.survived,
                            "died_at_failover": self.died_at_failover,
                            "died_after_return": self.died_after_return},
            "requests": {"sent": self.sent, "failed": self.failed,
                         "failed_in_failover": self.failed_in_failover,
                         "failed_after_return": self.failed_after_return,
                         "errors": self.errors},
            "split_brain": {"observations": self.split_brain,
                            "after_convergence": self.split_brain_converged,
                            "at": self.split_brain_at, "probes": self.probes},
            "return_seconds": self.return_seconds,
            "timeline": self.timeline,
        }


def failed(answer: str) -> bool:
    return answer.startswith("error")


def figures(seen: Traffic, events: Events, sync: bool,
            macs: dict[str, str]) -> ModeFigures:
    """`macs`: director name by MAC, to say which director answered."""
    reqs = sorted(seen.requests)
    kill, back = events.kill, events.back
    gap = [r for r in reqs if kill - 1.0 <= r[0] < back]
    end = restored(gap)
    failover = None if end is None else round(max(0.0, end - kill), 3)
    until = back if end is None else end
    lost = [r for r in gap if failed(r[2]) and r[0] < until]
    after = [r for r in reqs if r[0] >= back]
    held = seen.held
    doubles = double_answers(seen)
    takeovers = takeover_times(seen)
    return ModeFigures(
        sync=sync,
        failover_seconds=failover,
        established=len(held),
        survived=sum(h.alive_at_end for h in held),
        sent=len(reqs),
        failed=sum(failed(r[2]) for r in reqs),
        failed_in_failover=len(lost),
        died_at_failover=sum(1 for h in held if h.dead_at is not None
                             and kill <= h.dead_at < back),
        died_after_return=sum(1 for h in held if h.dead_at is not None and h.dead_at >= back),
        failed_after_return=sum(failed(r[2]) for r in after),
        split_brain=len(doubles),
        split_brain_converged=sum(1 for t in doubles if not converging(t, takeovers)),
        split_brain_at=[round(t - kill, 2) for t in doubles[:20]],
        probes=len(seen.probes),
        return_seconds=(round(events.back_master - back, 3)
                        if events.back_master is not None else None),
        errors=dict(Counter(r[2] for r in reqs if failed(r[2]))),
        timeline=timeline(seen, events, macs),
    )


def restored(gap: list[tuple[float, float, str]]) -> float | None:
    """When service came back: the answer to the first of STEADY answered requests in a row
    after the first failure (the kill itself when nothing failed); None if it never did."""
    first = next((i for i, r in enumerate(gap) if failed(r[2])), None)
    if first is None:
        return gap[0][0] if gap else None
    run = 0
    for i in range(first, len(gap)):
        run = 0 if failed(gap[i][2]) else run + 1
        if run == STEADY or (run and i == len(gap) - 1):
            start = gap[i - run + 1]
            return start[0] + start[1]
    return None


def split_brain(seen: Traffic) -> int:
    """Probes answered by more than one MAC before the next probe."""
    return len(double_answers(seen))


def takeover_times(seen: Traffic) -> list[float]:
    """When a director announced the VIP (GARP) that another had answered for before."""
    heard = sorted([*((t, m, False) for t, m in seen.answers),
                    *((t, m, True) for t, m in seen.garps)])
    out, holder = [], None
    for at, mac, garp in heard:
        if garp and mac != holder:
            out.append(at)
        holder = mac
    return out


def converging(at: float, takeovers: list[float]) -> bool:
    return any(t <= at <= t + CONVERGE for t in takeovers)


def double_answers(seen: Traffic) -> list[float]:
    """The probes (their times) answered by more than one MAC before the next probe."""
    probes, answers = seen.probes, sorted(seen.answers)
    doubles: list[float] = []
    j = 0
    for i, at in enumerate(probes):
        until = probes[i + 1] if i + 1 < len(probes) else at + 1.0
        while j < len(answers) and answers[j][0] < at:
            j += 1
        k, macs = j, set()
        while k < len(answers) and answers[k][0] < until:
            macs.add(answers[k][1])
            k += 1
        if len(macs) > 1:
            doubles.append(at)
    return doubles


def timeline(seen: Traffic, events: Events, macs: dict[str, str]) -> list[dict[str, Any]]:
    """Per BUCKET s from the first request: answered, failed, and who held the VIP (the last
    MAC that answered ARP or announced it, as the client's neighbour table would have it)."""
    reqs = seen.requests
    if not reqs:
        return []
    start = min(r[0] for r in reqs)
    end = max(r[0] for r in reqs)
    heard = sorted([*seen.answers, *seen.garps])
    out: list[dict[str, Any]] = []
    j, holder = 0, None
    n = int((end - start) // BUCKET) + 1
    counts = [[0, 0] for _ in range(n)]
    for at, _, answer in reqs:
        counts[int((at - start) // BUCKET)][failed(answer)] += 1
    for i in range(n):
        until = start + (i + 1) * BUCKET
        while j < len(heard) and heard[j][0] < until:
            holder = macs.get(heard[j][1], heard[j][1])
            j += 1
        out.append({"t": round(i * BUCKET + start - events.kill, 3), "answered": counts[i][0],
                    "failed": counts[i][1], "director": holder})
    return out
