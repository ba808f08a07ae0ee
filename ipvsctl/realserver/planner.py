"""Real-server planning: facts and a request in, a Plan out. No I/O here.

Setup orders its changes so that the host never answers ARP for a VIP, not even for a moment:
interfaces first, then the ARP sysctls, then the addresses, then the persisted files. Teardown
runs the other way round: the VIPs go before the ARP settings are relaxed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipvsctl.errors import ConfigError, HostError
from ipvsctl.plan.changes import Change, Noop, Plan
from ipvsctl.realserver.facts import (
    IFNAME_RULE,
    HostFacts,
    SysctlKey,
    parse_record_key,
    sysctl_name,
    valid_ifname,
)
from ipvsctl.realserver.ops import (
    AddAddress,
    CreateLink,
    DeleteLink,
    RemoveAddress,
    RenderedFile,
    SetLinkState,
    SetSysctl,
    WriteFile,
)
from ipvsctl.realserver.paths import written_by_ipvsctl
from ipvsctl.realserver.record import meta_of, sha256
from ipvsctl.realserver.request import SetupRequest
from ipvsctl.tunables import ARP, TUNNEL_RP_FILTER, Tunable


@dataclass(slots=True)
class ClientInterfaces:
    names: list[str]
    how: str  # "given", "routes", "fallback", "none"
    notes: list[str] = field(default_factory=list)


def host_prefix(address: str) -> int:
    return 128 if ":" in address else 32


# ---------------------------------------------------------------- client-facing interfaces

def resolve_client_interfaces(req: SetupRequest, facts: HostFacts) -> ClientInterfaces:
    """Where ARP requests for the VIPs can arrive: the interfaces the ARP settings go on.

    Named ones win. Otherwise: the interfaces of the IPv4 default routes plus, per IPv4 VIP,
    the interface of the most specific route covering it (an on-link VIP subnet is where the
    director and the router ask for the VIP). With neither, every up ARP interface that has an
    IPv4 address. IPv6 needs none of this: Linux answers neighbour solicitations only for
    addresses on the receiving interface.
    """
    if req.client_interfaces is not None:
        missing = [n for n in req.client_interfaces if n not in facts.links]
        if missing and req.root is None:
            raise HostError(f"--client-interface {', '.join(missing)}: no such interface "
                            f"(have: {', '.join(sorted(facts.links))})")
        return ClientInterfaces(list(req.client_interfaces), "given")
    v4 = [v for v in req.vips if ":" not in v]
    if not v4 and not req.global_arp:
        return ClientInterfaces([], "none", ["no IPv4 VIP: no ARP settings needed (IPv6 "
                                             "neighbour discovery answers only for addresses "
                                             "on the receiving interface)"])
    arp_links = {n for n, link in facts.links.items() if link.arp and n != req.interface}
    routes = [r for r in facts.routes if r.family == 4 and r.interface in arp_links]
    found = {r.interface: "default route" for r in routes if r.prefixlen == 0}
    table: dict[tuple[int, int], str] = {}
    for r in routes:
        if r.prefixlen:
            net = int(ipaddress.IPv4Address(r.dst)) >> (32 - r.prefixlen) << (32 - r.prefixlen)
            table.setdefault((r.prefixlen, net), r.interface)
    lengths = sorted({plen for plen, _ in table}, reverse=True)
    for vip in v4:
        ip = int(ipaddress.IPv4Address(vip))
        for plen in lengths:
            iface = table.get((plen, ip >> (32 - plen) << (32 - plen)))
            if iface:
                found.setdefault(iface, f"route towards {vip}")
                break
    if found:
        names = sorted(found)
        return ClientInterfaces(names, "routes",
                                [f"client-facing interface {n} ({found[n]})" for n in names])
    fallback = sorted({a.interface for a in facts.addresses
                       if a.family == 4 and a.interface in arp_links
                       and facts.links[a.interface].up})
    if fallback:
        return ClientInterfaces(fallback, "fallback",
                                [f"client-facing interface {n} (no route found: every up "
                                 f"interface with an IPv4 address)" for n in fallback])
    return ClientInterfaces([], "none", ["no client-facing interface found (no route, no IPv4 "
                                         "address): name them with --client-interface"])


# ---------------------------------------------------------------- sysctls

def wanted_sysctls(req: SetupRequest, facts: HostFacts,
                   clients: ClientInterfaces) -> tuple[dict[SysctlKey, tuple[Tunable, int]],
                                                      list[str]]:
    """The value each managed key must hold after setup, and findings about `all`."""
    out: dict[SysctlKey, tuple[Tunable, int]] = {}
    warnings: list[str] = []
    ifaces = list(clients.names) + (["all"] if req.global_arp else [])
    for tun in ARP:
        all_key: SysctlKey = ("ipv4", "all", tun.setting)
        all_now = facts.sysctl_int(all_key)
        if not req.global_arp and all_now is not None and all_now not in (0, tun.value):
            if tun.combine == "or":
                warnings.append(f"sysctl {sysctl_name(all_key)} is {all_now}: the kernel ORs it "
                                f"with every interface's value, so {tun.setting} stays on "
                                "everywhere and the VIPs may be answered for; set it to 0 "
                                "(ipvsctl changes `all` only with --global)")
            elif all_now > tun.value:
                warnings.append(f"sysctl {sysctl_name(all_key)} is {all_now}, stricter than the "
                                f"{tun.value} wanted: the kernel uses the maximum, so every "
                                f"interface acts on {all_now} (still keeps the VIPs quiet); "
                                "left as is")
        for iface in ifaces:
            key: SysctlKey = ("ipv4", iface, tun.setting)
            now = facts.sysctl_int(key)
            if now is None and iface != "all" and req.root is None:
                warnings.append(f"sysctl {sysctl_name(key)} does not exist (no IPv4 on "
                                f"{iface}?); not set")
                continue
            keep = now is not None and tun.accepts(now)
            out[key] = (tun, now if keep and now is not None else tun.value)
    link = facts.links.get(req.interface)
    if link is not None and link.is_tunnel:
        key = ("ipv4", req.interface, TUNNEL_RP_FILTER.setting)
        now = facts.sysctl_int(key)
        all_rp = facts.sysctl_int(("ipv4", "all", TUNNEL_RP_FILTER.setting))
        eff = max(v for v in (now, all_rp, 0) if v is not None)
        value = now if now is not None and TUNNEL_RP_FILTER.accepts(eff) else \
            TUNNEL_RP_FILTER.value
        out[key] = (TUNNEL_RP_FILTER, value)
    return out, warnings


def _sysctl_steps(wanted: dict[SysctlKey, tuple[Tunable, int]], facts: HostFacts,
                  plan: Plan) -> None:
    for key, (tun, value) in wanted.items():
        name = sysctl_name(key)
        now = facts.sysctls.get(key)
        if now is not None and now == str(value):
            extra = "" if value == tun.value else f" (stricter than {tun.value}; left as is)"
            plan.noops.append(Noop("sysctl", name, f"sysctl {name} already {now}{extra}"))
            continue
        plan.changes.append(Change(SetSysctl(key, str(value), now), name,
                                   f"set sysctl {name} {now} -> {value}", now, str(value)))


# ---------------------------------------------------------------- setup

def plan_setup(req: SetupRequest, facts: HostFacts, clients: ClientInterfaces,
               files: Sequence[RenderedFile] = ()) -> Plan:
    """Raise ConfigError/HostError for anything that cannot work, before any change."""
    plan = Plan(warnings=list(req.warnings))
    problems: list[str] = []
    live = req.root is None
    link = facts.links.get(req.interface)
    if live:
        if link is None and req.interface == "lo":
            problems.append("interface lo does not exist")
        elif link is not None and link.arp:
            kind = link.kind or "an ethernet-like link"
            problems.append(f"--interface {req.interface}: answers ARP ({kind}); VIPs must "
                            "sit on lo, a dummy or a NOARP interface")
        problems += _ipv6_problems(req, facts)
        problems += _vip_conflicts(req, facts)
        problems += _gateway_conflicts(req, facts)
    if files:  # names from the kernel too: every one the boot files name must render as is
        problems += [f"interface {n!r} faces clients but its name cannot go into boot files "
                     f"({IFNAME_RULE}); give the interfaces with --client-interface"
                     for n in clients.names if not valid_ifname(n)]
    if problems:
        raise HostError("; ".join(problems)) if len(problems) == 1 else ConfigError(problems)

    wanted, warnings = wanted_sysctls(req, facts, clients)
    if live:
        if link is None:
            plan.changes.append(Change(CreateLink(req.interface), req.interface,
                                       f"create dummy interface {req.interface} (up)", None,
                                       {"kind": "dummy", "up": True}))
        elif not link.up:
            plan.changes.append(Change(SetLinkState(req.interface, True), req.interface,
                                       f"set link {req.interface} up", "down", "up"))
        plan.warnings += warnings
        plan.noops += [Noop("interface", n, note) for n, note in
                       zip(clients.names, clients.notes, strict=False)]
        if clients.how == "none" and any(":" not in v for v in req.vips):
            plan.warnings += clients.notes
        elif clients.how == "none":
            plan.noops += [Noop("interface", "-", note) for note in clients.notes]
        _sysctl_steps(wanted, facts, plan)
        _address_steps(req, facts, plan)
    _file_steps(files, facts, plan, req.root)
    return plan


def _ipv6_problems(req: SetupRequest, facts: HostFacts) -> list[str]:
    v6 = [v for v in req.vips if ":" in v]
    if not v6:
        return []
    for iface in ("all", req.interface):
        if facts.sysctls.get(("ipv6", iface, "disable_ipv6")) == "1":
            return [f"IPv6 is disabled (net.ipv6.conf.{iface}.disable_ipv6 = 1): cannot add "
                    f"{', '.join(v6[:3])}{' ...' if len(v6) > 3 else ''}; enable IPv6 on "
                    f"{req.interface} or leave out the IPv6 VIPs"]
    return []


def _vip_conflicts(req: SetupRequest, facts: HostFacts) -> list[str]:
    by_ip = facts.addresses_by_ip()
    out = []
    for vip in req.vips:
        for a in by_ip.get(vip, ()):
            link = facts.links.get(a.interface)
            if link is not None and link.arp:
                out.append(f"VIP {vip} is already on {a.interface}, an interface that answers "
                           f"ARP: this host would claim it on the network; remove it there "
                           f"first (ipvsctl never touches addresses it did not add)")
    return out


def _gateway_conflicts(req: SetupRequest, facts: HostFacts) -> list[str]:
    """A VIP that is a next hop of this host's routes: on lo it would make the host its own
    gateway, and every packet for that route would stop here."""
    hops = {r.gateway: r for r in facts.routes if r.gateway}
    out = []
    for vip in req.vips:
        route = hops.get(vip)
        if route is not None:
            dst = "default" if not route.prefixlen else f"{route.dst}/{route.prefixlen}"
            role = "default gateway" if not route.prefixlen else "gateway"
            out.append(f"--vip {vip}: is this host's {role} (route {dst} via {vip} dev "
                       f"{route.interface}); on lo the host would route to itself and lose "
                       "that route: not a VIP of this real server")
    return out


def _address_steps(req: SetupRequest, facts: HostFacts, plan: Plan) -> None:
    by_ip = facts.addresses_by_ip()
    for vip in req.vips:
        plen = host_prefix(vip)
        here = by_ip.get(vip, [])
        mine = [a for a in here if a.interface == req.interface]
        if mine:
            a = mine[0]
            plan.noops.append(Noop("address", f"{vip}/{plen}",
                                   f"address {a} already on {req.interface}"))
            if not a.is_host:
                plan.warnings.append(f"address {a} on {req.interface} covers a whole subnet: "
                                     f"this host then owns every address in it; a VIP should "
                                     f"be /{plen}")
            continue
        if here:
            plan.noops.append(Noop("address", f"{vip}/{plen}",
                                   f"{vip} already on {here[0].interface} (no ARP there); "
                                   f"not adding it to {req.interface} too"))
            continue
        nodad = " (nodad)" if plen == 128 else ""
        plan.changes.append(Change(AddAddress(req.interface, vip, plen), f"{vip}/{plen}",
                                   f"add address {vip}/{plen} to {req.interface}{nodad}", None,
                                   {"interface": req.interface}))


def file_repr(f: RenderedFile) -> str | None:
    return f"-> {f.symlink_to}" if f.symlink_to else f.content


def _file_steps(files: Iterable[RenderedFile], facts: HostFacts, plan: Plan,
                root: str | None) -> None:
    """Write what differs. Live, a file replaced is recorded (content, mode, owner) for
    teardown; under --root there is no record, so only ipvsctl's own earlier renders are
    replaced, never a file the image's author put there."""
    foreign = []
    for f in files:
        want = file_repr(f)
        now = facts.files.get(f.path)
        if now == want:
            plan.noops.append(Noop("file", f.path, f"file {f.path} already up to date"))
            continue
        if root is not None and now is not None and not written_by_ipvsctl(now):
            foreign.append(f"{root.rstrip('/')}{f.path}: exists and was not written by ipvsctl "
                           "(no such first line); move it aside or remove it, then rerun")
            continue
        verb = "write" if now is None else "update"
        what = f"symlink -> {f.symlink_to}" if f.symlink_to else f.purpose
        plan.changes.append(Change(
            WriteFile(f.path, f.content, now, f.symlink_to, root is None, f.mode,
                      before_meta=facts.file_meta.get(f.path)), f.path,
            f"{verb} {f.path} ({what})", None if now is None else {"sha256": sha256(now)},
            {"sha256": sha256(want or "")}))
    if foreign:
        raise HostError(foreign[0]) if len(foreign) == 1 else ConfigError(foreign)


# ---------------------------------------------------------------- teardown

def plan_teardown(record: dict[str, Any], facts: HostFacts) -> Plan:
    """Undo what the record says ipvsctl did, and only where it is still as ipvsctl left it."""
    plan = Plan()
    if not record:
        plan.warnings.append("nothing recorded: backend-setup has not changed this host "
                             "(or teardown already ran)")
        return plan
    by_ip = facts.addresses_by_ip()
    recorded_addrs = {(a["address"], a["interface"]) for a in record.get("addresses", [])}
    for a in record.get("addresses", []):
        addr, iface, plen = a["address"], a["interface"], int(a["prefixlen"])
        target = f"{addr}/{plen}"
        if any(x.interface == iface and x.prefixlen == plen for x in by_ip.get(addr, ())):
            plan.changes.append(Change(RemoveAddress(iface, addr, plen), target,
                                       f"remove address {target} from {iface}",
                                       {"interface": iface}, None))
        else:
            plan.noops.append(Noop("address", target, f"address {target} no longer on {iface}"))
    for name in record.get("links_created", []):
        if name not in facts.links:
            plan.noops.append(Noop("link", name, f"interface {name} already gone"))
            continue
        foreign = [str(a) for a in facts.addresses
                   if a.interface == name and (a.address, name) not in recorded_addrs
                   and not a.address.startswith("fe80:")]
        if foreign:
            plan.warnings.append(f"interface {name} was created by ipvsctl but now also holds "
                                 f"{', '.join(foreign)}: left in place")
            continue
        plan.changes.append(Change(DeleteLink(name), name, f"delete dummy interface {name}",
                                   {"kind": "dummy"}, None))
    for name in record.get("links_up", []):
        link = facts.links.get(name)
        if link is not None and link.up:
            plan.changes.append(Change(SetLinkState(name, False), name, f"set link {name} down "
                                       "(it was down before setup)", "up", "down"))
    for rkey, entry in sorted(record.get("sysctls", {}).items()):
        key = parse_record_key(rkey)
        name = sysctl_name(key)
        before, after, now = entry.get("before"), entry.get("after"), facts.sysctls.get(key)
        if before is None:
            continue
        if now == before:
            plan.noops.append(Noop("sysctl", name, f"sysctl {name} already back at {now}"))
        elif now is None:
            plan.noops.append(Noop("sysctl", name, f"sysctl {name} no longer exists"))
        elif now != after:
            plan.warnings.append(f"sysctl {name} is {now}, set by someone else after setup "
                                 f"(ipvsctl set {after}, it was {before} before); left as is")
        else:
            plan.changes.append(Change(SetSysctl(key, before, now), name,
                                       f"restore sysctl {name} {now} -> {before}", now, before))
    for path, entry in sorted(record.get("files", {}).items()):
        now = facts.files.get(path)
        before = entry.get("before")
        if now is None and before is None:
            plan.noops.append(Noop("file", path, f"file {path} already gone"))
        elif now is not None and sha256(now) != entry.get("after_sha256"):
            plan.warnings.append(f"file {path} was changed after setup; left as is")
        else:
            text = f"remove {path}" if before is None else f"restore {path} as it was before"
            symlink = before[3:] if before and before.startswith("-> ") else None
            meta = meta_of(entry)
            restore = WriteFile(path, None if symlink else before, now, symlink,
                                mode=0o644 if meta is None else meta.mode,
                                owner=None if meta is None else (meta.uid, meta.gid))
            plan.changes.append(Change(
                restore, path, text,
                None if now is None else {"sha256": sha256(now)},
                None if before is None else {"sha256": sha256(before)}))
    return plan
