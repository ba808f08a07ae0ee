"""The rules of the cluster file's `bgp` section and of each service's `announce`.

Part of the one builder (builder.py): same getters, same placed problems. The ranges are the
ones BIRD would otherwise refuse when `ipvsctl run` reconfigures it (hold time 3..65535, BFD
intervals, MED, communities), and the ones that would make ECMP silently fail: services that
share a VIP announce one route, so they must agree on its MED and communities, or the router
would see different paths from one director and merge none.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ipvsctl.config import vocabulary as R
from ipvsctl.config.ha_rules import director_labels
from ipvsctl.config.tree import kind, shown
from ipvsctl.health.policy import MinHealthy
from ipvsctl.model import Announce, Bfd, Bgp, BgpDirector, BgpNeighbour, ServiceKey

if TYPE_CHECKING:
    from ipvsctl.config.builder import _Builder

_COMMUNITY = re.compile(R.COMMUNITY_PATTERN)


def build_bgp(b: _Builder, top: dict[str, Any]) -> Bgp | None:
    """The Bgp the section describes, or None (its problems recorded) if it is unusable."""
    m = b.mapping(top, "bgp", "bgp", "bgp")
    if m is None:
        return None
    ok = True
    local_as = None
    if "local_as" in m:
        local_as = b.integer(m, "local_as", "bgp.local_as", *R.ASN)
        ok = local_as is not None
    hold = R.DEFAULT_HOLD_TIME
    if "hold_time" in m:
        given = b.integer(m, "hold_time", "bgp.hold_time", *R.HOLD_TIME)
        ok = ok and given is not None
        hold = hold if given is None else given
    bfd = None
    if "bfd" in m and m["bfd"] is not False:
        bfd = _bfd(b, m)
        ok = ok and bfd is not None
    wait = R.DEFAULT_WITHDRAW_WAIT
    if "withdraw_wait" in m:
        given_wait = b.checks.seconds(m, "withdraw_wait", "bgp.withdraw_wait", R.WITHDRAW_WAIT)
        ok = ok and given_wait is not None
        wait = wait if given_wait is None else given_wait
    neighbours: tuple[BgpNeighbour, ...] | None = ()
    if "neighbours" in m:
        neighbours = _neighbours(b, m, "bgp.neighbours")
        ok = ok and neighbours is not None
    directors = _directors(b, top, m, local_as, neighbours)
    if not ok or directors is None:
        return None
    return Bgp(hold_time=hold, bfd=bfd, withdraw_wait=wait, directors=directors)


def _bfd(b: _Builder, m: dict[str, Any]) -> Bfd | None:
    if m["bfd"] is True:
        return Bfd(100, 3)
    f = b.mapping(m, "bfd", "bgp.bfd", "bfd")
    if f is None:
        return None
    interval, multiplier = 100, 3
    if "interval_ms" in f:
        interval = b.integer(f, "interval_ms", "bgp.bfd.interval_ms", *R.BFD_INTERVAL_MS) or 0
    if "multiplier" in f:
        multiplier = b.integer(f, "multiplier", "bgp.bfd.multiplier", *R.BFD_MULTIPLIER) or 0
    return Bfd(interval, multiplier) if interval and multiplier else None


def _neighbours(b: _Builder, m: dict[str, Any], where: str
                ) -> tuple[BgpNeighbour, ...] | None:
    items = b.seq(m, "neighbours", where)
    if items is None:
        return None
    if len(items) > R.MAX_NEIGHBOURS:
        b.error(m, "neighbours", where, f"must list at most {R.MAX_NEIGHBOURS} neighbours, not "
                                        f"{len(items)}")
        return None
    out: list[BgpNeighbour] = []
    seen: dict[str, str] = {}
    ok = True
    for index in range(len(items)):
        at = f"{where}[{index}]"
        n = b.mapping(items, index, at, "bgp_neighbour")
        if n is None:
            ok = False
            continue
        address = asn = None
        for key in ("address", "as"):
            if key not in n:
                b.error(items, index, at, f"missing required key '{key}'")
                ok = False
        if "address" in n:
            got = b.address(n, "address", f"{at}.address")
            if got is not None:
                address = got[1]
                if address in seen:
                    b.error(n, "address", f"{at}.address", f"{address} is already the "
                                                           f"neighbour at {seen[address]}")
                    address = None
                else:
                    seen[address] = b.where(n, "address")
        if "as" in n:
            asn = b.integer(n, "as", f"{at}.as", *R.ASN)
        port = 179
        if "port" in n:
            port = b.integer(n, "port", f"{at}.port", *R.BGP_PORT) or 0
        if address is None or asn is None or not port:
            ok = False
            continue
        out.append(BgpNeighbour(address, asn, port))
    return tuple(out) if ok else None


def _directors(b: _Builder, top: dict[str, Any], m: dict[str, Any], local_as: int | None,
               neighbours: tuple[BgpNeighbour, ...] | None) -> tuple[BgpDirector, ...] | None:
    """neighbours: bgp.neighbours (None: refused, so a director without its own is not
    reported again)."""
    if "directors" not in m:
        b.error(top, "bgp", "bgp", "missing required key 'directors' (the directors "
                                   "announcing the VIPs: name and router_id each)")
        return None
    items = b.seq(m, "directors", "bgp.directors")
    if items is None:
        return None
    if not 1 <= len(items) <= R.MAX_BGP_DIRECTORS:
        b.error(m, "directors", "bgp.directors", f"must list 1..{R.MAX_BGP_DIRECTORS} "
                                                 f"directors, not {len(items)}")
        return None
    out: list[BgpDirector] = []
    ok = True
    labels: dict[str, str] = {}  # every name and hostname: --node chooses by either
    ids: dict[str, str] = {}
    for index in range(len(items)):
        where = f"bgp.directors[{index}]"
        d = b.mapping(items, index, where, "bgp_director")
        if d is None:
            ok = False
            continue
        router_id = local = None
        name, hostname, labelled = director_labels(b, items, index, d, where, labels)
        ok = ok and labelled
        if "router_id" not in d:
            b.error(items, index, where, "missing required key 'router_id' (an IPv4 address, "
                                         "unique among the routers; usually its own)")
        else:
            router_id = _router_id(b, d, f"{where}.router_id")
            if router_id is not None and router_id in ids:
                b.error(d, "router_id", f"{where}.router_id", f"{router_id} is already the "
                                                              f"router id at {ids[router_id]}")
                router_id = None
            elif router_id is not None:
                ids[router_id] = b.where(d, "router_id")
        if "local_address" in d:
            got = b.address(d, "local_address", f"{where}.local_address")
            local = got[1] if got else None
            ok = ok and local is not None
        asn = local_as
        if "local_as" in d:
            asn = b.integer(d, "local_as", f"{where}.local_as", *R.ASN)
            ok = ok and asn is not None
        elif asn is None and "local_as" not in m:
            b.error(items, index, where, "missing required key 'local_as' (or set "
                                         "bgp.local_as for every director)")
            ok = False
        own: tuple[BgpNeighbour, ...] | None = neighbours
        if "neighbours" in d:
            own = _neighbours(b, d, f"{where}.neighbours")
        if own is not None and not own and (neighbours is not None or "neighbours" in d):
            place: tuple[Any, Any, str] = (d, "neighbours", f"{where}.neighbours") \
                if "neighbours" in d else (items, index, where)
            b.error(*place, "no neighbours: set bgp.neighbours or this director's neighbours "
                            "(the routers it announces to)")
            own = None
        if name is None or router_id is None or asn is None or own is None:
            ok = False
            continue
        out.append(BgpDirector(name, hostname, router_id, local, asn, own,
                               source=b.source(items, index)))
    return tuple(out) if ok else None


def _router_id(b: _Builder, d: dict[str, Any], where: str) -> str | None:
    text = b.string(d, "router_id", where, " (an IPv4 address such as 10.0.0.1)")
    if text is None:
        return None
    try:
        ip = ipaddress.IPv4Address(text.strip())
    except ValueError:
        b.error(d, "router_id", where, f"'{shown(text)}' is not an IPv4 address (BGP's router "
                                       "id is 32 bits, written as one, even on IPv6 sessions)")
        return None
    if int(ip) == 0:
        b.error(d, "router_id", where, "0.0.0.0 is not a valid router id")
        return None
    return ip.compressed


def build_announce(b: _Builder, m: dict[str, Any], where: str) -> Announce | None:
    """A service's `announce`: true (min_healthy 1) or a mapping."""
    at = f"{where}.announce"
    value = m["announce"]
    if value is True:
        return Announce(MinHealthy())
    if value is False:
        return None
    if value is not None and type(value) is not dict:
        b.error(m, "announce", at, f"must be true, false or a mapping, not {kind(value)}")
        return None
    a = b.mapping(m, "announce", at, "announce") or {}
    need = MinHealthy()
    if "min_healthy" in a:
        need = b.checks.min_healthy(a, "min_healthy", f"{at}.min_healthy") or need
    med = None
    if "med" in a:
        med = b.integer(a, "med", f"{at}.med", *R.MED)
    communities: list[tuple[int, int]] = []
    if "communities" in a:
        items = b.seq(a, "communities", f"{at}.communities") or []
        if len(items) > R.MAX_COMMUNITIES:
            b.error(a, "communities", f"{at}.communities",
                    f"must list at most {R.MAX_COMMUNITIES}, not {len(items)}")
            items = []
        for index in range(len(items)):
            got = _community(b, items, index, f"{at}.communities[{index}]")
            if got is not None and got not in communities:
                communities.append(got)
    return Announce(need, med, tuple(communities))


def _community(b: _Builder, items: list[Any], index: int, where: str) -> tuple[int, int] | None:
    text = b.string(items, index, where, " such as \"65000:100\" (quote it)")
    if text is None:
        return None
    lo, hi = R.COMMUNITY_PART
    if not _COMMUNITY.match(text.strip()):
        b.error(items, index, where, f"'{shown(text)}' is not a community (AS:VALUE, each "
                                     f"{lo}..{hi}, such as \"65000:100\")")
        return None
    first, second = (int(part) for part in text.strip().split(":"))
    if first > hi or second > hi:
        b.error(items, index, where, f"both halves of a community must be {lo}..{hi}")
        return None
    return first, second


def check_announce(b: _Builder, top: dict[str, Any], items: list[Any],
                   places: Mapping[ServiceKey, int], announce: Mapping[ServiceKey, Announce],
                   has_bgp: bool) -> None:
    """`announce` needs a bgp section, a VIP service, and one route per VIP: services on one
    VIP must agree on the route's MED and communities."""
    firsts: dict[str, tuple[ServiceKey, Announce]] = {}
    for key, rule in announce.items():
        index = places[key]
        m = items[index]
        where = f"services[{index}].announce"
        if not has_bgp:
            b.key_error(m, "announce", where, "needs a bgp section (the directors and their "
                                              "neighbours)")
            continue
        if key.is_fwmark:
            b.key_error(m, "announce", where, "a fwmark service has no VIP to announce: "
                                              "announce the service of its address instead")
            continue
        first = firsts.setdefault(key.address, (key, rule))
        if first[0] != key and (first[1].med, first[1].communities) != (rule.med,
                                                                        rule.communities):
            b.error(m, "announce", where, f"{key.address} is one route: give it the med and "
                                          f"communities {first[0]} announces it with")
