"""Plain helpers shared by the test suites (import as ``from tests.helpers import ...``).

Commands are always argv lists, never shell strings. A failing command raises
:class:`CommandFailed`, whose message carries the command, its status and its output, so a test
failure says what went wrong without re-running anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROC_IP_VS = Path("/proc/net/ip_vs")


def cache_cli_commands() -> None:
    """Make typer's test runner build the click command of an app once, not per invoke.

    typer turns every registered command's annotations into click parameters on each
    `CliRunner().invoke(app, ...)`: ~0.1 s natively with every command registered, about two
    seconds under the VM's emulation, per call (the bad-input corpus alone makes 87). The
    command is rebuilt when commands are added to the app (the CLI registers them lazily).
    `ipvsctl` itself builds it once per process anyway."""
    import typer.testing

    build = typer.testing._get_command
    built: dict[int, tuple[tuple[int, int], Any]] = {}

    def cached(app: Any) -> Any:
        shape = (len(app.registered_commands), len(app.registered_groups))
        hit = built.get(id(app))
        if hit is None or hit[0] != shape:
            hit = built[id(app)] = (shape, build(app))
        return hit[1]

    typer.testing._get_command = cached


class CommandFailed(AssertionError):
    """A command that a test relied on exited non-zero."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and capture its output as text.

    With ``check`` (the default) a non-zero exit raises :class:`CommandFailed`.
    """
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"command {list(argv)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}--- stderr ---\n{proc.stderr}"
        )
    return proc


def run_in_netns(
    netns: str,
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the named network namespace (``ip netns exec NETNS ...``)."""
    return run(["ip", "netns", "exec", netns, *argv], check=check, input=input, timeout=timeout)


def normalise_lines(text: str) -> list[str]:
    """Sorted non-empty lines with trailing whitespace removed: order-free comparison."""
    return sorted(stripped for line in text.splitlines() if (stripped := line.rstrip()))


def ipvsadm_save(netns: str) -> list[str]:
    """The namespace's IPVS table as ``ipvsadm -Sn`` prints it, normalised.

    ipvsadm is independent of pyroute2 and of ipvsctl, so it serves as the oracle for what the
    kernel really holds. Lines look like ``-A -t 192.0.2.10:80 -s wrr`` and
    ``-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1``.
    """
    return normalise_lines(run_in_netns(netns, ["ipvsadm", "-Sn"]).stdout)


def ipvs_available() -> bool:
    """Whether the running kernel has IPVS loaded (``/proc/net/ip_vs`` exists)."""
    return PROC_IP_VS.exists()
