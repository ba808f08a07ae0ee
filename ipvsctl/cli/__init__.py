"""Command-line interface: each `cmd_*.py` module here registers its commands on `app`."""

from __future__ import annotations

import importlib
import pkgutil

from ipvsctl.cli.app import app

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_")):
    importlib.import_module(f"{__name__}.{_mod}")


def main() -> None:
    app()


__all__ = ["app", "main"]
