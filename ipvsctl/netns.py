"""Entering a named network namespace for one thread, and sysctls read and written inside it.

pyroute2 has no sysctl API, and /proc/sys/net shows the network namespace of the thread that
opens the file, so sysctl I/O for `--netns` runs on a short-lived thread that joins the
namespace first. The caller's own thread never changes namespace.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ipvsctl.errors import HostError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def netns_path(name: str) -> Path:
    if not name or "/" in name or name in (".", ".."):
        raise HostError(f"network namespace name {name!r} is not valid")
    path = NETNS_DIR / name
    if not path.exists():
        raise HostError(f"network namespace {name!r} does not exist (no {path}); "
                        f"create it with `ip netns add {name}`")
    return path


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


def sysctl_path(name: str) -> Path:
    """net.ipv4.conf.eth0.arp_ignore -> /proc/sys/net/ipv4/conf/eth0/arp_ignore.

    Interface names may contain dots (eth0.100); callers that build names from interfaces
    should use sysctl_path_parts instead.
    """
    return Path("/proc/sys", *name.split("."))


def sysctl_path_parts(*parts: str) -> Path:
    for p in parts:
        if not p or "/" in p or p in (".", ".."):
            raise HostError(f"sysctl path component {p!r} is not valid")
    return Path("/proc/sys", *parts)


def read_sysctls(paths: list[Path], netns: str | None = None) -> dict[Path, str | None]:
    """Read several sysctls in one namespace switch; None where the file does not exist."""

    def read() -> dict[Path, str | None]:
        out: dict[Path, str | None] = {}
        for p in paths:
            try:
                out[p] = p.read_text().strip()
            except FileNotFoundError:
                out[p] = None
        return out

    return run_in_netns(netns, read)


def write_sysctl(path: Path, value: str, netns: str | None = None) -> None:
    def write() -> None:
        try:
            with open(path, "w") as fh:
                fh.write(value)
        except OSError as exc:
            raise HostError(f"cannot set {path}: {exc.strerror}") from exc

    run_in_netns(netns, write)
