"""`ipvsctl doctor`: is this director ready for direct routing? One finding per line, with a fix.

Facts are gathered once (gather), then judged by a pure function (diagnose), so every rule is
testable on plain data.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ipvsctl.host.netns import run_in_netns
from ipvsctl.host.sysctl import read_sysctls, sysctl_path_parts
from ipvsctl.model import SYNC_STATES, Cluster, HaDirector, SyncDaemon
from ipvsctl.plan.findings import Finding
from ipvsctl.tunables import applicable, kernel_version

IPVS_MODULE_DIR = "kernel/net/netfilter/ipvs"
_IFF_UP = 0x1
_IFF_MULTICAST = 0x1000


@dataclass(slots=True)
class Facts:
    release: str
    ipvs_loaded: bool
    modules: set[str]  # ip_vs modules this kernel can provide (loaded, built in or on disk)
    vs_sysctls: dict[str, int]
    ip_forward: int | None
    addresses: dict[str, str] = field(default_factory=dict)  # address -> interface
    arp_ignore: dict[str, int] = field(default_factory=dict)  # interface (and "all") -> value
    send_redirects: dict[str, int] = field(default_factory=dict)  # interface (and "all") -> value
    routes: dict[str, str] = field(default_factory=dict)  # asked-about address -> interface
    default_iface: str | None = None  # the IPv4 default route's interface
    links: dict[str, tuple[bool, bool]] = field(default_factory=dict)  # name -> (up, multicast)
    sync_daemons: dict[str, SyncDaemon] | None = None  # running threads; None: IPVS unreadable
    bird: bool = True  # /usr/sbin/bird exists (files with a bgp section need it)


def _available_modules(release: str) -> set[str]:
    names: set[str] = set()
    base = Path("/lib/modules") / release
    for ko in (base / IPVS_MODULE_DIR).glob("*.ko*"):
        names.add(ko.name.split(".ko")[0])
    try:
        for line in (base / "modules.builtin").read_text().splitlines():
            if "/ipvs/" in line:
                names.add(Path(line).name.split(".ko")[0])
    except OSError:
        pass
    names |= {p.name for p in Path("/sys/module").glob("ip_vs*")}
    return names


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def gather(netns: str | None, route_to: Sequence[str] = ()) -> Facts:
    """Every fact doctor judges, read in one switch into the namespace; `route_to`: addresses
    whose outgoing interface matters (the NAT real servers)."""
    release = platform.release()

    def inside() -> Facts:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        with IPRoute() as ipr:
            found_links = ipr.get_links()
            links = {link["index"]: link.get_attr("IFLA_IFNAME") for link in found_links}
            flags = {link.get_attr("IFLA_IFNAME"): (bool(link["flags"] & _IFF_UP),
                                                    bool(link["flags"] & _IFF_MULTICAST))
                     for link in found_links}
            addresses = {a.get_attr("IFA_ADDRESS"): links.get(a["index"], "?")
                         for a in ipr.get_addr()}
            routes: dict[str, str] = {}
            for address in route_to:
                try:
                    found = ipr.route("get", dst=address)
                except NetlinkError:
                    continue  # unreachable: nothing to say about its interface
                if found and found[0].get_attr("RTA_OIF") in links:
                    routes[address] = links[found[0].get_attr("RTA_OIF")]
            default = [links.get(r.get_attr("RTA_OIF")) for r in ipr.get_default_routes(family=2)]
        vs_dir = Path("/proc/sys/net/ipv4/vs")
        vs_paths = sorted(vs_dir.iterdir()) if vs_dir.is_dir() else []
        ifaces = sorted(set(addresses.values()) | set(routes.values()) | {"all"})
        arp_paths = [sysctl_path_parts("net", "ipv4", "conf", i, "arp_ignore") for i in ifaces]
        redirect_paths = [sysctl_path_parts("net", "ipv4", "conf", i, "send_redirects")
                          for i in ifaces]
        forward = sysctl_path_parts("net", "ipv4", "ip_forward")
        values = read_sysctls([forward, *arp_paths, *redirect_paths, *vs_paths])  # inside netns
        vs = {p.name: v for p in vs_paths if (v := _as_int(values[p])) is not None}

        def per_iface(paths: list[Path]) -> dict[str, int]:
            return {i: v for i, p in zip(ifaces, paths, strict=True)
                    if (v := _as_int(values[p])) is not None}

        loaded = Path("/proc/thread-self/net/ip_vs").exists()  # this thread's namespace
        return Facts(release, loaded, _available_modules(release),
                     vs, _as_int(values[forward]), addresses, per_iface(arp_paths),
                     per_iface(redirect_paths), routes, default[0] if default else None,
                     flags)

    facts = run_in_netns(netns, inside)
    from ipvsctl.bgp.speaker import BIRD

    facts.bird = Path(BIRD).exists()
    if facts.ipvs_loaded:
        facts.sync_daemons = _sync_daemons(netns)
    return facts


def _sync_daemons(netns: str | None) -> dict[str, SyncDaemon] | None:
    from ipvsctl.errors import IpvsctlError
    from ipvsctl.ipvs import IpvsAdapter

    try:
        with IpvsAdapter(netns, load_modules=False) as adapter:
            return adapter.sync_daemons()
    except (IpvsctlError, OSError):
        return None


def nat_real_servers(cluster: Cluster | None) -> list[str]:
    """The IPv4 NAT real servers' addresses (what gather's route_to needs)."""
    if cluster is None:
        return []
    return sorted({rs.key.address for s in cluster.services.values()
                   for rs in s.real_servers.values()
                   if rs.spec.forward == "nat" and ":" not in rs.key.address})


def diagnose(facts: Facts, cluster: Cluster | None = None,
             node: HaDirector | None = None) -> list[Finding]:
    """Every finding; `node` is the director of the file's pair this host acts as."""
    out: list[Finding] = []
    out += _module_findings(facts, cluster)
    uses_persistence = bool(cluster and any(s.spec.persistence
                                            for s in cluster.services.values()))
    declared = cluster.director.sysctls if cluster else {}
    for t in applicable(facts.release, uses_persistence or cluster is None):
        have = facts.vs_sysctls.get(t.setting)
        subject = t.name
        if have is None:
            continue  # IPVS not loaded yet: the module findings already say so
        if t.accepts(have):
            out.append(Finding("ok", subject, f"{have} ({t.reason})"))
        elif declared.get(t.setting) == t.value:
            out.append(Finding("warn", subject, f"{have}, the cluster file sets "
                               f"{t.value}: run `ipvsctl apply`"))
        else:
            out.append(Finding("warn", subject, f"is {have}, recommended {t.value}: "
                               f"{t.reason}", f"declare `director: {{sysctls: {{{t.setting}: "
                               f"{t.value}}}}}` in the cluster file"))
    if cluster is not None:
        out += _vip_findings(facts, cluster)
        if (any(rs.spec.forward == "nat" for s in cluster.services.values()
                for rs in s.real_servers.values()) and facts.ip_forward == 0):
            out.append(Finding("fail", "net.ipv4.ip_forward", "is 0 but NAT real servers need "
                               "the director to route their replies",
                               "sysctl -w net.ipv4.ip_forward=1 (and persist it)"))
        out += _redirect_findings(facts, cluster)
        out += _version_findings(facts, cluster)
        if node is not None:
            out += _ha_findings(facts, cluster, node)
        if cluster.bgp is not None:
            from ipvsctl.bgp.doctor import bgp_findings

            out += bgp_findings(cluster, facts.vs_sysctls, facts.bird)
    return out


def _ha_findings(facts: Facts, cluster: Cluster, node: HaDirector) -> list[Finding]:
    """This director of the pair: its VRRP interface and address, and its sync threads."""
    out = []
    link = facts.links.get(node.interface)
    if link is None:
        out.append(Finding("fail", f"interface {node.interface}", f"director {node.name}'s VRRP "
                           "interface does not exist", "fix ha.interface (or the director's "
                           "interface) in the cluster file"))
    elif not link[0]:
        out.append(Finding("fail", f"interface {node.interface}", "is down: keepalived goes "
                           "FAULT and never holds the VIPs", f"ip link set {node.interface} up"))
    else:
        out.append(Finding("ok", f"interface {node.interface}", f"up (director {node.name}'s "
                           "VRRP interface)"))
    if node.address is not None:
        where = facts.addresses.get(node.address)
        if where != node.interface:
            found = f"is on {where}" if where else "is not an address of this host"
            out.append(Finding("fail", f"address {node.address}", f"{found}: director "
                               f"{node.name} sends and receives its VRRP adverts there",
                               f"ip addr add {node.address}/<prefix> dev {node.interface}, or "
                               "fix the director's address (or pick another --node)"))
        else:
            out.append(Finding("ok", f"address {node.address}", f"on {node.interface}"))
    want = cluster.director.sync_daemons
    if want is None:
        return out
    have = facts.sync_daemons
    if have is None:
        out.append(Finding("warn", "sync daemon", "not read: IPVS is not loaded yet",
                           f"ipvsctl apply {cluster.path or 'FILE'} --node {node.name}"))
        return out
    fix = f"ipvsctl apply {cluster.path or 'FILE'} --node {node.name}"
    for interface in sorted({d.interface for d in want.values()}):
        link = facts.links.get(interface)
        if link is None or not link[0] or not link[1]:
            why = "does not exist" if link is None else "is down" if not link[0] else \
                "cannot multicast"
            out.append(Finding("fail", f"sync interface {interface}", f"{why}: the sync "
                               "daemon multicasts there", "fix ha.sync.interface, or the link"))
    for state in SYNC_STATES:
        subject = f"sync daemon {state}"
        new, old = want.get(state), have.get(state)
        if new is None and old is None:
            out.append(Finding("ok", subject, "not running (the file says sync: false)"))
        elif new is None and old is not None:
            out.append(Finding("fail", subject, f"runs ({old.describe()}) but the file says "
                               "sync: false", fix))
        elif new is not None and old is None:
            out.append(Finding("fail", subject, f"not running; the file declares "
                               f"{new.describe()}", fix))
        elif new is not None and old is not None and not new.satisfied_by(old):
            out.append(Finding("fail", subject, f"runs {old.describe()}; the file declares "
                               f"{new.describe()}", fix))
        elif old is not None:
            out.append(Finding("ok", subject, f"running: {old.describe()}"))
    return out


def _module_findings(facts: Facts, cluster: Cluster | None) -> list[Finding]:
    out = []
    if facts.ipvs_loaded:
        out.append(Finding("ok", "ip_vs", f"IPVS is loaded (kernel {facts.release})"))
    elif "ip_vs" in facts.modules:
        out.append(Finding("ok", "ip_vs", "IPVS is available and is loaded by the first apply"))
    else:
        out.append(Finding("fail", "ip_vs", f"kernel {facts.release} has no IPVS module",
                           "boot a kernel with CONFIG_IP_VS (e.g. Debian's linux-image-amd64)"))
        return out
    used: dict[str, list[str]] = {}
    if cluster is not None:
        for key, svc in sorted(cluster.services.items()):
            used.setdefault(svc.spec.scheduler, []).append(str(key))
            if svc.spec.persistence and svc.spec.persistence.engine:
                used.setdefault(f"pe_{svc.spec.persistence.engine}", []).append(str(key))
    for name, services in sorted(used.items()):
        module = f"ip_vs_{name}"
        if module in facts.modules:
            out.append(Finding("ok", module, f"available (used by {len(services)} service(s))"))
        else:
            out.append(Finding("fail", module, f"not available in kernel {facts.release}, "
                               f"used by {', '.join(services[:3])}",
                               "choose another scheduler or a kernel that has the module"))
    if cluster is None:
        scheds = sorted(m.removeprefix("ip_vs_") for m in facts.modules
                        if m.startswith("ip_vs_") and not m.startswith("ip_vs_pe_")
                        and m != "ip_vs_ftp")
        out.append(Finding("ok", "schedulers", "available: " + " ".join(scheds)))
    return out


def _vip_findings(facts: Facts, cluster: Cluster) -> list[Finding]:
    out = []
    vips = sorted({k.address for k in cluster.services if not k.is_fwmark})
    for vip in vips:
        iface = facts.addresses.get(vip)
        if iface is None and cluster.ha is not None:
            out.append(Finding("ok", f"VIP {vip}", "not on this director now: keepalived adds "
                               "it while this director is the VRRP master"))
            continue
        if iface is None:
            out.append(Finding("fail", f"VIP {vip}", "is not an address of this director: IPVS "
                               "only sees packets delivered to a local address",
                               f"ip addr add {vip}/{32 if ':' not in vip else 128} dev <the "
                               "client-facing interface> (or let your VRRP daemon hold it)"))
            continue
        if ":" in vip:
            out.append(Finding("ok", f"VIP {vip}", f"on {iface}"))
            continue
        effective = max(facts.arp_ignore.get("all", 0), facts.arp_ignore.get(iface, 0))
        if iface == "lo" and max((v for i, v in facts.arp_ignore.items() if i != "lo"),
                                 default=0) >= 1:
            out.append(Finding("fail", f"VIP {vip}", "is on lo while arp_ignore >= 1: the "
                               "director will not answer ARP for its own VIP",
                               f"put {vip} on the client-facing interface instead of lo"))
        elif effective >= 2 and iface != "lo":
            out.append(Finding("warn", f"VIP {vip}", f"on {iface} with effective arp_ignore "
                               f"{effective}: ARP requests from other subnets go unanswered",
                               f"sysctl -w net.ipv4.conf.{iface}.arp_ignore=1 and check "
                               "net.ipv4.conf.all.arp_ignore"))
        else:
            out.append(Finding("ok", f"VIP {vip}", f"on {iface}, answers ARP "
                               f"(arp_ignore {effective})"))
    return out


def _redirect_findings(facts: Facts, cluster: Cluster) -> list[Finding]:
    """One-armed NAT: real servers reached through the interface clients are answered through
    (the default route's). The director then forwards each reply out of the interface it came in
    on, and with ICMP redirects on it tells the real server to send to the client directly: once
    one is accepted, that server's replies skip the un-NAT and are lost."""
    out = []
    by_iface: dict[str, list[str]] = {}
    for address in nat_real_servers(cluster):
        iface = facts.routes.get(address)
        if iface is not None and iface == facts.default_iface:
            by_iface.setdefault(iface, []).append(address)
    for iface, servers in sorted(by_iface.items()):
        on = max(facts.send_redirects.get("all", 0), facts.send_redirects.get(iface, 0))
        subject = f"net.ipv4.conf.{iface}.send_redirects"
        shown = ", ".join(servers[:3]) + (" ..." if len(servers) > 3 else "")
        if on:
            out.append(Finding("warn", subject, f"ICMP redirects are on, and NAT real servers "
                               f"({shown}) are reached through {iface}, the default route's "
                               "interface: a redirect makes them answer clients directly, "
                               "past the director's un-NAT",
                               f"sysctl -w net.ipv4.conf.all.send_redirects=0 "
                               f"net.ipv4.conf.{iface}.send_redirects=0 (and persist them)"))
        else:
            out.append(Finding("ok", subject, f"0: NAT replies through {iface} draw no ICMP "
                               "redirects"))
    return out


def _version_findings(facts: Facts, cluster: Cluster) -> list[Finding]:
    version = kernel_version(facts.release)
    needs: list[tuple[tuple[int, int], str]] = []
    for svc in cluster.services.values():
        for rs in svc.real_servers.values():
            tun = rs.spec.tunnel
            if tun and tun.type == "gue":
                needs.append(((5, 2), "GUE tunnel real servers"))
            if tun and tun.type == "gre":
                needs.append(((5, 3), "GRE tunnel real servers"))
            if tun and rs.key.family != svc.key.family:
                needs.append(((5, 3), "tunnels across address families"))
    out = []
    for minimum, what in sorted(set(needs)):
        if version < minimum:
            out.append(Finding("fail", "kernel", f"{what} need Linux {minimum[0]}.{minimum[1]} "
                               f"or later; this is {facts.release}", "upgrade the kernel"))
    return out
