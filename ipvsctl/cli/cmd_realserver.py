"""Real-server commands: backend-setup, backend-teardown, backend-check."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import DryRunOpt, JsonOpt, NetnsOpt, app, echo, exit_with, guarded
from ipvsctl.errors import ExitCode
from ipvsctl.plan import printer
from ipvsctl.plan.changes import Plan
from ipvsctl.plan.executor import Result
from ipvsctl.realserver.ops import WriteFile
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


def _diffs(plan: Plan) -> dict[str, str]:
    out = {}
    for c in plan.changes:
        op = c.op
        if not isinstance(op, WriteFile):
            continue
        new = f"-> {op.symlink_to}\n" if op.symlink_to else op.content or ""
        old = op.before or ""
        out[op.path] = "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=op.path if op.before is not None else "/dev/null",
            tofile=op.path if (op.content is not None or op.symlink_to) else "/dev/null"))
    return out


def _report(title: str, plan: Plan, result: Result | None, dry_run: bool, as_json: bool,
            verbose: bool) -> None:
    if as_json:
        data = plan.to_json()
        if dry_run:
            data["diffs"] = _diffs(plan)
        data["applied"] = None if result is None else len(result.applied)
        echo(printer.to_json(data))
        return
    echo(title)
    for line in printer.plan_lines(plan, verbose=verbose):
        echo(line)
    if dry_run:
        for text in _diffs(plan).values():
            echo(text.rstrip("\n"))
    elif result is not None:
        echo(printer.result_summary(result))


@app.command("backend-setup")
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
    style = persist_style or ("systemd" if persist else None)
    where = f" in netns {netns}" if netns else ""
    from ipvsctl.realserver import workflow

    plan, result = guarded(lambda: workflow.setup(
        vip or [], netns=netns, interface=interface, client_interfaces=client_interface,
        global_arp=global_arp, cluster_file=str(cluster_file) if cluster_file else None,
        persist=style, root=str(root) if root else None, dry_run=dry_run))
    _report(f"Real-server setup{where}:", plan, result, dry_run, as_json, verbose)


@app.command("backend-teardown")
def backend_teardown(netns: NetnsOpt = None, as_json: JsonOpt = False,
                     dry_run: DryRunOpt = False, verbose: VerboseOpt = False) -> None:
    """Undo backend-setup: restore the recorded values, remove only what it added."""
    where = f" in netns {netns}" if netns else ""
    from ipvsctl.realserver import workflow

    plan, result = guarded(lambda: workflow.teardown(netns=netns, dry_run=dry_run))
    _report(f"Real-server teardown{where}:", plan, result, dry_run, as_json, verbose)


@app.command("backend-check")
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
) -> None:
    """Verify a real server: VIPs, effective ARP sysctls, proxy_arp, rp_filter, listeners."""
    from ipvsctl.realserver import workflow

    findings = guarded(lambda: workflow.check(
        vip or [], netns=netns, cluster_file=str(cluster_file) if cluster_file else None,
        ports=port or [], client_interfaces=client_interface))
    if as_json:
        echo(printer.to_json(printer.findings_json(findings)))
    else:
        for line in printer.findings_lines(findings, passed=verbose):
            echo(line)
    exit_with(ExitCode.ERROR if any(f.level == "fail" for f in findings) else ExitCode.OK)
