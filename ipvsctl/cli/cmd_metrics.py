"""Observability commands: metrics (the table once, for node_exporter's textfile collector)
and status (asks the running daemon)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import JsonOpt, NetnsOpt, command, echo, echo_lines
from ipvsctl.errors import ConfigError, StatusCode
from ipvsctl.plan import printer

RealServersOpt = Annotated[str, typer.Option(
    "--real-servers", metavar="all|state|none",
    help="Per-real-server series: all (counters, rates, connections, weights), state "
         "(connections and weights only) or none (per service only). At 110,000 real servers "
         "each per-real-server family adds about 17 MB to a scrape.")]


@command()
def metrics(file: Annotated[Path | None, typer.Argument(
                help="Cluster file: adds the service names and the file's weights.",
                show_default=False)] = None,
            netns: NetnsOpt = None,
            output: Annotated[Path | None, typer.Option(
                "--output", "-o", help="Write to this file atomically (e.g. "
                "/var/lib/prometheus/node-exporter/ipvsctl.prom) instead of stdout.",
                show_default=False)] = None,
            real_servers: RealServersOpt = "all") -> None:
    """The live table's metrics once, in the Prometheus text format (for node_exporter's
    textfile collector on directors that run no daemon)."""
    from ipvsctl.metrics.scrape import scrape_once
    from ipvsctl.metrics.table import DETAIL

    if real_servers not in DETAIL:
        raise ConfigError([f"--real-servers: must be one of {', '.join(DETAIL)}, "
                           f"not {real_servers!r}"])
    cluster = None
    if file is not None:
        from ipvsctl.config import load

        cluster = load(file)
    text = scrape_once(netns, cluster, real_servers)
    if output is not None:
        from ipvsctl.host.records import atomic_write

        atomic_write(output, text)
    else:
        typer.echo(text.decode(), nl=False)


@command()
def status(netns: NetnsOpt = None, json_out: JsonOpt = False,
           service: Annotated[str | None, typer.Option(
               "--service", "-s", metavar="SERVICE",
               help="Only this service: its name in the file, or tcp/VIP:PORT, fwmark/MARK.",
               show_default=False)] = None) -> StatusCode:
    """Ask the running `ipvsctl run` how the director is: per service its health, per real
    server its state, result and weights. Exit 0 healthy, 1 degraded, 2 critical (a service
    with no real server pooled), 3 unknown (no daemon answering)."""
    from ipvsctl.metrics.status import status_lines, verdict
    from ipvsctl.metrics.status_socket import ask

    doc = ask(netns, {"service": service} if service else {})
    if json_out:
        echo(printer.to_json(doc))
    else:
        echo_lines(status_lines(doc))
    return verdict(doc)
