"""doctor's rules for many directors behind ECMP (pure: the file and the kernel's settings in,
findings out).

With several directors announcing one VIP, the router's ECMP decides which director a packet
reaches, and a lost or added director moves flows between directors mid-connection. Such a
flow survives only if the new director (1) takes a packet of a connection it never saw
(`sloppy_tcp` / `sloppy_sctp`) and (2) picks the same real server as the old one without
shared state: the `mh` (Maglev) scheduler, fed the same real servers and weight ratios on
every director. Measured in the VM: mh + sloppy_tcp kept 600 of 600 connections across a
lost director, wrr lost every moved one.
"""

from __future__ import annotations

from collections.abc import Mapping

from ipvsctl.model import Cluster, ServiceKey
from ipvsctl.plan.findings import Finding

ROUTER_ADVICE = ("on the router: ECMP over the directors' equal paths (BIRD `merge paths on`, "
                 "FRR `maximum-paths`, or your vendor's multipath), L4 hashing "
                 "(Linux: sysctl net.ipv4.fib_multipath_hash_policy=1 and "
                 "net.ipv6.fib_multipath_hash_policy=1), no graceful-restart stale routes "
                 "for the directors, and equal MED and AS path from every director")


def bgp_findings(cluster: Cluster, vs_sysctls: Mapping[str, int], bird: bool) -> list[Finding]:
    """Findings for a file with a bgp section (none without one)."""
    bgp = cluster.bgp
    if bgp is None:
        return []
    out: list[Finding] = []
    if not bird:
        out.append(Finding("fail", "bird", "/usr/sbin/bird is missing: `ipvsctl run` announces "
                           "the VIPs through BIRD 2", "apt-get install bird2"))
    else:
        out.append(Finding("ok", "bird", "/usr/sbin/bird present (BIRD 2 announces the VIPs)"))
    announced = sorted(k for k in cluster.announce if k in cluster.services)
    node = cluster.bgp_node
    if node is not None:
        families = {n.family for n in node.neighbours}
        for key in announced:
            if key.family not in families:
                out.append(Finding("warn", f"VIP {key.address}", f"director {node.name} has no "
                                   f"IPv{key.family} neighbour: the VIP is never announced",
                                   f"add an IPv{key.family} neighbour to bgp.neighbours"))
    shared = len(bgp.directors) > 1
    if shared and announced:
        out += _shared_findings(cluster, announced, vs_sysctls)
    if announced:
        out.append(Finding("warn", "router", "cannot be checked from here: " + ROUTER_ADVICE))
    return out


def _shared_findings(cluster: Cluster, announced: list[ServiceKey],
                     vs_sysctls: Mapping[str, int]) -> list[Finding]:
    out: list[Finding] = []
    count = len(cluster.bgp.directors) if cluster.bgp else 0
    not_mh = [k for k in announced if cluster.services[k].spec.scheduler != "mh"]
    for key in not_mh:
        svc = cluster.services[key]
        out.append(Finding("warn", f"service {key}", f"{count} directors share VIP "
                           f"{key.address} but its scheduler is {svc.spec.scheduler}: a flow "
                           "the router moves to another director lands on another real server "
                           "and is reset", "scheduler: mh (the same real servers and weight "
                           "ratios on every director), with scheduler_flags: [mh-port] when "
                           "clients are few addresses"))
    for key in announced:
        svc = cluster.services[key]
        if svc.spec.scheduler == "mh" and "mh-port" not in svc.spec.scheduler_flags:
            out.append(Finding("ok", f"service {key}", "mh hashes the client address only: "
                               "fine for many clients; add mh-port when few addresses open "
                               "many connections"))
    for name, protocols in (("sloppy_tcp", ("tcp",)), ("sloppy_sctp", ("sctp",))):
        uses = [k for k in announced if k.protocol in protocols]
        if not uses:
            continue
        have = cluster.director.sysctls.get(name, vs_sysctls.get(name))
        subject = f"net.ipv4.vs.{name}"
        if have == 1:
            out.append(Finding("ok", subject, f"1: a director takes over flows another started "
                               f"({len(uses)} shared service(s))"))
        else:
            out.append(Finding("warn", subject, f"is {'unknown' if have is None else have}: "
                               f"{count} directors share {len(uses)} service(s), and a flow the "
                               "router moves to another director is dropped there (it never "
                               "saw the connection start)",
                               f"declare `director: {{sysctls: {{{name}: 1}}}}` in the cluster "
                               "file"))
    return out
