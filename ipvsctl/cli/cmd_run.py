"""The director's daemon: run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import NetnsOpt, NodeOpt, command
from ipvsctl.errors import ConfigError

LogFormatOpt = Annotated[str, typer.Option(
    "--log-format", help="One line per event on stderr: text (for journald) or json.")]
MetricsOpt = Annotated[str | None, typer.Option(
    "--metrics", metavar="ADDR:PORT",
    help="Serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. 127.0.0.1:9595, "
         "[::1]:9595). Bound before anything else: a bad or taken address exits at once.",
    show_default=False)]
MetricsDetailOpt = Annotated[str, typer.Option(
    "--metrics-real-servers", metavar="all|state|none",
    help="Per-real-server series in /metrics: all, state (health, connections and weights "
         "only) or none (per service only; for very large tables).")]


@command()
def run(file: Annotated[Path, typer.Argument(help="Cluster file to keep applied; watched and "
                                                  "reloaded on change and on SIGHUP.",
                                             show_default=False)],
        netns: NetnsOpt = None, node: NodeOpt = None, log_format: LogFormatOpt = "text",
        metrics: MetricsOpt = None, metrics_real_servers: MetricsDetailOpt = "all") -> None:
    """Own the director: apply the file, check the real servers and keep the table right.

    A foreground process for systemd (Type=notify). Failed real servers go to weight 0 and
    come back after their checks pass; edits and SIGHUP reload; out-of-band changes are
    repaired every director.reconcile_interval; SIGTERM stops and leaves the table as it is.
    `ipvsctl status` asks it over a root-only socket in /run/ipvsctl. With an `ha` section it
    acts as one director (--node) and writes the health file keepalived tracks."""
    from ipvsctl.daemon.log import FORMATS
    from ipvsctl.daemon.loop import run_director
    from ipvsctl.metrics.table import DETAIL

    if log_format not in FORMATS:
        raise ConfigError([f"--log-format: must be one of {', '.join(FORMATS)}, "
                           f"not {log_format!r}"])
    if metrics_real_servers not in DETAIL:
        raise ConfigError([f"--metrics-real-servers: must be one of {', '.join(DETAIL)}, "
                           f"not {metrics_real_servers!r}"])
    run_director(file, netns, log_format, metrics, metrics_real_servers, node)
