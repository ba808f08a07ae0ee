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
def exclusive_lock(kind: str, netns: str | None, *, holder: str = "",
                   hint: str = "") -> Iterator[Path]:
    """Hold a non-blocking exclusive lock; a second holder is refused at once, not queued.

    The lock file names its holder: its pid, what it is (`holder`, e.g. "ipvsctl run
    cluster.yaml") and what to do about it (`hint`), so a refusal says who holds the lock.
    flock locks die with the process, so a crashed holder never leaves a stale lock behind.
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
            raise LockError(_refusal(kind, path, os.pread(fd, 4096, 0))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{_one_line(holder)}\n{_one_line(hint)}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1000]


def _refusal(kind: str, path: Path, content: bytes) -> str:
    lines = content.decode(errors="replace").splitlines()
    pid = lines[0].strip() if lines and lines[0].strip().isdigit() else "unknown"
    holder = lines[1].strip() if len(lines) > 1 and lines[1].strip() else f"another ipvsctl {kind}"
    hint = lines[2].strip() if len(lines) > 2 and lines[2].strip() \
        else "refusing to run concurrently"
    return f"{holder} is running (pid {pid}, lock {path}); {hint}"
