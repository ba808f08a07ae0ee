"""Director commands: validate, plan, apply, show, export, schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ipvsctl.cli.app import (
    DryRunOpt,
    JsonOpt,
    NetnsOpt,
    NodeOpt,
    command,
    echo,
    echo_lines,
    echo_progress,
)
from ipvsctl.errors import ExitCode
from ipvsctl.plan import printer

if TYPE_CHECKING:  # the loader and the model load when a command runs, not for --help
    from ipvsctl.config.loader import Cache
    from ipvsctl.model import Cluster, ServiceKey
    from ipvsctl.plan.changes import Plan
    from ipvsctl.plan.executor import Outcome

FileArg = Annotated[Path, typer.Argument(help="Cluster file (YAML) with the desired services.",
                                         show_default=False)]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Also remove services ipvsctl did not create and the file's scope does not "
                    "claim (e.g. made by hand with ipvsadm).")]
ServiceOpt = Annotated[list[str] | None, typer.Option(
    "--service", "-s", metavar="SERVICE",
    help="Compare and change only this service: its name in the file, or tcp/VIP:PORT, "
         "fwmark/MARK as plan prints it. Repeatable. Other services and director settings are "
         "neither read nor changed (a fast path for one edit in a large table).",
    show_default=False)]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Also list what needs no change, and why.")]


def _load(path: Path, cache: Cache = "off") -> Cluster:
    from ipvsctl.config import load

    return load(path, cache)


def _load_as_node(path: Path, node: str | None, cache: Cache = "off") -> Cluster:
    """cache: plan and apply read the same file again and again (config/result_cache.py);
    plan only reads what apply kept, as a read-only command writes nothing."""
    from ipvsctl.director.workflow import as_node

    return as_node(_load(path, cache), node)


def _only(cluster: Cluster, refs: list[str] | None) -> frozenset[ServiceKey] | None:
    """The --service selection (None: the whole file), checked before the kernel is read."""
    if not refs:
        return None
    from ipvsctl.config import select_services

    return select_services(cluster, refs)


@command()
def validate(file: FileArg, node: NodeOpt = None, json_out: JsonOpt = False) -> None:
    """Check a cluster file without touching the kernel; every problem at once, at file:line:col.
    With --node, also check that the file's ha section has that director."""
    cluster = _load(file) if node is None else _load_as_node(file, node)
    if json_out:
        echo(printer.to_json(printer.validated_json(cluster)))
    else:
        echo(printer.validated_line(str(file), cluster))


@command()
def plan(file: FileArg, netns: NetnsOpt = None, node: NodeOpt = None, prune: PruneOpt = False,
         service: ServiceOpt = None, json_out: JsonOpt = False,
         verbose: VerboseOpt = False) -> ExitCode:
    """Show what `apply` would change in the live kernel table. Exit 0: nothing to do;
    2: changes pending; 1: error."""
    from ipvsctl.director.workflow import plan_cluster

    cluster = _load_as_node(file, node, cache="read")
    the_plan, _ = plan_cluster(cluster, netns=netns, prune=prune, only=_only(cluster, service))
    if json_out:
        echo(printer.to_json(the_plan.to_json()))
    else:
        echo_lines(printer.plan_lines(the_plan, verbose=verbose))
    return ExitCode.CHANGES if the_plan else ExitCode.OK


@command()
def apply(file: FileArg, netns: NetnsOpt = None, node: NodeOpt = None, prune: PruneOpt = False,
          service: ServiceOpt = None, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
          verbose: VerboseOpt = False,
          wait: Annotated[bool, typer.Option(
              "--wait", help="Block until every draining real server has no connections left "
                             "and is deleted, showing progress.")] = False,
          wait_timeout: Annotated[float | None, typer.Option(
              "--wait-timeout", help="Give up waiting after this many seconds (exit 1).",
              show_default=False)] = None) -> None:
    """Make the kernel's IPVS table match the file, changing only what differs, in place.

    Unchanged services and real servers are never touched, so their connections carry on.
    Removed real servers are drained (weight 0) and deleted once their connections end."""
    from ipvsctl.director.workflow import apply_and_wait, apply_cluster

    def progress(outcome: Outcome) -> None:
        if not json_out:
            echo_progress(printer.progress_line(outcome))

    def waiting(current: Plan) -> None:
        if not json_out:
            echo_lines(printer.waiting_lines(current))

    cluster = _load_as_node(file, node, cache="read" if dry_run else "keep")
    only = _only(cluster, service)
    if wait and not dry_run:
        the_plan, result = apply_and_wait(cluster, netns=netns, prune=prune, progress=progress,
                                          waiting=waiting, timeout=wait_timeout, only=only)
    else:
        the_plan, result = apply_cluster(cluster, netns=netns, prune=prune, dry_run=dry_run,
                                         progress=progress, only=only)
    if json_out:
        echo(printer.to_json(printer.apply_json(the_plan, result, dry_run=dry_run)))
    elif dry_run:
        echo_lines(printer.plan_lines(the_plan, verbose=verbose))
    else:
        echo_lines(printer.apply_lines(the_plan, result, verbose=verbose))


@command()
def show(netns: NetnsOpt = None, json_out: JsonOpt = False) -> None:
    """The live IPVS table with connection, packet and byte counters."""
    from ipvsctl.director.show import show_json, show_lines
    from ipvsctl.ipvs import IpvsAdapter

    with IpvsAdapter(netns, load_modules=False) as adapter:
        observed = adapter.observe(with_stats=True)
    if json_out:
        echo(printer.to_json(show_json(observed)))
    else:
        echo_lines(show_lines(observed))


@command()
def export(netns: NetnsOpt = None,
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="Write to this file (atomically) instead of stdout.")] = None,
           ) -> None:
    """Print the live kernel table as a cluster file; `plan` on it shows no changes."""
    from ipvsctl.config import dump
    from ipvsctl.host.records import atomic_write
    from ipvsctl.ipvs import IpvsAdapter
    from ipvsctl.model import Cluster

    with IpvsAdapter(netns, load_modules=False) as adapter:
        observed = adapter.observe()
    text = dump(Cluster(services=observed.services))
    if output:
        atomic_write(output, text)
    else:
        typer.echo(text, nl=False)


@command()
def schema() -> None:
    """Print the JSON Schema of the cluster file (for editors and CI linters)."""
    from ipvsctl.config import schema as cluster_schema

    echo(printer.to_json(cluster_schema()))
