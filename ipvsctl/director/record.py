"""The ownership record: which services ipvsctl manages, and when each drain started.

What ipvsctl manages survives crashes: the workflow widens the record before an apply may create
services, and narrows it after. It lives at /var/lib/ipvsctl/director.json (the host's
namespace) or director.netns-INODE.json (host/records.py), and is acted on only with the shape
written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ipvsctl.host.records import read_record, write_record
from ipvsctl.model import ServiceKey

RECORD = "director"


def _key_to_json(key: ServiceKey) -> list[Any]:
    return [key.family, key.protocol, key.address, key.port, key.fwmark]


def _key_from_json(data: Any) -> ServiceKey:
    # Read as written (by _key_to_json), once record_problem has passed it. 10,000 keys a plan.
    return ServiceKey._make(data)


_KEY_TYPES = (int, str, str, int, int)


def record_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with an ownership record, None when it has the shape save() writes."""
    unknown = sorted(set(data) - {"managed", "drains"})
    if unknown:
        return f"unknown key {unknown[0]!r}"
    managed = data.get("managed", [])
    if not isinstance(managed, list):
        return "managed: not a list"
    for i, key in enumerate(managed):
        if (not isinstance(key, list) or len(key) != 5
                or not all(type(v) is t for v, t in zip(key, _KEY_TYPES, strict=True))
                or key[0] not in (4, 6)):
            return f"managed[{i}]: not a service key [family, protocol, address, port, fwmark]"
    drains = data.get("drains", {})
    if not isinstance(drains, dict) or not all(
            type(t) in (int, float) for t in drains.values()):
        return "drains: not a mapping of drain ids to start times"
    return None


@dataclass(slots=True)
class Record:
    managed: set[ServiceKey]
    drains: dict[str, float]

    @classmethod
    def load(cls, netns: str | None) -> Record:
        data = read_record(RECORD, netns, validate=record_problem)
        return cls({_key_from_json(k) for k in data.get("managed", [])},
                   {str(k): float(v) for k, v in data.get("drains", {}).items()})

    def copy(self) -> Record:
        return Record(set(self.managed), dict(self.drains))

    def save(self, netns: str | None, *, unless_same_as: Record | None = None) -> None:
        """Write the record, atomically; skipped when it would not change (a 10,000-service
        record costs a sort, a serialisation and an fsync)."""
        if unless_same_as is not None and unless_same_as == self:
            return
        write_record(RECORD, netns, {
            "managed": sorted(_key_to_json(k) for k in self.managed),
            "drains": dict(sorted(self.drains.items())),
        })
