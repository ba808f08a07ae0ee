"""The host tunables ipvsctl knows, director and real server alike: one table, the reason on
every row.

Director rows (net.ipv4.vs.*) are what `ipvsctl doctor` recommends; a cluster file's
`director.sysctls` sets them, and ipvsctl changes only what the file declares. Real-server rows
(net.ipv4.conf.<interface>.*) are what `backend-setup` sets and `backend-check` judges.

The kernel combines a per-interface value with conf/all: arp_ignore, arp_announce and rp_filter
take the MAXIMUM of the two, proxy_arp takes the logical OR. So a per-interface value can only
make behaviour stricter than `all`, never looser, and `all` is shared by every interface on the
host: ipvsctl sets per-interface keys by default and touches `all` only with --global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "check path": the director's interface towards real servers checked `via: vip`.
Side = Literal["director", "real server", "check path"]
# When a row applies: always; director rows only with persistence or on some kernels; the
# real-server rp_filter row only on a tunnel interface holding VIPs.
When = Literal["always", "persistence", "kernel<5.9", "kernel>=5.9", "tunnel"]
Combine = Literal["max", "or"]


@dataclass(frozen=True, slots=True)
class Tunable:
    side: Side
    setting: str  # the sysctl under net.ipv4.vs (director) or net.ipv4.conf.<interface>
    value: int  # what ipvsctl recommends (director) or sets (real server)
    reason: str
    when: When = "always"
    combine: Combine = "max"  # how the kernel merges conf/all with conf/<interface>
    ok_values: frozenset[int] = frozenset()  # other live values that do the job as well

    @property
    def name(self) -> str:
        """The sysctl as sysctl(8) spells it, with IFACE standing for the interface."""
        return ("net.ipv4.vs." if self.side == "director" else "net.ipv4.conf.IFACE.") \
            + self.setting

    def accepts(self, live: int | None) -> bool:
        """Whether a live value already does the job (stricter ones are kept as they are)."""
        return live == self.value or live in self.ok_values


TUNABLES: tuple[Tunable, ...] = (
    Tunable("director", "expire_nodest_conn", 1,
            "when a real server is deleted, expire its connection entries at the next packet so "
            "the client gets a reset and reconnects, instead of a flow blackholed for up to the "
            "TCP idle timeout"),
    Tunable("director", "expire_quiescent_template", 1,
            "with persistence, a real server at weight 0 (draining) keeps receiving new "
            "connections from clients with an affinity template unless templates of quiesced "
            "servers expire", when="persistence"),
    Tunable("director", "conn_reuse_mode", 0,
            "before Linux 5.9, mode 1 drops the first SYN of a connection that reuses a source "
            "port still in the table, costing clients a 1 s retransmit; 0 avoids it (reused "
            "ports then stick to their old real server, even a draining one)",
            when="kernel<5.9"),
    Tunable("director", "conn_reuse_mode", 1,
            "from Linux 5.9 on, mode 1 reschedules reused source ports without the 1 s delay, "
            "so connections from reused ports follow drains and weight changes",
            when="kernel>=5.9"),
    Tunable("real server", "arp_ignore", 1,
            "answer ARP only for addresses configured on the interface the request came in on; "
            "the VIPs live on lo or a dummy, so the real server never claims them and the "
            "director keeps the VIP's MAC (2, 3 and 8 are stricter and are left alone)",
            ok_values=frozenset({2, 3, 8})),
    Tunable("real server", "arp_announce", 2,
            "when this host sends an ARP request, take the source address from the outgoing "
            "interface, never a VIP: otherwise neighbours learn VIP -> this host's MAC from the "
            "request itself (ARP flux)"),
    Tunable("real server", "proxy_arp", 0,
            "proxy ARP answers for any address this host routes to, the VIPs included, "
            "whatever arp_ignore says; it must be off on interfaces that face clients",
            combine="or"),
    # Decapsulated IPIP/GRE packets reach the tunnel with the client's source address, whose
    # reverse route points out of another interface. 2 (loose), not 0: 0 would be overridden by
    # all.rp_filter=1, 2 is in force whatever `all` says.
    Tunable("real server", "rp_filter", 2,
            "decapsulated packets carry the client's source address while its route points "
            "elsewhere: strict filtering (1) drops them; loose (2) wins over all.rp_filter "
            "because the kernel takes the maximum", when="tunnel", ok_values=frozenset({0})),
    # Set by `ipvsctl run` on the director's interface towards real servers checked via: vip.
    Tunable("check path", "accept_local", 1,
            "a via: vip check's reply comes from the VIP, one of the director's own addresses: "
            "without accept_local the director drops it as a martian source, and the check "
            "fails however healthy the real server is"),
    Tunable("check path", "rp_filter", 2,
            "strict reverse-path filtering (1) drops that same reply (the route back to the "
            "VIP is local, not through this interface); loose (2) accepts it and wins over "
            "all.rp_filter because the kernel takes the maximum", ok_values=frozenset({0})),
)

DIRECTOR = tuple(t for t in TUNABLES if t.side == "director")
CHECK_PATH = tuple(t for t in TUNABLES if t.side == "check path")
# The ARP settings every client-facing interface of a real server gets.
ARP = tuple(t for t in TUNABLES if t.side == "real server" and t.when == "always")
TUNNEL_RP_FILTER = next(t for t in TUNABLES if t.side == "real server" and t.when == "tunnel")
# Every per-interface setting a real server's observer reads.
REAL_SERVER_SETTINGS = tuple(dict.fromkeys(t.setting for t in TUNABLES
                                           if t.side == "real server"))


def effective(combine: Combine, all_value: int | None, iface_value: int | None) -> int | None:
    """The value the kernel acts on for one interface."""
    values = [v for v in (all_value, iface_value) if v is not None]
    if not values:
        return None
    if combine == "or":
        return int(any(values))
    return max(values)


def kernel_version(release: str) -> tuple[int, int]:
    """'6.1.0-56-amd64' -> (6, 1); unknown formats -> (0, 0)."""
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def applicable(release: str, uses_persistence: bool) -> list[Tunable]:
    """The director rows that apply to this kernel (and to a cluster with persistence)."""
    version = kernel_version(release)
    out = []
    for t in DIRECTOR:
        if t.when == "persistence" and not uses_persistence:
            continue
        if t.when == "kernel<5.9" and version >= (5, 9):
            continue
        if t.when == "kernel>=5.9" and version < (5, 9):
            continue
        out.append(t)
    return out
