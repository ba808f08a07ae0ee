"""The locks that keep two applies (or two real-server setups) from running at once.

Lock files live under IPVSCTL_RUN_DIR (default /run/ipvsctl), one per kind and network
namespace. flock locks die with the process, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ipvsctl.errors import HostError, LockError
from ipvsctl.host.records import scoped_name


def run_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_RUN_DIR", "/run/ipvsctl"))


@contextlib.contextmanager
def exclusive_lock(kind: str, netns: str | None) -> Iterator[Path]:
    """Hold a non-blocking exclusive lock; a second holder is refused at once, not queued.

    flock locks die with the process, so a crashed apply never leaves a stale lock behind.
    """
    path = run_dir() / f"{scoped_name(kind, netns)}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise HostError(f"cannot open lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockError(f"another ipvsctl {kind} is running (pid {holder}, lock {path}); "
                            "refusing to run concurrently") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
