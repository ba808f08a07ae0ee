"""The real-server sysctls ipvsctl manages: one table, the reason on every row.

The kernel combines per-interface values with conf/all: arp_ignore, arp_announce and rp_filter
take the MAXIMUM of the two, proxy_arp takes the logical OR. So a per-interface value can only
make behaviour stricter than `all`, never looser, and `all` is shared by every interface on the
host: ipvsctl sets per-interface keys by default and touches `all` only with --global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Combine = Literal["max", "or"]


@dataclass(frozen=True, slots=True)
class Tunable:
    setting: str
    wanted: int
    combine: Combine
    ok_values: frozenset[int]  # live values that already do the job (stricter ones are kept)
    reason: str


ARP_TUNABLES: tuple[Tunable, ...] = (
    Tunable("arp_ignore", 1, "max", frozenset({1, 2, 3, 8}),
            "answer ARP only for addresses configured on the interface the request came in on; "
            "the VIPs live on lo or a dummy, so the real server never claims them and the "
            "director keeps the VIP's MAC (2, 3 and 8 are stricter and are left alone)"),
    Tunable("arp_announce", 2, "max", frozenset({2}),
            "when this host sends an ARP request, take the source address from the outgoing "
            "interface, never a VIP: otherwise neighbours learn VIP -> this host's MAC from the "
            "request itself (ARP flux)"),
    Tunable("proxy_arp", 0, "or", frozenset({0}),
            "proxy ARP answers for any address this host routes to, the VIPs included, "
            "whatever arp_ignore says; it must be off on interfaces that face clients"),
)

# Decapsulated IPIP/GRE packets reach the tunnel with the client's source address, whose reverse
# route points out of another interface, so strict reverse-path filtering (1) drops them.
# 2 (loose) is effective whatever conf/all says, because the kernel takes the maximum; 0 would be
# overridden by all.rp_filter=1.
TUNNEL_RP_FILTER = Tunable(
    "rp_filter", 2, "max", frozenset({0, 2}),
    "decapsulated packets carry the client's source address while its route points elsewhere: "
    "strict filtering (1) drops them; loose (2) wins over all.rp_filter because the kernel "
    "takes the maximum")

BY_SETTING = {t.setting: t for t in (*ARP_TUNABLES, TUNNEL_RP_FILTER)}


def effective(combine: Combine, all_value: int | None, iface_value: int | None) -> int | None:
    """The value the kernel acts on for one interface."""
    values = [v for v in (all_value, iface_value) if v is not None]
    if not values:
        return None
    if combine == "or":
        return int(any(values))
    return max(values)
