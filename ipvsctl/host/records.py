"""Small persistent records: what ipvsctl manages, drains, previous host values.

Records are JSON, written atomically (temp file in the same folder, fsync, rename), so a crash
leaves either the old or the new record, never half of one. They live under IPVSCTL_STATE_DIR
(default /var/lib/ipvsctl, as the FHS has it; moved for tests and sandboxes), one per network
namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ipvsctl.errors import HostError


def state_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_STATE_DIR", "/var/lib/ipvsctl"))


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
