"""Which network namespace a command acts on: the namespace itself, not the name it came by.

`--netns NS`, `ip netns exec NS ipvsctl ...`, a second name bound to the same namespace, a
container: each reaches one namespace, and each must find its record and its lock. So records
and locks are keyed by the namespace's inode on nsfs (unique among the namespaces that exist),
and a record also carries the namespace's cookie and the boot it was written in: an inode is
reused once its namespace is gone, a cookie never is (within a boot), so a record left by a
deleted namespace is recognised as stale, not applied to its successor.

The host's own namespace (the one PID 1 runs in) keeps the plain names, and its records no
cookie: it is the only namespace that outlives a reboot. Where neither PID 1 nor kthreadd can
be inspected, a namespace without a name under /run/netns counts as the host's.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from ipvsctl.errors import HostError

NETNS_DIR = Path("/run/netns")
NAME_MAX = 255
SO_NETNS_COOKIE = 71  # Linux 5.14+
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def check_name(name: str) -> str:
    """The rules of `ip netns` (not empty, not . or .., no /, shorter than NAME_MAX), and
    printable, since the name goes into messages; checked before anything touches the disk."""
    if (not name or name in (".", "..") or "/" in name or not name.isprintable()
            or len(name.encode()) >= NAME_MAX):
        shown = repr(name) if len(name) <= 64 else repr(name[:64]) + "..."
        raise HostError(f"network namespace name {shown} is not valid (ip netns names: not "
                        "empty, not . or .., no /, printable, under 255 bytes)")
    return name


@dataclass(frozen=True, slots=True)
class Netns:
    """One network namespace, as records and locks know it."""

    inode: int
    host: bool  # the namespace PID 1 runs in
    names: tuple[str, ...] = ()  # its names under /run/netns (records of older releases)

    @property
    def key(self) -> str:
        """The suffix of its record and lock names: '' for the host."""
        return "" if self.host else f"netns-{self.inode}"

    def scoped(self, kind: str) -> str:
        return f"{kind}.{self.key}" if self.key else kind


def _nsfs() -> os.stat_result:
    return os.stat("/proc/thread-self/ns/net")


def _names_of(inode: int, dev: int) -> tuple[str, ...]:
    out = []
    try:
        entries = sorted(os.listdir(NETNS_DIR))
    except OSError:
        return ()
    for name in entries:
        try:
            st = os.stat(NETNS_DIR / name)
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (inode, dev):
            out.append(name)
    return tuple(out)


def identify(netns: str | None) -> Netns:
    """The namespace `--netns NAME` names (None: the one this thread runs in)."""
    own = _nsfs()
    if netns is None:
        st = own
    else:
        path = NETNS_DIR / check_name(netns)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise HostError(f"network namespace {netns!r} does not exist (no {path}); create "
                            f"it with `ip netns add {netns}`") from None
        except OSError as exc:
            raise HostError(f"{path}: {exc.strerror}") from exc
        if st.st_dev != own.st_dev or not stat.S_ISREG(st.st_mode):
            raise HostError(f"{path} is not a network namespace (nothing is mounted there); "
                            f"recreate it with `ip netns delete {netns}; ip netns add {netns}`")
    names: tuple[str, ...] = (netns,) if netns is not None else ()
    names += tuple(n for n in _names_of(st.st_ino, st.st_dev) if n not in names)
    init = _host_netns()
    host = (st.st_ino, st.st_dev) == init if init is not None else not names
    return Netns(st.st_ino, host, names)


def _host_netns() -> tuple[int, int] | None:
    """The host's namespace: PID 1's, or kthreadd's where PID 1 may not be inspected (some
    init systems forbid it even to root); None if neither can be seen."""
    for pid, comm in (("1", None), ("2", "kthreadd")):
        try:
            if comm is not None and Path(f"/proc/{pid}/comm").read_text().strip() != comm:
                continue
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        return st.st_ino, st.st_dev
    return None


def cookie_and_boot(netns: str | None) -> dict[str, object]:
    """What tells this namespace from a later one with the same inode: its cookie (from a
    socket made inside it) and the boot. Empty where the kernel has no cookies (before 5.14)."""
    from ipvsctl.host.netns import run_in_netns

    def cookie() -> int | None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                raw = sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
            except OSError:
                return None
        return int.from_bytes(raw, "little")

    value = run_in_netns(netns, cookie)
    if value is None:
        return {}
    try:
        boot = BOOT_ID.read_text().strip()
    except OSError:
        return {}
    return {"cookie": value, "boot": boot}
