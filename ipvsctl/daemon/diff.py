"""Which services an edit of the cluster file changed (pure).

The daemon applies an edit by re-planning only the services it changed (a narrowed read and
plan of just those), so a one-line edit of a 10,000-service file is one service planned and
one write. Services are compared as values (rules included), so a reformatted line that
means the same changes nothing; director settings or the scope changing means the whole
table is planned.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipvsctl.model import Cluster, ServiceKey


@dataclass(frozen=True, slots=True)
class Edit:
    services: frozenset[ServiceKey]  # added, removed or changed (rules included)
    director: bool  # director settings or scope changed: plan the whole table


def edit_of(old: Cluster, new: Cluster) -> Edit:
    director = old.director != new.director or old.scope != new.scope
    changed = frozenset(k for k in set(old.services) | set(new.services)
                        if old.services.get(k) != new.services.get(k)
                        or old.health.get(k) != new.health.get(k))
    return Edit(changed, director)
