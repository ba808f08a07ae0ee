"""Which VIPs this host serves, read from a cluster file: pure matching on addresses."""

from __future__ import annotations

from collections.abc import Iterable

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster


def vips_for_host(cluster: Cluster, own_addresses: Iterable[str],
                  source: str = "cluster file") -> tuple[list[str], list[str]]:
    """VIPs of every service that lists one of own_addresses as a real server, plus warnings."""
    own = set(own_addresses)
    vips: list[str] = []
    warnings: list[str] = []
    for key in sorted(cluster.services):
        svc = cluster.services[key]
        mine = [rs for rs in svc.real_servers.values() if rs.key.address in own]
        if not mine:
            continue
        if key.is_fwmark:
            warnings.append(f"{source}: service {key} is a firewall-mark service and has no VIP: "
                            "skipped (give its addresses with --vip)")
            continue
        if all(rs.spec.forward == "nat" for rs in mine):
            warnings.append(f"{source}: service {key} reaches this host by NAT: no VIP needed")
            continue
        if key.address not in vips:
            vips.append(key.address)
    if not vips and not warnings:
        raise ConfigError([f"{source}: no real server there matches an address of this host "
                           f"({', '.join(sorted(own)) or 'none'})"])
    return vips, warnings
