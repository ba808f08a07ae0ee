"""Reading a real server's state: one link dump, one address dump, one route dump, one sysctl batch.

The cost does not grow with the number of VIPs asked about: 1,000 VIPs are matched against
one address dump, not looked up one by one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ipvsctl.errors import HostError
from ipvsctl.host.netns import netns_path, run_in_netns
from ipvsctl.host.sysctl import read_sysctls, sysctl_path_parts
from ipvsctl.host.tree import Tree
from ipvsctl.realserver.facts import Address, FileMeta, HostFacts, Link, Route, SysctlKey
from ipvsctl.tunables import REAL_SERVER_SETTINGS

IPV4_SETTINGS = REAL_SERVER_SETTINGS
MAIN_TABLE = 254
RTN_UNICAST = 1
TCP_LISTEN = "0A"
ANY = {4: str(ipaddress.IPv4Address(0)), 6: str(ipaddress.IPv6Address(0))}
# Counted so the scale test can prove "one address dump, whatever the number of VIPs".
STATS = {"address_dumps": 0}


def open_iproute(netns: str | None) -> Any:
    if netns is not None:
        netns_path(netns)  # a clear error instead of pyroute2 creating the namespace
    try:
        return IPRoute(netns=netns, flags=0) if netns else IPRoute()
    except (OSError, NetlinkError) as exc:
        raise HostError(f"cannot open netlink{f' in namespace {netns}' if netns else ''}: "
                        f"{exc}") from exc


def observe(netns: str | None, *, vip_interface: str = "lo",
            listeners: bool = False) -> HostFacts:
    ipr = open_iproute(netns)
    try:
        raw_links = ipr.get_links()
        STATS["address_dumps"] += 1
        raw_addrs = ipr.get_addr()
        raw_routes = ipr.get_routes(table=MAIN_TABLE)
    except NetlinkError as exc:
        raise HostError(f"reading links/addresses/routes failed: {exc}") from exc
    finally:
        ipr.close()
    facts = HostFacts()
    names: dict[int, str] = {}
    for msg in raw_links:
        name = msg.get("ifname")
        kind = msg.get(("linkinfo", "kind"))
        names[msg["index"]] = name
        facts.links[name] = Link(name, msg["index"], msg["flags"], kind)
    for msg in raw_addrs:
        addr = msg.get("address")
        iface = names.get(msg["index"])
        if addr and iface:
            facts.addresses.append(Address(addr, msg["prefixlen"], iface))
    for msg in raw_routes:
        if msg.get("table") != MAIN_TABLE or msg["type"] != RTN_UNICAST:
            continue
        iface = names.get(msg.get("oif") or 0)
        if iface is None:
            continue  # multipath routes carry no oif; their legs are not client-facing guesses
        fam = 6 if msg["family"] == 10 else 4
        dst = msg.get("dst") or ANY[fam]
        facts.routes.append(Route(dst, msg["dst_len"], iface, fam, msg.get("gateway")))
    facts.sysctls = read_host_sysctls(netns, [*facts.links, "all", "default"], vip_interface)
    if listeners:
        facts.listeners = run_in_netns(netns, read_listeners)
    return facts


def read_host_sysctls(netns: str | None, interfaces: Iterable[str],
                      vip_interface: str) -> dict[SysctlKey, str | None]:
    keys: list[SysctlKey] = [("ipv4", i, s) for i in interfaces for s in IPV4_SETTINGS]
    keys += [("ipv6", i, "disable_ipv6") for i in ("all", vip_interface)]
    paths = {k: sysctl_path_parts("net", k[0], "conf", k[1], k[2]) for k in keys}
    values = read_sysctls(list(paths.values()), netns)
    return {k: values[p] for k, p in paths.items()}


def read_listeners() -> set[tuple[str, int]]:
    """TCP sockets in LISTEN in the namespace of the calling thread. /proc/net is the main
    thread's view (it links to /proc/self/net): run_in_netns moved only this thread, whose
    own view is /proc/thread-self/net."""
    out: set[tuple[str, int]] = set()
    for name, fam in (("tcp", 4), ("tcp6", 6)):
        try:
            lines = Path(f"/proc/thread-self/net/{name}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_LISTEN:
                continue
            hexaddr, hexport = fields[1].split(":")
            out.add((decode_proc_address(hexaddr, fam), int(hexport, 16)))
    return out


def decode_proc_address(hexaddr: str, family: int) -> str:
    raw = bytes.fromhex(hexaddr)
    # /proc/net/tcp prints each 32-bit word in host (little-endian) byte order.
    fixed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.IPv4Address(fixed) if family == 4 else ipaddress.IPv6Address(fixed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return ip.compressed


def read_files(paths: Iterable[str], root: str | None
               ) -> tuple[dict[str, str | None], dict[str, FileMeta]]:
    """Content of persisted files ("-> target" for a link, None when absent) and their mode
    and owner, read inside `root` (the live `/` by default) without following any link."""
    tree = Tree(root or "/")
    content: dict[str, str | None] = {}
    meta: dict[str, FileMeta] = {}
    for path in paths:
        try:
            content[path], found = tree.read(path)
        except OSError as exc:
            raise HostError(f"cannot read {tree.shown(path)}: {exc.strerror}") from exc
        if found is not None:
            meta[path] = FileMeta(found.mode, found.uid, found.gid)
    return content, meta
