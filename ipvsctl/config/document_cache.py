"""The line reader's document of a file read before, kept so an unchanged file is not read again.

`plan`, `apply` and `run` read the same large file again and again; the line reader is about
half of loading it (the builder is the other half, and still applies every rule each time).
One entry is kept, the last document read, in root-only state (IPVSCTL_STATE_DIR/cache, a
folder checked like every other: host/trust.py), and used only when its key matches:

    SHA-256 of a format tag, the ipvsctl version, the source of the config package (the
    readers and their limits), the limits in force, and the file's whole text.

So a changed byte anywhere, another ipvsctl or other reading rules mean a miss. Only a
document of plain values (dict, list, str, int, bool, None, each container once) with the line
reader's places is kept, as `marshal` data: loading it builds values, never runs code. A file
the builder finds a problem in is never kept (it is read again carefully, as without the cache,
so every message and its place stay the same). Anything wrong with the entry (missing,
foreign, damaged, an untrusted folder) is a miss, never an error: the file is just read.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

from ipvsctl.config.limits import LIMITS
from ipvsctl.config.tree import Places
from ipvsctl.errors import IpvsctlError

NAME = "cluster-document"
_TAG = b"ipvsctl cluster document 1\0"
_rules: bytes | None = None


def _rules_digest() -> bytes:
    """The config package's source and the limits: what decides the document of a text."""
    global _rules
    if _rules is None:
        from ipvsctl import __version__

        digest = hashlib.sha256(_TAG + __version__.encode() + b"\0")
        folder = Path(__file__).resolve().parent
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
        _rules = digest.digest()
    return _rules


def key_of(text: str) -> bytes:
    digest = hashlib.sha256(_rules_digest())
    digest.update(repr(LIMITS).encode() + b"\0")  # limits may be replaced while running
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest().encode()


def _containers(root: Any) -> list[Any]:
    """Every dict and list of the document, in one fixed order (the same after a round trip)."""
    out: list[Any] = []
    stack = [root] if type(root) in (dict, list) else []
    while stack:
        value = stack.pop()
        out.append(value)
        stack.extend([v for v in (value.values() if type(value) is dict else value)
                      if type(v) is dict or type(v) is list])
    return out


def encode(root: Any, places: Places) -> bytes | None:
    """The document as marshal data, or None when it holds anything but plain values (marshal
    refuses every subclass: an Odd, a tagged value) or a container twice."""
    if places.entries:
        return None
    at, containers = places.at, _containers(root)
    positions = [at.get(id(c)) for c in containers]
    if len({id(c) for c in containers}) != len(containers) or \
            len(at) != len(positions) - positions.count(None):
        return None  # a container met twice, or a place for something not in the document
    try:
        return marshal.dumps((root, positions, places.exact))
    except ValueError:
        return None


def decode(data: bytes) -> tuple[Any, Places] | None:
    try:
        root, positions, exact = marshal.loads(data)  # noqa: S302 (root's own file; plain data)
        containers = _containers(root)
        if len(containers) != len(positions):
            return None
        places = Places(bool(exact))
        places.at = {id(c): (int(pos[0]), int(pos[1]))
                     for c, pos in zip(containers, positions, strict=True) if pos is not None}
    except (EOFError, ValueError, TypeError, IndexError):  # not what encode wrote
        return None
    return root, places


def _folder(create: bool) -> Path | None:
    from ipvsctl.host.records import state_dir
    from ipvsctl.host.trust import trusted_folder

    return trusted_folder(state_dir() / "cache", create=create)


def get(text: str) -> tuple[Any, Places] | None:
    """The document kept for exactly this text, or None."""
    try:
        from ipvsctl.host.trust import read_trusted

        folder = _folder(create=False)
        if folder is None:
            return None
        data = read_trusted(folder / NAME, limit=4 * LIMITS.size)
    except (OSError, IpvsctlError):  # a cache: any trouble is a miss
        return None
    if not data:
        return None
    key, _, body = data.partition(b"\n")
    return decode(body) if key == key_of(text) else None


def put(text: str, data: bytes) -> None:
    """Keep `data` (from encode) as the document of `text`; any trouble keeps nothing."""
    try:
        from ipvsctl.host.trust import write_atomic

        folder = _folder(create=True)
        if folder is not None:
            write_atomic(folder, NAME, key_of(text) + b"\n" + data)
    except (OSError, IpvsctlError):  # a cache: a failed write only costs the next read
        pass
