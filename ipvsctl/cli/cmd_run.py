"""The director's daemon: run, and bgp-render (the files of the BIRD it drives)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import DryRunOpt, NetnsOpt, NodeOpt, command, echo
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
    With a bgp section it also runs BIRD and announces each VIP while its services are
    healthy; SIGTERM then withdraws them first and waits bgp.withdraw_wait.
    `ipvsctl status` asks it over a root-only socket in /run/ipvsctl. For a file with `ha`
    or `bgp`, --node picks which director this is, as it does for `apply`;
    with `ha` it writes the health file keepalived tracks."""
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


@command("bgp-render")
def bgp_render(file: Annotated[Path, typer.Argument(help="Cluster file with a bgp section.",
                                                    show_default=False)],
               node: NodeOpt = None, netns: NetnsOpt = None, dry_run: DryRunOpt = False,
               exec_bird: Annotated[bool, typer.Option(
                   "--exec", help="Then become BIRD (in --netns), in the foreground: what "
                                  "templates/ipvsctl-bird.service.j2 runs.")] = False) -> None:
    """Write this director's bird.conf (checked with `bird -p`) and, where missing, empty
    announce files into the folder `ipvsctl run` drives BIRD from, so that BIRD can run
    before and beyond `ipvsctl run` (which adopts a BIRD answering there). Prints the BIRD
    command line; --exec runs it instead; --dry-run prints bird.conf."""
    from ipvsctl.bgp.render import bird_conf
    from ipvsctl.bgp.speaker import BIRD, Bird, folder_for
    from ipvsctl.config import load
    from ipvsctl.director.workflow import as_node
    from ipvsctl.host.identity import identify
    from ipvsctl.host.locks import run_dir

    cluster = as_node(load(file), node)
    if cluster.bgp is None or cluster.bgp_node is None:
        raise ConfigError([f"{file}: no bgp section: there is no BIRD configuration to render "
                           "(see README, Many directors)"])
    bird = Bird(folder_for(run_dir(), identify(netns).scoped("bird")))
    text = bird_conf(cluster.bgp, cluster.bgp_node, bird.files)
    if dry_run:
        typer.echo(text, nl=False)
        return
    bird.prepare(text)
    f = bird.files
    argv = [BIRD, "-f", "-c", str(f.conf), "-s", str(f.socket), "-P", str(f.pid)]
    if exec_bird:
        import os

        from ipvsctl.host.netns import enter

        if netns is not None:
            enter(netns)
        os.execv(BIRD, argv)  # noqa: S606 (an absolute path and an argv list)
    echo(f"{f.conf}: BIRD configuration for director {cluster.bgp_node.name}")
    echo("run it as: " + " ".join(argv))
