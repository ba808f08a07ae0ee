"""Small persistent records (what ipvsctl manages, drains, previous host values) and the apply lock.

Records are JSON, written atomically (temp file in the same folder, fsync, rename), so a crash
leaves either the old or the new record, never half of one. Locations follow the FHS and can be
moved for tests and sandboxes: IPVSCTL_STATE_DIR (default /var/lib/ipvsctl) and IPVSCTL_RUN_DIR
(default /run/ipvsctl). Each record and lock is per network namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ipvsctl.errors import HostError, LockError


def state_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_STATE_DIR", "/var/lib/ipvsctl"))


def run_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_RUN_DIR", "/run/ipvsctl"))


def scoped_name(kind: str, netns: str | None) -> str:
    return f"{kind}.{netns}" if netns else kind


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace path with data so readers see the old or the new content, never a mix."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_record(kind: str, netns: str | None) -> dict[str, Any]:
    path = state_dir() / f"{scoped_name(kind, netns)}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HostError(f"{path}: unreadable state record ({exc}); "
                        "move it aside to start over") from exc
    if not isinstance(data, dict):
        raise HostError(f"{path}: state record is not a JSON object; move it aside to start over")
    return data


def write_record(kind: str, netns: str | None, data: dict[str, Any]) -> None:
    path = state_dir() / f"{scoped_name(kind, netns)}.json"
    try:
        atomic_write(path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode=0o600)
    except OSError as exc:
        raise HostError(f"cannot write state record {path}: {exc.strerror}") from exc


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
