"""Command-line interface: each `cmd_*.py` module here registers its commands on `app`."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import sys

from ipvsctl.cli.app import app

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_")):
    importlib.import_module(f"{__name__}.{_mod}")


def main() -> None:
    """The `ipvsctl` program. Once the command has finished (its files closed, its lock and
    namespaces released), the process ends without the interpreter's teardown: freeing a
    100,000-entry table object by object costs seconds under emulation and changes nothing."""
    try:
        app()
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


__all__ = ["app", "main"]
