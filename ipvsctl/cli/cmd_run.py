"""The director's daemon: run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import NetnsOpt, command
from ipvsctl.errors import ConfigError

LogFormatOpt = Annotated[str, typer.Option(
    "--log-format", help="One line per event on stderr: text (for journald) or json.")]


@command()
def run(file: Annotated[Path, typer.Argument(help="Cluster file to keep applied; watched and "
                                                  "reloaded on change and on SIGHUP.",
                                             show_default=False)],
        netns: NetnsOpt = None, log_format: LogFormatOpt = "text") -> None:
    """Own the director: apply the file, check the real servers and keep the table right.

    A foreground process for systemd (Type=notify). Failed real servers go to weight 0 and
    come back after their checks pass; edits and SIGHUP reload; out-of-band changes are
    repaired every director.reconcile_interval; SIGTERM stops and leaves the table as it is."""
    from ipvsctl.daemon.log import FORMATS
    from ipvsctl.daemon.loop import run_director

    if log_format not in FORMATS:
        raise ConfigError([f"--log-format: must be one of {', '.join(FORMATS)}, "
                           f"not {log_format!r}"])
    run_director(file, netns, log_format)
