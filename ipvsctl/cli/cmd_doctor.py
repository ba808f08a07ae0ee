"""`ipvsctl doctor`: director readiness checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import JsonOpt, NetnsOpt, NodeOpt, command, echo, echo_lines
from ipvsctl.errors import ExitCode
from ipvsctl.plan import printer


@command()
def doctor(
    file: Annotated[Path | None, typer.Argument(
        help="Cluster file: also check its VIPs, schedulers and kernel features.",
        show_default=False)] = None,
    netns: NetnsOpt = None,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> ExitCode:
    """Check this director: IPVS and scheduler modules, director sysctls, VIPs and ARP, ICMP
    redirects towards NAT real servers, kernel-version caveats; for a file with `ha`, this
    director's VRRP interface and address and its sync daemon threads; for a file with
    `bgp`, BIRD, mh and sloppy_tcp on VIPs several directors share, and the router's side
    (ECMP, L4 hashing). One line per finding with a fix; exit 1 if anything fails."""
    from ipvsctl.config import load
    from ipvsctl.director.doctor import diagnose, gather, nat_real_servers
    from ipvsctl.director.workflow import this_director
    from ipvsctl.ha.node import for_node

    cluster = load(file) if file else None
    director = this_director(cluster, node) if cluster else None
    if cluster is not None and director is not None:
        cluster = for_node(cluster, director)
    if cluster is not None and cluster.bgp is not None:
        from ipvsctl.director.workflow import as_node

        cluster = as_node(cluster, node)
    findings = diagnose(gather(netns, nat_real_servers(cluster)), cluster, director)
    if json_out:
        echo(printer.to_json(printer.findings_json(findings)))
    else:
        echo_lines(printer.findings_lines(findings))
    return ExitCode.ERROR if any(f.level == "fail" for f in findings) else ExitCode.OK
