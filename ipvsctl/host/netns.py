"""Entering a named network namespace for one thread; the caller's own thread never changes.

Whatever depends on the namespace of the calling thread (/proc/sys/net, a new netlink socket)
runs through run_in_netns on a short-lived thread that joins the namespace first. A long-lived
process that lives in one namespace (`ipvsctl run --netns`) enters it once, at start, before it
starts any thread (`enter`): every thread it starts later, and every socket, is then there.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ipvsctl.errors import HostError
from ipvsctl.host.identity import check_name

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def netns_path(name: str) -> Path:
    path = NETNS_DIR / check_name(name)
    if not path.exists():
        raise HostError(f"network namespace {name!r} does not exist (no {path}); "
                        f"create it with `ip netns add {name}`")
    return path


def enter(netns: str) -> None:
    """Move the calling thread into netns for good (call it before any other thread starts:
    threads started later inherit it, those already running do not)."""
    path = netns_path(netns)
    if threading.active_count() > 1:
        raise HostError("cannot enter a network namespace with other threads running")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise HostError(f"cannot enter network namespace {netns!r}: {exc.strerror}") from exc


def run_in_netns(netns: str | None, fn: Callable[[], T]) -> T:
    """Run fn() inside netns (None = the current namespace) and return its result."""
    if netns is None:
        return fn()
    path = netns_path(netns)
    box: dict[str, object] = {}

    def worker() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=worker, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
