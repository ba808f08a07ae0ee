"""BIRD 2's configuration for one director (pure: text from the file's `bgp` section).

Two kinds of file, so that the announced set is a file of its own, the single truth BIRD
reads on every `birdc configure` (a runtime `disable` is not durable: the next configure
undoes it):

- bird.conf: static while the bgp section stays the same: router id, one static protocol per
  address family whose only content is an `include` of the announce file, and one BGP
  session per neighbour exporting exactly that protocol's routes;
- announce4.conf / announce6.conf: one `route VIP/32 blackhole { ... };` per VIP announced
  now, with its MED and communities. The blackhole route never reaches the director's own
  routing table (there is no kernel protocol): it only gives BGP something to announce.

BIRD's traps, handled here: `include` must start its own line; a missing include file fails
the parse (the adapter writes empty ones first); `graceful restart` is off, or a router would
keep routing to a director that died (stale routes for 120 s by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ipvsctl.model import Bgp, BgpDirector, BgpNeighbour, family_of

STATIC = {4: "ipvsctl_vips4", 6: "ipvsctl_vips6"}  # the static protocols, one per family


@dataclass(frozen=True, slots=True)
class Route:
    """One announced VIP: a /32 or /128 with the attributes its services give it."""

    address: str
    med: int | None = None
    communities: tuple[tuple[int, int], ...] = ()

    @property
    def family(self) -> int:
        return family_of(self.address)


@dataclass(frozen=True, slots=True)
class Files:
    """Where one director's speaker keeps its files (one folder per network namespace)."""

    folder: Path

    @property
    def conf(self) -> Path:
        return self.folder / "bird.conf"

    @property
    def socket(self) -> Path:
        return self.folder / "bird.ctl"

    @property
    def pid(self) -> Path:
        return self.folder / "bird.pid"

    def announce(self, family: int) -> Path:
        return self.folder / f"announce{family}.conf"


def session_name(index: int, neighbour: BgpNeighbour) -> str:
    """The BGP protocol's name in BIRD (and in `status`): by position and family."""
    return f"ipvsctl_n{index + 1}" + ("v6" if neighbour.family == 6 else "")


def bird_conf(bgp: Bgp, director: BgpDirector, files: Files,
              announce: dict[int, Path] | None = None) -> str:
    """The director's bird.conf. `announce`: other include files (a staged set to check)."""
    includes = announce or {family: files.announce(family) for family in STATIC}
    lines = [
        f"# ipvsctl: BIRD 2 for director {director.name}; rewritten by `ipvsctl run`.",
        "log stderr all;",
        f"router id {director.router_id};",
        "protocol device { scan time 10; }",
    ]
    if bgp.bfd is not None:
        ms = bgp.bfd.interval_ms
        lines += ["protocol bfd ipvsctl_bfd {",
                  f"  interface \"*\" {{ min rx interval {ms} ms; min tx interval {ms} ms; "
                  f"multiplier {bgp.bfd.multiplier}; }};",
                  "}"]
    for family, name in STATIC.items():
        lines += [f"protocol static {name} {{", f"  ipv{family};",
                  f"  include \"{includes[family]}\";", "}"]
    for family, name in STATIC.items():
        # Only our VIPs; BIRD sends a MED to an external peer only when the export filter
        # set it, so the route's own MED is set again here.
        lines += [f"filter ipvsctl_export{family} {{",
                  f"  if proto != \"{name}\" then reject;",
                  "  if defined(bgp_med) then bgp_med = bgp_med;",
                  "  accept;", "}"]
    lines += [
        "template bgp ipvsctl_peer {",
        f"  local as {director.local_as};",
        f"  hold time {bgp.hold_time}; keepalive time {bgp.keepalive};",
        # Back quickly after a session error or a restart (BIRD waits 60 s by default).
        "  connect delay time 1; connect retry time 5; error wait time 1, 10;",
        "  graceful restart off;",
    ]
    if bgp.bfd is not None:
        lines.append("  bfd on;")
    lines.append("}")
    for index, n in enumerate(director.neighbours):
        local = director.local_address
        source = f"local {local}; " if local is not None and family_of(local) == n.family else ""
        port = f" port {n.port}" if n.port != 179 else ""
        lines += [
            f"protocol bgp {session_name(index, n)} from ipvsctl_peer {{",
            f"  {source}neighbor {n.address}{port} as {n.asn};",
            f"  ipv{n.family} {{ import none; export filter ipvsctl_export{n.family}; "
            "next hop self; };",
            "}",
        ]
    return "\n".join(lines) + "\n"


def announce_file(routes: Iterable[Route], family: int) -> str:
    """The include file of one family's static protocol: the routes announced now."""
    lines = [f"# ipvsctl: the IPv{family} VIPs announced now"]
    prefix = 32 if family == 4 else 128
    for route in sorted((r for r in routes if r.family == family), key=lambda r: r.address):
        attrs = [f"bgp_med = {route.med};"] if route.med is not None else []
        attrs += [f"bgp_community.add(({a}, {b}));" for a, b in route.communities]
        body = " { " + " ".join(attrs) + " }" if attrs else ""
        lines.append(f"route {route.address}/{prefix} blackhole{body};")
    return "\n".join(lines) + "\n"


def announced_in(text: str) -> set[str]:
    """The VIPs an include file ipvsctl wrote announces (read back on start, so a restart
    keeps announcing them until the first verdicts)."""
    out = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "route" and "/" in parts[1]:
            out.add(parts[1].split("/", 1)[0])
    return out
