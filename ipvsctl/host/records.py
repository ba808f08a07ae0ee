"""Small persistent records: what ipvsctl manages, drains, previous host values.

Records are JSON, written atomically (temp file in the same folder, fsync, rename), so a crash
leaves either the old or the new record, never half of one. They live under IPVSCTL_STATE_DIR
(default /var/lib/ipvsctl, as the FHS has it; moved for tests and sandboxes), one per network
namespace, named after the namespace itself (host/identity.py), and are acted on only when
root alone could have written them (host/trust.py) and they have the shape their kind writes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipvsctl.errors import HostError
from ipvsctl.host.identity import Netns, check_name, cookie_and_boot, identify
from ipvsctl.host.trust import read_trusted, trusted_folder, write_atomic

# A record's shape: None when it is one its kind writes, else what is wrong with it.
Validator = Callable[[dict[str, Any]], str | None]


def state_dir() -> Path:
    return Path(os.environ.get("IPVSCTL_STATE_DIR", "/var/lib/ipvsctl"))


def scoped_name(kind: str, netns: str | None) -> str:
    """A file name of `kind` for a namespace known by its name: for files whose path other
    programs are given (keepalived's track_file), which must not change with the namespace's
    inode. The name is checked first, so it cannot lead out of the folder."""
    return f"{kind}.{check_name(netns)}" if netns is not None else kind


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace path (a file the operator named: `-o FILE`) with data so readers see the old or
    the new content, never a mix. A link at path is replaced, not followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path.parent, path.name, data.encode() if isinstance(data, str) else data, mode)


def _legacy_names(kind: str, ns: Netns) -> list[str]:
    """Where releases that named records after the namespace kept this one's."""
    return [f"{kind}.{name}.json" for name in ns.names if not name.startswith("netns-")]


def _way_out(path: Path) -> str:
    return f"inspect it, then move it aside to start over (mv {path} {path}.bad)"


def read_record(kind: str, netns: str | None, validate: Validator | None = None
                ) -> dict[str, Any]:
    """The namespace's record of this kind; {} when there is none (or only a stale one, left
    by a namespace that no longer exists). Never creates, moves or rewrites anything."""
    ns = identify(netns)
    folder = trusted_folder(state_dir(), create=False)
    if folder is None:
        return {}
    for name in (f"{ns.scoped(kind)}.json", *_legacy_names(kind, ns)):
        path = folder / name
        raw = read_trusted(path)
        if raw is not None:
            break
    else:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        raise HostError(f"{path}: unreadable state record ({reason[:120]}); "
                        f"{_way_out(path)}") from None
    if not isinstance(data, dict):
        raise HostError(f"{path}: state record is not a JSON object; {_way_out(path)}")
    written_in = data.pop("netns", None)
    if written_in is not None and not ns.host:
        now = cookie_and_boot(netns)
        if now and written_in != now:
            return {}  # its namespace is gone; this one only reuses the inode
    problem = validate(data) if validate is not None else None
    if problem:
        raise HostError(f"{path}: not a {kind} record ipvsctl wrote ({problem[:200]}); "
                        f"{_way_out(path)}")
    return data


def write_record(kind: str, netns: str | None, data: dict[str, Any]) -> None:
    """Replace the namespace's record; one of an older release's name is then removed."""
    ns = identify(netns)
    folder = trusted_folder(state_dir(), create=True, mode=0o700)
    assert folder is not None
    body = dict(data)
    if body and not ns.host:
        body["netns"] = cookie_and_boot(netns) or None
    name = f"{ns.scoped(kind)}.json"
    try:
        write_atomic(folder, name, (json.dumps(body, indent=1, sort_keys=True) + "\n").encode())
        for legacy in _legacy_names(kind, ns):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / legacy)
    except OSError as exc:
        raise HostError(f"cannot write state record {folder / name}: {exc.strerror}") from exc


def files_of(netns: str) -> list[Path]:
    """The records and locks kept for a namespace (to remove them with it)."""
    from ipvsctl.host.locks import run_dir

    ns = identify(netns)
    if ns.host:
        return []
    out: list[Path] = []
    for base, suffix in ((state_dir(), "json"), (run_dir(), "lock")):
        folder = trusted_folder(base, create=False)
        if folder is None:
            continue
        for key in (ns.key, *(n for n in ns.names if not n.startswith("netns-"))):
            out += sorted(p for p in folder.glob(f"*.{key}.{suffix}") if p.is_file())
    return out


def forget(netns: str) -> None:
    """Remove a namespace's records and locks, before the namespace itself is deleted: its
    inode is free for the next namespace once it is gone."""
    for path in files_of(netns):
        with contextlib.suppress(OSError):
            path.unlink()
