"""backend-check: does this host behave as a direct-routing real server? Pure: facts in.

Values are judged as the kernel acts on them: the maximum of conf/all and conf/<iface> for
arp_ignore, arp_announce and rp_filter, the OR of the two for proxy_arp.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ipvsctl.plan.findings import Finding
from ipvsctl.realserver.facts import HostFacts, sysctl_name
from ipvsctl.realserver.planner import ClientInterfaces, host_prefix
from ipvsctl.tunables import ARP, TUNNEL_RP_FILTER, effective

ANY4, ANY6 = str(ipaddress.IPv4Address(0)), str(ipaddress.IPv6Address(0))  # wildcard binds


def check_host(vips: Sequence[str], facts: HostFacts, clients: ClientInterfaces,
               ports: Sequence[int] = ()) -> list[Finding]:
    out: list[Finding] = []
    by_ip = facts.addresses_by_ip()
    client_set = set(clients.names)
    for vip in vips:
        plen = host_prefix(vip)
        here = by_ip.get(vip, [])
        if not here:
            out.append(Finding("fail", "address", f"VIP {vip} is not on this host",
                               f"ipvsctl backend-setup --vip {vip}", target=vip))
            continue
        for a in here:
            link = facts.links.get(a.interface)
            if a.interface in client_set or (link is not None and link.arp):
                out.append(Finding("fail", "address",
                                   f"VIP {vip} is on {a.interface}, which answers ARP: this "
                                   "host claims the VIP on the network (ARP flux)",
                                   f"ip addr del {a} dev {a.interface}; "
                                   f"ipvsctl backend-setup --vip {vip}", target=vip))
            elif not a.is_host:
                out.append(Finding("warn", "address",
                                   f"VIP {vip} is on {a.interface} as /{a.prefixlen}: the host "
                                   "owns the whole subnet", f"use {vip}/{plen}", target=vip))
            else:
                out.append(Finding("ok", "address", f"VIP {a} on {a.interface}", target=vip))
            if link is not None and link.is_tunnel:
                out += _tunnel_rp_filter(a.interface, facts)
    if clients.how == "none" and any(":" not in v for v in vips):
        out.append(Finding("warn", "interface", "; ".join(clients.notes),
                           "ipvsctl backend-check --client-interface IFACE"))
    for iface in clients.names:
        out += _arp_findings(iface, facts)
    for vip in vips:
        for port in ports:
            out.append(_listener(vip, port, facts))
    return out


def _arp_findings(iface: str, facts: HostFacts) -> list[Finding]:
    out: list[Finding] = []
    for tun in ARP:
        all_v = facts.sysctl_int(("ipv4", "all", tun.setting))
        if_v = facts.sysctl_int(("ipv4", iface, tun.setting))
        eff = effective(tun.combine, all_v, if_v)
        name = sysctl_name(("ipv4", iface, tun.setting))
        how = "OR" if tun.combine == "or" else "max"
        if tun.accepts(eff):
            out.append(Finding("ok", "sysctl", f"{tun.setting} on {iface} is {eff} "
                               f"({how} of all={all_v}, {iface}={if_v})", target=name))
            continue
        fix = f"ipvsctl backend-setup sets {name} = {tun.value}"
        if tun.combine == "or" and all_v:
            fix = "sysctl -w net.ipv4.conf.all.proxy_arp=0 (it overrides every interface)"
        out.append(Finding("fail", "sysctl",
                           f"{tun.setting} on {iface} is effectively {eff} ({how} of "
                           f"all={all_v}, {iface}={if_v}); a real server needs {tun.value}",
                           fix, target=name))
    name = sysctl_name(("ipv4", iface, TUNNEL_RP_FILTER.setting))
    if _rp_filter(iface, facts) == 1:
        out.append(Finding("warn", "sysctl", f"rp_filter on {iface} is strict (1): fine while "
                           "replies leave by the interface requests arrive on; asymmetric paths "
                           "get dropped", f"sysctl -w {name}=2 if the paths are asymmetric",
                           target=name))
    return out


def _rp_filter(iface: str, facts: HostFacts) -> int | None:
    setting = TUNNEL_RP_FILTER.setting
    return effective("max", facts.sysctl_int(("ipv4", "all", setting)),
                     facts.sysctl_int(("ipv4", iface, setting)))


def _tunnel_rp_filter(iface: str, facts: HostFacts) -> list[Finding]:
    rp = _rp_filter(iface, facts)
    name = sysctl_name(("ipv4", iface, TUNNEL_RP_FILTER.setting))
    if rp == 1:
        return [Finding("fail", "sysctl", f"rp_filter on tunnel {iface} is strict (1): "
                        "decapsulated packets from clients are dropped", f"sysctl -w {name}=2",
                        target=name)]
    return [Finding("ok", "sysctl", f"rp_filter on tunnel {iface} is {rp}", target=name)]


def _listener(vip: str, port: int, facts: HostFacts) -> Finding:
    wild = (ANY4, ANY6) if ":" not in vip else (ANY6,)
    hit = [a for a in (vip, *wild) if (a, port) in facts.listeners]
    target = f"[{vip}]:{port}" if ":" in vip else f"{vip}:{port}"
    if hit:
        return Finding("ok", "listener", f"a TCP listener accepts {target} "
                       f"(bound to {hit[0]})", target=target)
    return Finding("fail", "listener", f"nothing listens on TCP {target}",
                   f"start the service bound to {vip} or to the wildcard address", target=target)
