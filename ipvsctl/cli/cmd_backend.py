"""Real-server commands: backend-setup, backend-teardown, backend-check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import DryRunOpt, JsonOpt, NetnsOpt, command, echo, echo_lines
from ipvsctl.errors import ExitCode
from ipvsctl.plan import printer
from ipvsctl.realserver.request import PERSIST_STYLES

FileArg = Annotated[Path | None, typer.Argument(
    help="Cluster file: serve the VIPs of every service that lists one of this host's "
         "addresses as a real server.", show_default=False)]
VipOpt = Annotated[list[str] | None, typer.Option(
    "--vip", help="A VIP (host address, IPv4 or IPv6); repeatable.", show_default=False)]
ClientOpt = Annotated[list[str] | None, typer.Option(
    "--client-interface", help="An interface that faces clients (where ARP requests for the "
    "VIPs arrive); repeatable. Default: found from the routes.", show_default=False)]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Also list what is already as wanted.")]


@command("backend-setup")
def backend_setup(
    cluster_file: FileArg = None,
    vip: VipOpt = None,
    interface: Annotated[str, typer.Option(
        "--interface", help="Where the VIPs go: lo, or a dummy interface (created if "
        "absent).")] = "lo",
    client_interface: ClientOpt = None,
    global_arp: Annotated[bool, typer.Option(
        "--global", help="Also set net.ipv4.conf.all.* (affects EVERY interface).")] = False,
    persist: Annotated[bool, typer.Option(
        "--persist", help="Also write boot-time files (sysctl.d drop-in and the VIPs).")] = False,
    persist_style: Annotated[str | None, typer.Option(
        "--persist-style", help=f"How the VIPs persist: {', '.join(PERSIST_STYLES)} "
        "(default systemd; implies --persist).", show_default=False)] = None,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Render the persisted files under this folder (image builds); changes "
        "nothing live.", show_default=False)] = None,
    netns: NetnsOpt = None,
    as_json: JsonOpt = False,
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Prepare this host (or --netns) as a direct-routing real server."""
    from ipvsctl.realserver.workflow import file_diffs, setup

    plan, result = setup(
        vip or [], netns=netns, interface=interface, client_interfaces=client_interface,
        global_arp=global_arp, cluster_file=str(cluster_file) if cluster_file else None,
        persist=persist_style or ("systemd" if persist else None),
        root=str(root) if root else None, dry_run=dry_run)
    diffs = file_diffs(plan) if dry_run else None
    if as_json:
        echo(printer.to_json(printer.host_json(plan, result, diffs)))
    else:
        echo_lines(printer.host_lines("setup", netns, plan, result, verbose=verbose,
                                      diffs=diffs))


@command("backend-teardown")
def backend_teardown(netns: NetnsOpt = None, as_json: JsonOpt = False,
                     dry_run: DryRunOpt = False, verbose: VerboseOpt = False) -> None:
    """Undo backend-setup: restore the recorded values, remove only what it added."""
    from ipvsctl.realserver.workflow import file_diffs, teardown

    plan, result = teardown(netns=netns, dry_run=dry_run)
    diffs = file_diffs(plan) if dry_run else None
    if as_json:
        echo(printer.to_json(printer.host_json(plan, result, diffs)))
    else:
        echo_lines(printer.host_lines("teardown", netns, plan, result, verbose=verbose,
                                      diffs=diffs))


@command("backend-check")
def backend_check(
    cluster_file: FileArg = None,
    vip: VipOpt = None,
    port: Annotated[list[int] | None, typer.Option(
        "--port", help="Also check that a TCP listener accepts VIP:PORT; repeatable.",
        show_default=False)] = None,
    client_interface: ClientOpt = None,
    netns: NetnsOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> ExitCode:
    """Verify a real server: VIPs, effective ARP sysctls, proxy_arp, rp_filter, listeners."""
    from ipvsctl.realserver.workflow import check

    findings = check(vip or [], netns=netns,
                     cluster_file=str(cluster_file) if cluster_file else None,
                     ports=port or [], client_interfaces=client_interface)
    if as_json:
        echo(printer.to_json(printer.findings_json(findings)))
    else:
        echo_lines(printer.findings_lines(findings, passed=verbose))
    return ExitCode.ERROR if any(f.level == "fail" for f in findings) else ExitCode.OK
