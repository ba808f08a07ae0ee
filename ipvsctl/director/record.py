"""The ownership record: which services ipvsctl manages, and when each drain started.

What ipvsctl manages survives crashes: the workflow widens the record before an apply may create
services, and narrows it after. It lives at /var/lib/ipvsctl/director[.NETNS].json.
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
    # Read as written (by _key_to_json): a value of another type would match no service in the
    # kernel, which only makes that service unmanaged, the safe side. 10,000 keys per plan.
    return ServiceKey._make(data)


@dataclass(slots=True)
class Record:
    managed: set[ServiceKey]
    drains: dict[str, float]

    @classmethod
    def load(cls, netns: str | None) -> Record:
        data = read_record(RECORD, netns)
        return cls({_key_from_json(k) for k in data.get("managed", []) if len(k) == 5},
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
