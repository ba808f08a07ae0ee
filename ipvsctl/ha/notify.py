"""What keepalived's notify hook tells ipvsctl: this director's VRRP state, kept as a record.

keepalived runs `ipvsctl ha-notify --node N [--netns NS] INSTANCE ipvsctl STATE PRIORITY` on
every transition (and BACKUP at start). The record (/run/ipvsctl/vrrp[.NS], JSON, replaced
atomically) is what `status` and `/metrics` can show; it is a report, never a reason to change
the IPVS table, which is the same on both directors whatever the role. Hooks run concurrently
and may arrive out of order, so the record keeps keepalived's word and when it came, no more.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ipvsctl.errors import ConfigError
from ipvsctl.host.locks import run_dir
from ipvsctl.host.records import atomic_write, scoped_name

STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
KINDS = ("INSTANCE", "GROUP")


def role_path(netns: str | None) -> Path:
    return run_dir() / scoped_name("vrrp", netns)


def health_path(netns: str | None) -> Path:
    """The file `ipvsctl run` writes ("1" healthy) and keepalived's track_file reads."""
    return run_dir() / scoped_name("health", netns)


def parse(argv: list[str]) -> dict[str, Any]:
    """keepalived's four words, checked: TYPE NAME STATE PRIORITY."""
    if len(argv) != 4:
        raise ConfigError([f"ha-notify: expected TYPE NAME STATE PRIORITY from keepalived, got "
                           f"{len(argv)} argument(s)"])
    kind, name, state, priority = argv
    if kind not in KINDS or state not in STATES or not priority.isdigit() \
            or not 0 <= int(priority) <= 255 or not 0 < len(name) <= 64:
        raise ConfigError([f"ha-notify: not a keepalived notification: {' '.join(argv)[:120]!r}"])
    return {"type": kind, "instance": name, "state": state, "priority": int(priority)}


def record(node: str, netns: str | None, argv: list[str], now: float | None = None) -> Path:
    data = {"node": node, **parse(argv), "at": time.time() if now is None else now}
    path = role_path(netns)
    atomic_write(path, json.dumps(data, sort_keys=True) + "\n")
    return path
