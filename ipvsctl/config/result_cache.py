"""The Cluster built from a file read before, kept so an unchanged file is neither read nor
built again.

`plan`, `apply` and `run` read the same large file again and again; reading it and applying
every rule to it cost the same each time. One entry is kept, the last Cluster the line reader's
shape gave, in root-only state (IPVSCTL_STATE_DIR/cache, a folder checked like every other:
host/trust.py), and used only when its key matches:

    SHA-256 of a format tag, the ipvsctl version, Python's, the source of what decides the
    result (the config package: readers, limits, rules; the model and health value types),
    the limits in force, the name the caller gave the file (every `source` holds it) and the
    file's whole text.

So a changed byte anywhere, another name, another ipvsctl or other rules mean a miss. The entry
is pickle data read by an unpickler that knows only the model's and the health specs' value
classes and this module's `_service`: loading it calls those constructors and nothing else
(any other name in it is a miss). A file the builder finds a problem in is never kept (it is
read again carefully, as without the cache, so every message and its place stay the same).
Anything wrong with the entry (missing, foreign, damaged, an untrusted folder) is a miss, never
an error: the file is just read.

Why the Cluster and not the reader's document: writing it costs less than encoding the document
did (each service's real servers go as one flat tuple of plain values, which pickle writes in
C), and loading it skips the builder too, which was half of a load.

The entry also holds the text it was built from, so the commonest edit of a large file, one
real server's weight, is not read in full either: when the key differs but everything else it
covers (rules, limits, name) is the same, and the new text is the kept one with exactly one
weight changed (weight_edit.py decides, as `ipvsctl run` does for its held file), the result
is the kept Cluster with that weight replaced. The kept text must hash to the entry's key, so
it is the text the kept Cluster was built from.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ipvsctl.config.limits import LIMITS
from ipvsctl.errors import IpvsctlError
from ipvsctl.model import Cluster, RealServer, RealServerKey, RealServerSpec, Service

NAME = "cluster-result"
_TAG = b"ipvsctl built cluster 2\0"
# What decides the Cluster of a text besides the config package (relative to ipvsctl/).
_ALSO = ("model.py", "health/spec.py", "health/policy.py")
_CLASSES = ("ipvsctl.model", "ipvsctl.health.spec", "ipvsctl.health.policy")
_rules: bytes | None = None
_new_tuple = tuple.__new__


def _rules_digest() -> bytes:
    global _rules
    if _rules is None:
        from ipvsctl import __version__

        digest = hashlib.sha256(_TAG + __version__.encode() + b"\0" + sys.version.encode())
        config = Path(__file__).resolve().parent
        files = [config / n for n in sorted(os.listdir(config)) if n.endswith(".py")]
        for path in [*files, *(config.parent / n for n in _ALSO)]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _rules = digest.digest()
    return _rules


def context_of(path: str) -> bytes:
    """What a key covers besides the text: the rules, the limits in force and the name."""
    digest = hashlib.sha256(_rules_digest())
    digest.update(repr(LIMITS).encode() + b"\0")  # limits may be replaced while running
    digest.update(path.encode("utf-8", "surrogatepass"))
    return digest.hexdigest().encode()


def key_of(text: str, path: str) -> bytes:
    return _key(context_of(path), text.encode("utf-8", "surrogatepass"))


def _key(context: bytes, raw: bytes) -> bytes:
    return hashlib.sha256(context + b"\0" + raw).hexdigest().encode()


def _service(key: Any, spec: Any, name: str | None, source: str | None,
             flat: tuple[Any, ...]) -> Service:
    """A service whose real servers were written as (address, port, spec, draining, source)
    runs: one constructor call per real server, the key shared by the entry and the server."""
    real_servers: dict[RealServerKey, RealServer] = {}
    parts = iter(flat)
    for address, port, rs_spec, draining, rs_source in zip(parts, parts, parts, parts, parts,
                                                           strict=True):
        if type(rs_spec) is not RealServerSpec:
            raise pickle.UnpicklingError("not a real server's spec")
        rs_key = _new_tuple(RealServerKey, (address, port))
        real_servers[rs_key] = RealServer(rs_key, rs_spec, draining, rs_source)
    return Service(key, spec, real_servers, name, source)


def _reduce_service(service: Service) -> tuple[Any, ...]:
    flat: list[Any] = []
    for rs in service.real_servers.values():
        if rs.stats is not None or rs.connections is not None:  # never in a built Cluster
            raise pickle.PicklingError("a real server with counters")
        flat += (rs.key.address, rs.key.port, rs.spec, rs.draining, rs.source)
    if service.stats is not None:
        raise pickle.PicklingError("a service with counters")
    return _service, (service.key, service.spec, service.name, service.source, tuple(flat))


class _Loader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_service":
            return _service
        if module in _CLASSES:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"not a value of the cluster: {module}.{name}")


def encode(cluster: Cluster) -> bytes | None:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.dispatch_table = {Service: _reduce_service}  # type: ignore[assignment]
    try:
        pickler.dump(cluster)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None
    return out.getvalue()


def decode(data: bytes, path: str) -> Cluster | None:
    try:
        cluster = _Loader(io.BytesIO(data)).load()
    except Exception:  # not what encode wrote: a miss, whatever it was
        return None
    if type(cluster) is not Cluster or cluster.path != path:
        return None
    return cluster


def _folder(create: bool) -> Path | None:
    from ipvsctl.host.records import state_dir
    from ipvsctl.host.trust import trusted_folder

    return trusted_folder(state_dir() / "cache", create=create)


class Kept(NamedTuple):
    cluster: Cluster
    exact: bool  # False: the kept Cluster with one weight edited (the entry's text is older)


def get(text: str, path: str) -> Kept | None:
    """The Cluster kept for exactly this text under this name, or for a text this one changes
    by one weight (then with it changed); None otherwise."""
    try:
        from ipvsctl.host.trust import read_trusted

        folder = _folder(create=False)
        if folder is None:
            return None
        data = read_trusted(folder / NAME, limit=8 * LIMITS.size)
    except (OSError, IpvsctlError):  # a cache: any trouble is a miss
        return None
    if not data:
        return None
    key, _, rest = data.partition(b"\n")
    context, _, rest = rest.partition(b"\n")
    size, _, rest = rest.partition(b"\n")
    if not size.isdigit() or int(size) > len(rest) or context != context_of(path):
        return None
    old_raw, body = rest[:int(size)], rest[int(size):]
    if key == _key(context, text.encode("utf-8", "surrogatepass")):
        cluster = decode(body, path)
        return None if cluster is None else Kept(cluster, exact=True)
    return _edited(key, context, old_raw, body, text, path)


def _edited(key: bytes, context: bytes, old_raw: bytes, body: bytes, text: str, path: str
            ) -> Kept | None:
    if key != _key(context, old_raw):  # not the text the kept Cluster was built from
        return None
    from ipvsctl.config.weight_edit import Lines, weight_edit

    try:
        old_text = old_raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    cluster = decode(body, path)
    if cluster is None:
        return None
    edit = weight_edit(old_text, cluster, text, Lines(cluster))
    return None if edit is None else Kept(edit.cluster, exact=False)


def put(text: str, path: str, cluster: Cluster) -> None:
    """Keep `cluster` as the result of `text` read under `path`; any trouble keeps nothing."""
    data = encode(cluster)
    if data is None:
        return
    raw = text.encode("utf-8", "surrogatepass")
    context = context_of(path)
    try:
        from ipvsctl.host.trust import write_atomic

        folder = _folder(create=True)
        if folder is not None:
            write_atomic(folder, NAME, b"".join((_key(context, raw), b"\n", context, b"\n",
                                                 b"%d\n" % len(raw), raw, data)))
    except (OSError, IpvsctlError):  # a cache: a failed write only costs the next read
        pass
