"""What the two-director lab builds from a cluster file (pure: no I/O).

The lab keeps what decides a failover: the first IPv4 TCP service (VIP, port, scheduler, real
servers), the pair's VRRP settings (router id, advert interval, version, transport, priorities,
health weight) and the sync daemon's id, port, group and ttl. It wires its own segment: each
director's VRRP and sync interface is its `eth0` on the lab bridge, with its address from the
file when that lies in the real servers' subnet. For each mode (sync on, sync off) it writes
the cluster file both directors' `ipvsctl run` read: the same file for the pair, as in
production, with a tcp check on every real server so health is real.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ipvsctl.errors import ConfigError
from ipvsctl.lab.addressing import plan_addresses
from ipvsctl.model import Cluster, Ha, Service

IFACE = "eth0"
REFRESH = 5  # sync_refresh_period in the sync mode: a live connection is resent every 5 s
CHECK = {"type": "tcp", "interval": 1, "timeout": 1, "rise": 1, "fall": 2}


@dataclass(frozen=True, slots=True)
class LabDirector:
    name: str
    address: str
    priority: int


@dataclass(frozen=True, slots=True)
class HaLabPlan:
    source: str
    vip: str
    port: int
    scheduler: str
    real_servers: tuple[str, ...]
    prefix: int  # of the real servers' (and directors') subnet
    client: str  # in a subnet of its own, on-link on the same bridge
    client_prefix: int
    directors: tuple[LabDirector, LabDirector]  # the master (higher priority) first
    ha: Ha

    @property
    def advert_seconds(self) -> float:
        return self.ha.advert_centis / 100


def _service(cluster: Cluster) -> Service:
    for key, service in cluster.services.items():
        if not key.is_fwmark and key.family == 4 and key.protocol == "tcp" \
                and service.real_servers:
            return service
    raise ConfigError([f"{cluster.path or 'the cluster file'}: lab --ha needs an IPv4 TCP "
                       "service with real servers (VIP:port)"])


def plan(cluster: Cluster) -> HaLabPlan:
    """The lab for this file, or one ConfigError naming every reason it cannot be built."""
    label = cluster.path or "the cluster file"
    ha = cluster.ha
    if ha is None:
        raise ConfigError([f"{label}: lab --ha needs an ha section (the pair of directors, "
                           "docs/ha.md)"])
    service = _service(cluster)
    reals = tuple(rs.key.address for rs in service.real_servers.values())[:8]
    addresses = plan_addresses(Cluster(services={service.key: service}, path=cluster.path), 1)
    net = ipaddress.ip_network(addresses.server_net)
    taken = {*reals, service.key.address}
    chosen: list[LabDirector] = []
    spare = (str(h) for h in net.hosts() if str(h) not in taken)
    ranked = sorted(ha.directors, key=lambda d: -d.priority)[:2]
    for director in ranked:
        address = director.address
        if address is None or address in taken or ipaddress.ip_address(address) not in net:
            address = next(spare)
        taken.add(address)
        chosen.append(LabDirector(director.name, address, director.priority))
    return HaLabPlan(label, service.key.address, service.key.port, service.spec.scheduler,
                     reals, net.prefixlen, addresses.clients[0],
                     ipaddress.ip_network(addresses.client_net).prefixlen,
                     (chosen[0], chosen[1]), ha)


def _advert(ha: Ha) -> int | float:
    return ha.advert_centis // 100 if ha.advert_centis % 100 == 0 else ha.advert_centis / 100


def lab_file(lab: HaLabPlan, sync: bool) -> dict[str, Any]:
    """The cluster file (as JSON) both directors run in one mode."""
    ha = lab.ha
    settings = ha.sync
    sync_doc: Any = False
    if sync:
        sync_doc = {"id": settings.syncid if settings else ha.virtual_router_id}
        if settings is not None:
            sync_doc.update(port=settings.port, ttl=settings.ttl, group=settings.group)
            if settings.maxlen is not None:
                sync_doc["maxlen"] = settings.maxlen
    doc: dict[str, Any] = {
        "director": {"reconcile_interval": 30},
        "ha": {
            "virtual_router_id": ha.virtual_router_id, "interface": IFACE,
            "advert_interval": _advert(ha), "vrrp_version": ha.vrrp_version,
            "transport": "unicast" if ha.unicast else "multicast",
            "health_weight": ha.health_weight,
            "directors": [{"name": d.name, "address": d.address, "priority": d.priority}
                          for d in lab.directors],
            "sync": sync_doc,
        },
        "services": [{
            "vip": lab.vip, "port": lab.port, "scheduler": lab.scheduler, "check": CHECK,
            "real_servers": [{"address": a} for a in lab.real_servers],
        }],
    }
    if sync:
        # A connection is resent whenever its timer moved by REFRESH s (not at its 3rd, 53rd
        # ... packet only), so a director that comes back learns every live one in time.
        doc["director"]["sysctls"] = {"sync_refresh_period": REFRESH, "sync_threshold": [3, 0]}
    return doc
