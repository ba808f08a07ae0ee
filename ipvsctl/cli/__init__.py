"""Command-line interface: each `cmd_*.py` module here registers its commands on `app`.

A run imports only the module of the command it runs (COMMANDS): `plan` and `apply` do not
load the real-server, doctor, import and lab code, nor typer's conversion of their options.
Help, completion and anything unknown import them all. `--version` needs no command at all and
is answered before typer loads.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipvsctl.cli.app import app

# Every command and the module that registers it (tests/cli check this against the modules).
COMMANDS = {
    "validate": "cmd_director", "plan": "cmd_director", "apply": "cmd_director",
    "show": "cmd_director", "export": "cmd_director", "schema": "cmd_director",
    "doctor": "cmd_doctor", "import": "cmd_import", "lab": "cmd_lab",
    "backend-setup": "cmd_backend", "backend-teardown": "cmd_backend",
    "backend-check": "cmd_backend", "ha-render": "cmd_ha", "ha-notify": "cmd_ha",
    "metrics": "cmd_metrics", "status": "cmd_metrics",
    "run": "cmd_run", "bgp-render": "cmd_run",
}
MODULES = sorted(set(COMMANDS.values()))
# Commands that read a table once and end: a 100,000-entry table is a million objects, none in
# a cycle, which the cyclic collector would only scan again and again (a full scan each time
# the pauses around the load and the read end). `apply --wait` may run for hours: not it.
ONE_SHOT = frozenset(("validate", "plan", "apply", "show", "export"))


def load_commands(argv: list[str] | None = None) -> Any:
    """The typer app with the commands `argv` may run registered (all of them without argv)."""
    from ipvsctl.cli.app import app

    command = _command(argv) if argv is not None else None
    for module in [COMMANDS[command]] if command else MODULES:
        importlib.import_module(f"{__name__}.{module}")
    globals()["app"] = app  # not the submodule ipvsctl.cli.app, which importing it bound here
    return app


def _command(argv: list[str]) -> str | None:
    """The command argv runs, if it names one before any option (else: None, load all)."""
    if argv and argv[0] in COMMANDS and "--help" not in argv and "-h" not in argv:
        return argv[0]
    return None


def main() -> None:
    """The `ipvsctl` program. Once the command has finished (its files closed, its lock and
    namespaces released), the process ends without the interpreter's teardown: freeing a
    100,000-entry table object by object costs seconds under emulation and changes nothing."""
    argv = sys.argv[1:]
    try:
        if argv == ["--version"]:
            from ipvsctl import __version__

            print(f"ipvsctl {__version__}")
            code = 0
        else:
            if argv and argv[0] in ONE_SHOT and "--wait" not in argv:
                gc.disable()
            load_commands(argv)(argv, prog_name="ipvsctl")
            code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("text") semantics
    return 1


def __getattr__(name: str) -> Any:
    if name == "app":  # the app with every command, for tests and tools
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMMANDS", "app", "load_commands", "main"]
