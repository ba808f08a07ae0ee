"""Reading the cluster file: loading and validating it, its vocabulary, references, dump, schema."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipvsctl.config.dumper import dump
    from ipvsctl.config.json_schema import schema
    from ipvsctl.config.loader import load, loads
    from ipvsctl.config.refs import (
        parse_address,
        parse_real_server_ref,
        parse_service_ref,
        select_services,
    )

__all__ = [
    "dump", "load", "loads", "parse_address", "parse_real_server_ref", "parse_service_ref",
    "schema", "select_services",
]

# The module each public name lives in, imported on first use: what only needs the vocabulary
# (the IPVS adapter, the importers) then starts without PyYAML and the loader.
_HOME = {"dump": "dumper", "schema": "json_schema", "load": "loader", "loads": "loader",
         "parse_address": "refs", "parse_real_server_ref": "refs", "parse_service_ref": "refs",
         "select_services": "refs"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
