"""The ECMP lab's plan, from the cluster file alone (pure: no I/O): addresses, modes, timers.

Real servers keep the file's addresses. A router takes the highest free address of their
subnet, the N directors the next ones down; the client sits behind the router on a subnet of
its own (a point-to-point link: it is NOT on the directors' segment, as on the Internet), and
opens every round of flows from a fresh source address there, so that no IPVS entry of an
earlier round can match a reused port and flatter the survival count.

Every mode is the same file with every service's scheduler replaced: `mh` (Maglev hashing,
with `mh-port` since one client address would otherwise hash to one real server) plus
`sloppy_tcp` 1, against `wrr` with `sloppy_tcp` 0, the scheduler a single director would use.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from ipvsctl.errors import ConfigError
from ipvsctl.lab.addressing import lab_services, plan_addresses
from ipvsctl.model import Cluster, ServiceKey

MAX_DIRECTORS = 8  # the kernel takes more next hops; eight keep the lab small
MAX_FLOWS = 1000
ROUTER_AS, DIRECTOR_AS = 65000, 65001  # private AS numbers (RFC 6996)
ROUNDS = 40  # fresh client addresses available (.20 upward): 3 events a mode, few modes


@dataclass(frozen=True, slots=True)
class Mode:
    name: str  # the label in the report
    scheduler: str
    flags: frozenset[str]
    sloppy_tcp: int


MODES = (Mode("mh", "mh", frozenset({"mh-port"}), 1), Mode("wrr", "wrr", frozenset(), 0))


@dataclass(frozen=True, slots=True)
class Timers:
    """The BGP timers both ends of every session use (BIRD: hold 3..65535, keepalive >= 1)."""

    hold: int = 3
    keepalive: int = 1
    connect_delay: int = 1  # the first session and every new one, in seconds
    error_wait: tuple[int, int] = (1, 5)  # BIRD's default (60, 300) stalls a restarted peer


@dataclass(frozen=True, slots=True)
class EcmpOptions:
    directors: int = 2
    flows: int = 100  # long-lived connections opened per round
    probe_seconds: float = 10.0  # how long a probe waits for every connection to answer
    route_timeout: float = 60.0  # how long the lab waits for the router to see a change
    timers: Timers = Timers()
    keep: bool = False


@dataclass(frozen=True, slots=True)
class EcmpPlan:
    server_net: str  # the real servers', the directors' and the router's segment
    router: str  # on that segment
    directors: tuple[str, ...]  # d1, d2, ... addresses there
    real_servers: tuple[str, ...]
    vips: tuple[str, ...]
    client_net: str
    router_client_side: str  # the client's gateway
    client: str  # the client's own address (its rounds add more)
    flow_service: ServiceKey  # the TCP service the flows go to

    @property
    def server_prefix(self) -> int:
        return ipaddress.ip_network(self.server_net).prefixlen

    @property
    def client_prefix(self) -> int:
        return ipaddress.ip_network(self.client_net).prefixlen

    def round_source(self, number: int) -> str:
        """The client address of round `number` (0, 1, ...): one fresh address a round."""
        if not 0 <= number < ROUNDS:
            raise ConfigError([f"the ECMP lab has {ROUNDS} client addresses, not {number + 1}"])
        return str(ipaddress.ip_network(self.client_net)[20 + number])


def plan_ecmp(cluster: Cluster, options: EcmpOptions) -> EcmpPlan:
    problems = [f"--ecmp {options.directors}: must be 2..{MAX_DIRECTORS} (one director is "
                "taken out, the others keep the flows)"] \
        if not 2 <= options.directors <= MAX_DIRECTORS else []
    if not 1 <= options.flows <= MAX_FLOWS:
        problems.append(f"flows {options.flows}: must be 1..{MAX_FLOWS}")
    problems += lab_services(cluster)
    tcp = sorted(k for k in cluster.services if k.protocol == "tcp")
    if not tcp and not problems:
        problems.append(f"{cluster.path or 'cluster file'}: the ECMP lab needs a TCP service "
                        "to hold flows on")
    if problems:
        raise ConfigError(problems)
    base = plan_addresses(cluster, 1)
    net = ipaddress.ip_network(base.server_net)
    taken = {ipaddress.ip_address(a) for a in (*base.vips, *base.real_servers)}
    free = [h for h in reversed(list(net.hosts())) if h not in taken]
    if len(free) < options.directors + 1:
        raise ConfigError([f"{net}: no room for a router and {options.directors} directors"])
    hosts = list(ipaddress.ip_network(base.client_net).hosts())
    return EcmpPlan(
        server_net=str(net), router=str(free[0]),
        directors=tuple(str(a) for a in free[1:options.directors + 1]),
        real_servers=base.real_servers, vips=base.vips, client_net=base.client_net,
        router_client_side=str(hosts[0]), client=str(hosts[9]), flow_service=tcp[0])


def for_mode(cluster: Cluster, mode: Mode) -> Cluster:
    """The file as one mode runs it: every service on the mode's scheduler, sloppy_tcp set.

    Every director gets this same table, real servers and weights included: mh gives the same
    answer on every director only when their tables agree."""
    services = {key: replace(svc, spec=svc.spec._replace(scheduler=mode.scheduler,
                                                         scheduler_flags=mode.flags))
                for key, svc in cluster.services.items()}
    sysctls = {**cluster.director.sysctls, "sloppy_tcp": mode.sloppy_tcp}
    return replace(cluster, services=services,
                   director=replace(cluster.director, sysctls=sysctls))
