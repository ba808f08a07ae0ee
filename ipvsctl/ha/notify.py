"""What keepalived's notify hook tells ipvsctl: this director's VRRP state, kept as a record.

keepalived runs `ipvsctl ha-notify --node N [--netns NS] INSTANCE ipvsctl STATE PRIORITY` on
every transition (and BACKUP at start). The record (/run/ipvsctl/vrrp[.NS], JSON, replaced
atomically) is what `status` and `/metrics` can show; it is a report, never a reason to change
the IPVS table, which is the same on both directors whatever the role.

Hooks run concurrently, and a later one may finish first: BACKUP then MASTER a second apart,
on a loaded host the BACKUP hook's write came last and the record said BACKUP on the master.
keepalived forks its hooks in the order of its transitions, so each hook's place is when it was
forked (its start time since boot, from /proc/self/stat; the pid breaks a tie within a clock
tick), and under a lock a hook replaces the record only if the record's hook was forked before
it. A record without that place (an older ipvsctl's) is replaced.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from ipvsctl.errors import ConfigError, HostError
from ipvsctl.host.locks import run_dir
from ipvsctl.host.records import atomic_write, scoped_name
from ipvsctl.host.trust import open_trusted, read_trusted, trusted_folder

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


def forked() -> tuple[int, int]:
    """This process's place among keepalived's hooks: when it was forked (clock ticks since
    boot, /proc/self/stat's starttime) and its pid."""
    fields = Path("/proc/self/stat").read_bytes().rsplit(b")", 1)[1].split()
    return int(fields[19]), os.getpid()


def _place(raw: bytes | None) -> tuple[int, int] | None:
    """The place of the hook that wrote a record, if the record has one."""
    try:
        place = json.loads(raw)["forked"] if raw else None
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(place, list) and len(place) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in place):
        return place[0], place[1]
    return None


def record(node: str, netns: str | None, argv: list[str], now: float | None = None,
           place: tuple[int, int] | None = None) -> Path:
    """Write keepalived's word unless a hook forked after this one has written already."""
    data = {"node": node, **parse(argv), "at": time.time() if now is None else now}
    mine = place if place is not None else forked()
    data["forked"] = list(mine)
    path = role_path(netns)
    folder = trusted_folder(path.parent, create=True, mode=0o755)
    assert folder is not None
    fd = open_trusted(folder / f"{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the hooks of one transition wait for each other
        try:
            theirs = _place(read_trusted(path, 4096))
        except (OSError, HostError):  # not a record a hook wrote: replaced (never followed)
            theirs = None
        if theirs is None or theirs < mine:
            atomic_write(path, json.dumps(data, sort_keys=True) + "\n")
    finally:
        os.close(fd)
    return path
