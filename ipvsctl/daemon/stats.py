"""The daemon's counters and duration histograms, kept on its loop (snapshot.py freezes them)."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from ipvsctl.daemon.snapshot import BOUNDS, Counters, Durations


class Histogram:
    __slots__ = ("_buckets", "count", "total")

    def __init__(self) -> None:
        self._buckets = [0] * len(BOUNDS)  # per bucket, not cumulative
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(BOUNDS, seconds)
        if index < len(BOUNDS):
            self._buckets[index] += 1
        self.count += 1
        self.total += seconds

    def frozen(self) -> Durations:
        cumulative, running = [], 0
        for n in self._buckets:
            running += n
            cumulative.append(running)
        return Durations(BOUNDS, tuple(cumulative), self.count, self.total)


@dataclass(slots=True)
class Stats:
    applies: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    drift_repairs: int = 0
    reloads_ok: int = 0
    reloads_failed: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    min_healthy_kept: int = 0
    apply_seconds: Histogram = field(default_factory=Histogram)
    check_seconds: Histogram = field(default_factory=Histogram)

    def frozen(self, writes: int) -> Counters:
        return Counters(self.applies, dict(self.changes), self.drift_repairs, self.reloads_ok,
                        self.reloads_failed, dict(self.transitions), self.min_healthy_kept,
                        writes, self.apply_seconds.frozen(), self.check_seconds.frozen())
