"""Director HA commands: ha-render (keepalived's VRRP configuration), ha-notify (its hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import NetnsOpt, NodeOpt, command, echo, warn


def _ipvsctl_path() -> str:
    """This ipvsctl's absolute path, for the hook: the program running, else the one on PATH."""
    import shutil
    import sys

    from ipvsctl.errors import ConfigError

    argv0 = Path(sys.argv[0])
    if argv0.name == "ipvsctl" and argv0.is_file():
        return str(argv0.absolute())
    found = shutil.which("ipvsctl")
    if found is None:
        raise ConfigError(["cannot tell where ipvsctl is installed: pass --ipvsctl PATH"])
    return str(Path(found).absolute())


@command("ha-render")
def ha_render(
    file: Annotated[Path, typer.Argument(help="Cluster file with an ha section.",
                                         show_default=False)],
    node: NodeOpt = None,
    netns: NetnsOpt = None,
    ipvsctl: Annotated[str | None, typer.Option(
        "--ipvsctl", help="Absolute path of the ipvsctl the notify hook runs (default: this "
                          "one).", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file (atomically) instead of stdout.",
        show_default=False)] = None,
) -> None:
    """Print keepalived's configuration for one director of the pair: VRRP only (never a
    virtual_server: the IPVS table is ipvsctl's), the VIPs, a track_file fed by `ipvsctl run`
    and a notify hook calling ipvsctl. Run keepalived with -P (VRRP only) on it."""
    from ipvsctl.config import load
    from ipvsctl.director.workflow import this_director
    from ipvsctl.ha.keepalived import Hooks, render
    from ipvsctl.ha.notify import health_path
    from ipvsctl.host.records import atomic_write

    cluster = load(file)
    director = this_director(cluster, node)
    if director is None:
        from ipvsctl.errors import ConfigError

        raise ConfigError([f"{file}: no ha section: there is no keepalived configuration to "
                           "render (see docs/ha.md)"])
    from ipvsctl.host.hooks import hook_problems

    hooks = Hooks(ipvsctl or _ipvsctl_path(), str(health_path(netns)), netns)
    text = render(cluster, director, hooks)
    for problem in hook_problems(hooks.ipvsctl):  # on this host; the file may be for another
        warn(f"ipvsctl: warning: keepalived will not run the notify hook here: {problem}")
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(output, text)
        echo(f"{output}: keepalived configuration for director {director.name}")


@command("ha-notify")
def ha_notify(
    event: Annotated[list[str], typer.Argument(
        metavar="TYPE NAME STATE PRIORITY", help="What keepalived's notify appends.",
        show_default=False)],
    node: Annotated[str, typer.Option("--node", help="The director this keepalived runs for.",
                                      show_default=False)],
    netns: NetnsOpt = None,
) -> None:
    """keepalived's notify hook (rendered by ha-render): record this director's VRRP state
    for status and metrics. Never changes the IPVS table."""
    from ipvsctl.ha.notify import record

    record(node, netns, event)
