"""Which services an edit of the cluster file changed (pure).

The daemon applies an edit by re-planning only the services it changed (a narrowed read and
plan of just those), so a one-line edit of a 10,000-service file is one service planned and
one write. Services are compared as values (rules included), so a reformatted line that
means the same changes nothing; director settings or the scope changing means the whole
table is planned.

An edit that changed only weights also leaves every check as it was (targets do not depend
on weights), so the daemon keeps its probes instead of re-deriving them from the whole file:
with 100,000 checked real servers that derivation costs more than reading the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipvsctl.model import Cluster, ServiceKey


@dataclass(frozen=True, slots=True)
class Edit:
    services: frozenset[ServiceKey]  # added, removed or changed (rules included)
    director: bool  # director settings or scope changed: plan the whole table
    weights_only: bool = False  # every change is a real server's weight: checks stay as they are


def edit_of(old: Cluster, new: Cluster) -> Edit:
    director = old.director != new.director or old.scope != new.scope
    changed = frozenset(k for k in set(old.services) | set(new.services)
                        if old.services.get(k) != new.services.get(k)
                        or old.health.get(k) != new.health.get(k))
    renamed = any(service.name != new.services[key].name
                  for key, service in old.services.items() if key in new.services)
    return Edit(changed, director, bool(changed) and not director and not renamed and all(
        _weights_only(old, new, key) for key in changed))


def _weights_only(old: Cluster, new: Cluster, key: ServiceKey) -> bool:
    was, now = old.services.get(key), new.services.get(key)
    if was is None or now is None or old.health.get(key) != new.health.get(key):
        return False
    if was.spec != now.spec or was.real_servers.keys() != now.real_servers.keys():
        return False
    for rs_key, rs in was.real_servers.items():
        other = now.real_servers[rs_key]
        if rs.draining != other.draining or rs.spec._replace(weight=0) != \
                other.spec._replace(weight=0):
            return False
    return True
