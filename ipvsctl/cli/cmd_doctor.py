"""`ipvsctl doctor`: director readiness checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import JsonOpt, NetnsOpt, command, echo, echo_lines
from ipvsctl.errors import ExitCode
from ipvsctl.plan import printer


@command()
def doctor(
    file: Annotated[Path | None, typer.Argument(
        help="Cluster file: also check its VIPs, schedulers and kernel features.",
        show_default=False)] = None,
    netns: NetnsOpt = None,
    json_out: JsonOpt = False,
) -> ExitCode:
    """Check this director: IPVS and scheduler modules, director sysctls, VIPs and ARP, ICMP
    redirects towards NAT real servers, kernel-version caveats. One line per finding with a
    fix; exit 1 if anything fails."""
    from ipvsctl.config import load
    from ipvsctl.director.doctor import diagnose, gather, nat_real_servers

    cluster = load(file) if file else None
    findings = diagnose(gather(netns, nat_real_servers(cluster)), cluster)
    if json_out:
        echo(printer.to_json(printer.findings_json(findings)))
    else:
        echo_lines(printer.findings_lines(findings))
    return ExitCode.ERROR if any(f.level == "fail" for f in findings) else ExitCode.OK
