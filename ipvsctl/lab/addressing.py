"""The lab's address plan, worked out from the cluster file alone (pure: no I/O).

Real servers keep the addresses the file gives them, so the file is applied unchanged. The
director gets a free address in the real servers' subnet and holds every VIP on its bridge-facing
interface, as keepalived would. Clients live in a subnet of their own on the SAME bridge, with
on-link routes: a real server's reply (sourced from the VIP) goes straight to the client over the
shared segment and never via the director, which owns the VIP and would drop it. A separate
client subnet is also what lets NAT mode route replies back through the director.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster

# Candidate client subnets, first free one wins: benchmarking space (RFC 2544), then private.
CLIENT_SUBNETS = ("198.18.0.0/24", "198.19.0.0/24", "172.31.254.0/24")
MAX_CLIENTS = 50
MAX_REAL_SERVERS = 64


@dataclass(frozen=True, slots=True)
class AddressPlan:
    server_net: str  # e.g. 10.10.0.0/24: real servers and the director
    client_net: str  # e.g. 198.18.0.0/24
    director: str  # the director's own address in server_net
    vips: tuple[str, ...]  # every VIP the lab exercises (on the director's interface)
    real_servers: tuple[str, ...]  # in file order
    clients: tuple[str, ...]

    @property
    def server_prefix(self) -> int:
        return ipaddress.ip_network(self.server_net).prefixlen

    @property
    def client_prefix(self) -> int:
        return ipaddress.ip_network(self.client_net).prefixlen


def lab_services(cluster: Cluster, forward: str | None = "dr") -> list[str]:
    """Problems that stop the lab from running this file, in words (empty: fine)."""
    problems = []
    for key, svc in cluster.services.items():
        where = f"{svc.source}: " if svc.source else ""
        if key.is_fwmark or key.family != 4:
            problems.append(f"{where}service {key}: the lab exercises IPv4 VIP:port services "
                            "only")
        for rs in svc.real_servers.values() if forward else ():
            if rs.spec.forward != forward:
                problems.append(f"{where}real server {rs.key} of {key} uses forward "
                                f"{rs.spec.forward}: the lab proves direct routing (dr); "
                                "--compare-nat adds the NAT run itself")
    return problems


def plan_addresses(cluster: Cluster, clients: int) -> AddressPlan:
    if not 1 <= clients <= MAX_CLIENTS:
        raise ConfigError([f"--clients {clients}: must be 1..{MAX_CLIENTS}"])
    problems = lab_services(cluster, forward=None)
    if not cluster.services:
        problems.append(f"{cluster.path or 'cluster file'}: no services to exercise")
    if problems:
        raise ConfigError(problems)
    vips = tuple(dict.fromkeys(k.address for k in sorted(cluster.services)))
    reals = tuple(dict.fromkeys(rs.key.address for k in sorted(cluster.services)
                                for rs in cluster.services[k].real_servers.values()))
    if not reals:
        raise ConfigError([f"{cluster.path or 'cluster file'}: no real servers to exercise"])
    if len(reals) > MAX_REAL_SERVERS:
        raise ConfigError([f"{len(reals)} real servers: the lab builds at most "
                           f"{MAX_REAL_SERVERS} namespaces for them"])
    server_net = _covering_net(reals)
    taken = {ipaddress.ip_address(a) for a in (*vips, *reals)}
    director = next((h for h in reversed(list(server_net.hosts())) if h not in taken), None)
    if director is None:
        raise ConfigError([f"{server_net}: no free address left for the lab's director"])
    client_net = next((n for n in map(ipaddress.ip_network, CLIENT_SUBNETS)
                       if not n.overlaps(server_net) and not any(a in n for a in taken)), None)
    if client_net is None:
        raise ConfigError(["the lab found no free client subnet among "
                           + ", ".join(CLIENT_SUBNETS)])
    hosts = list(client_net.hosts())
    return AddressPlan(
        server_net=str(server_net), client_net=str(client_net), director=str(director),
        vips=vips, real_servers=reals,
        clients=tuple(str(hosts[9 + i]) for i in range(clients)),  # .10, .11, ...
    )


def _covering_net(addresses: tuple[str, ...]) -> ipaddress.IPv4Network:
    """The smallest network of at least /24 that holds every real server."""
    ips = [ipaddress.IPv4Address(a) for a in addresses]
    for prefix in range(24, 7, -1):
        net = ipaddress.IPv4Network(f"{ips[0]}/{prefix}", strict=False)
        if all(ip in net for ip in ips):
            return net
    raise ConfigError(["the real servers' addresses share no common /8: the lab puts them on "
                       "one bridge segment"])
