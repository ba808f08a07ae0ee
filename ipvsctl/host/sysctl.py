"""Sysctls read and written inside a network namespace.

pyroute2 has no sysctl API, and /proc/sys/net shows the network namespace of the thread that
opens the file, so sysctl I/O for `--netns` runs through run_in_netns (a short-lived thread that
joins the namespace first).
"""

from __future__ import annotations

from pathlib import Path

from ipvsctl.errors import HostError
from ipvsctl.host.netns import run_in_netns


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
