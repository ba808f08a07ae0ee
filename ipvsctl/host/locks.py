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
def exclusive_lock(kind: str, netns: str | None, *, scope: str | None = None,
                   holder: str = "", hint: str = "") -> Iterator[Path]:
    """Hold a non-blocking exclusive lock; a second holder is refused at once, not queued.

    The lock is the namespace's (netns None: this thread's); `scope` names another thing to
    lock instead (an image tree for `--root`). The namespace is identified, and its name
    checked, before anything touches the disk. The lock file names its holder: its pid, what
    it is (`holder`, e.g. "ipvsctl run cluster.yaml") and what to do about it (`hint`), so a
    refusal says who holds the lock. flock locks die with the process, so a crashed holder
    never leaves a stale lock behind.
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
