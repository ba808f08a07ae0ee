"""The locks that keep two applies (or two real-server setups) from running at once.

Lock files live under IPVSCTL_RUN_DIR (default /run/ipvsctl), one per kind and network
namespace (the namespace itself, however it was reached: host/identity.py), in a folder only
root may write, opened without following links (host/trust.py). flock locks die with the
process, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ipvsctl.errors import HostError, LockError
from ipvsctl.host.identity import identify
from ipvsctl.host.trust import open_trusted, trusted_folder


def run_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_RUN_DIR", "/run/ipvsctl"))


@contextlib.contextmanager
def exclusive_lock(kind: str, netns: str | None, *, scope: str | None = None
                   ) -> Iterator[Path]:
    """Hold a non-blocking exclusive lock; a second holder is refused at once, not queued.

    The lock is the namespace's (netns None: this thread's); `scope` names another thing to
    lock instead (an image tree for `--root`). The namespace is identified, and its name
    checked, before anything touches the disk.
    """
    name = f"{kind}.{scope}" if scope else identify(netns).scoped(kind)
    folder = trusted_folder(run_dir(), create=True, mode=0o755)
    assert folder is not None
    path = folder / f"{name}.lock"
    try:
        fd = open_trusted(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise HostError(f"cannot open lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockError(f"another ipvsctl {kind} is running (pid {holder[:20]}, lock "
                            f"{path}); refusing to run concurrently") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
