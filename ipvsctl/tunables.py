"""Director tunables that matter for direct routing: one table, the reason on every row.

`ipvsctl doctor` checks these; a cluster file's `director.sysctls` sets them. Values are the
recommendation, not a default ipvsctl applies on its own: it changes only what the file declares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tunable:
    name: str  # under net.ipv4.vs
    recommended: int
    reason: str
    when: str = "always"  # always | persistence | kernel<5.9 | kernel>=5.9


DIRECTOR_SYSCTLS: tuple[Tunable, ...] = (
    Tunable("expire_nodest_conn", 1,
            "when a real server is deleted, expire its connection entries at the next packet so "
            "the client gets a reset and reconnects, instead of a flow blackholed for up to the "
            "TCP idle timeout"),
    Tunable("expire_quiescent_template", 1,
            "with persistence, a real server at weight 0 (draining) keeps receiving new "
            "connections from clients with an affinity template unless templates of quiesced "
            "servers expire", when="persistence"),
    Tunable("conn_reuse_mode", 0,
            "before Linux 5.9, mode 1 drops the first SYN of a connection that reuses a source "
            "port still in the table, costing clients a 1 s retransmit; 0 avoids it (reused "
            "ports then stick to their old real server, even a draining one)",
            when="kernel<5.9"),
    Tunable("conn_reuse_mode", 1,
            "from Linux 5.9 on, mode 1 reschedules reused source ports without the 1 s delay, "
            "so connections from reused ports follow drains and weight changes",
            when="kernel>=5.9"),
)


def kernel_version(release: str) -> tuple[int, int]:
    """'6.1.0-56-amd64' -> (6, 1); unknown formats -> (0, 0)."""
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def applicable(release: str, uses_persistence: bool) -> list[Tunable]:
    version = kernel_version(release)
    out = []
    for t in DIRECTOR_SYSCTLS:
        if t.when == "persistence" and not uses_persistence:
            continue
        if t.when == "kernel<5.9" and version >= (5, 9):
            continue
        if t.when == "kernel>=5.9" and version < (5, 9):
            continue
        out.append(t)
    return out
