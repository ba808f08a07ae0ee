"""The typer app, and the one place that turns ipvsctl errors into messages and exit codes."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, ParamSpec, TypeVar

import typer

from ipvsctl.errors import ExitCode, IpvsctlError

app = typer.Typer(
    name="ipvsctl",
    help=(
        "Declarative Linux IPVS direct-routing (DR / direct server return) load balancing.\n\n"
        "On a director: validate, plan and apply a cluster file against the LIVE kernel table, "
        "touching only what differs. On a real server: put the VIPs on a non-ARP interface "
        "and set the ARP sysctls, reversibly."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

P = ParamSpec("P")
T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        from ipvsctl import __version__

        typer.echo(f"ipvsctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print ipvsctl's version and exit.")] = False) -> None:
    # A callback keeps `app` a group of commands even when a run registers only one of them
    # (see ipvsctl/cli/__init__.py); `ipvsctl --version` alone is answered before typer loads.
    pass

NetnsOpt = Annotated[
    str | None,
    typer.Option("--netns", help="Work inside this named network namespace (ip netns).",
                 show_default=False),
]
NodeOpt = Annotated[
    str | None,
    typer.Option("--node", help="Act as this director of the file's ha.directors (its name or "
                                "hostname). Default: this host's name.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]


def command(name: str | None = None
            ) -> Callable[[Callable[P, IntEnum | None]], Callable[P, None]]:
    """Register a command. Its body calls the core and prints; it may raise the project's
    errors and may return an ExitCode, or a StatusCode for `status` (None: OK). This
    decorator is the one place that turns both into a message on stderr and the process's
    exit status."""

    def register(body: Callable[P, IntEnum | None]) -> Callable[P, None]:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            code = guarded(lambda: body(*args, **kwargs))
            if code is not None and code != ExitCode.OK:
                raise typer.Exit(int(code))

        app.command(name)(run)
        return run

    return register


def debug_enabled() -> bool:
    return os.environ.get("IPVSCTL_DEBUG", "") not in ("", "0")


def guarded(fn: Callable[[], T]) -> T:
    """Run a command body: project errors become a message on stderr and their exit code."""
    try:
        return fn()
    except IpvsctlError as exc:
        for line in exc.lines():
            warn(f"ipvsctl: {line}" if not line.startswith("  ") else line)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        warn("ipvsctl: interrupted")
        raise typer.Exit(130) from None
    except PermissionError as exc:
        warn(f"ipvsctl: permission denied: {exc}; run as root (CAP_NET_ADMIN)")
        raise typer.Exit(int(ExitCode.ERROR)) from None
    except (OSError, RuntimeError) as exc:
        if debug_enabled():
            raise
        warn(f"ipvsctl: unexpected error: {exc} (set IPVSCTL_DEBUG=1 for a traceback)")
        raise typer.Exit(int(ExitCode.ERROR)) from None


# Standard output is written here, not through click's echo: that one looks up the click
# context, asks whether the stream is a terminal, strips colour codes and flushes, line by line.
# An apply from empty prints a progress line per change, 110,000 at 10,000 services: under
# emulation click's echo was a fifth of the whole apply.
PROGRESS_FLUSH = 0.25  # seconds: how stale a pipe's view of the progress lines may get


def echo(text: str = "") -> None:
    """One line on standard output, flushed (so it is ordered with standard error's)."""
    out = sys.stdout
    out.write(text + "\n")
    out.flush()


def echo_lines(lines: list[str]) -> None:
    """Lines on standard output in one write."""
    if lines:
        out = sys.stdout
        out.write("\n".join(lines) + "\n")
        out.flush()


_flushed = 0.0


def echo_progress(text: str) -> None:
    """A progress line (one per change applied): a terminal shows each at once (line
    buffering); a pipe or file gets them at least every PROGRESS_FLUSH seconds, and all of
    them before anything on standard error and at exit."""
    global _flushed
    out = sys.stdout
    out.write(text + "\n")
    now = time.monotonic()
    if now - _flushed >= PROGRESS_FLUSH:
        _flushed = now
        out.flush()


def warn(text: str) -> None:
    """A line on standard error, after everything written to standard output so far."""
    sys.stdout.flush()
    typer.echo(text, err=True)
