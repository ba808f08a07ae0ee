"""The ECMP lab's network: a client behind a router, directors and real servers on one segment.

    client --(point-to-point veth)-- router --[ bridge ]-- d1 .. dN   (VIP/32 on lo each)
                                                      \\-- rs1 .. rsM (VIP/32 on lo, backend-setup)

The router forwards with an L4 multipath hash (net.ipv4.fib_multipath_hash_policy=1), so the
flows of one client spread over the directors by port. Directors and real servers route
everything via the router: replies leave the real servers straight to it (direct server
return) and never pass a director. Directors hold the VIPs on `lo` with the ARP sysctls of a
real server: the router reaches them by BGP next hop, never by ARP for the VIP.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field

from ipvsctl.errors import HostError
from ipvsctl.host.sysctl import sysctl_path, write_sysctl
from ipvsctl.lab.ecmp_plan import EcmpPlan
from ipvsctl.lab.topology import (
    IP_PATHS,
    _ip_batch,
    delete_namespaces,
    make_namespaces,
    new_prefix,
)

IFACE = "eth0"
UPLINK = "eth1"  # the router's leg on the directors' segment


@dataclass(slots=True)
class EcmpTopology:
    prefix: str
    plan: EcmpPlan
    created: list[str] = field(default_factory=list)

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    @property
    def router(self) -> str:
        return self.ns("r")

    @property
    def client(self) -> str:
        return self.ns("c")

    @property
    def bridge(self) -> str:
        return self.ns("br")

    @property
    def directors(self) -> list[str]:
        return [self.ns(f"d{i}") for i in range(1, len(self.plan.directors) + 1)]

    @property
    def real_servers(self) -> dict[str, str]:
        """Real server address -> its namespace."""
        return {a: self.ns(f"rs{i}") for i, a in enumerate(self.plan.real_servers, 1)}

    @property
    def namespaces(self) -> list[str]:
        return [self.bridge, self.router, self.client, *self.directors,
                *self.real_servers.values()]

    def port_of(self, director: int) -> str:
        """The bridge-side end of director `director`'s link (0-based)."""
        return f"d{director + 1}"

    def delete_commands(self) -> list[str]:
        return [f"ip netns delete {ns}" for ns in self.namespaces]


def describe(plan: EcmpPlan, prefix: str | None = None) -> EcmpTopology:
    return EcmpTopology(prefix or new_prefix(), plan)


def build(topo: EcmpTopology) -> None:
    plan = topo.plan
    make_namespaces(topo)
    segment = [("r", UPLINK), *((f"d{i}", IFACE) for i in range(1, len(plan.directors) + 1)),
               *((f"rs{i}", IFACE) for i in range(1, len(plan.real_servers) + 1))]
    bridge = ["link set lo up", "link add br0 type bridge", "link set br0 up"]
    for port, iface in segment:
        bridge += [f"link add {port} type veth peer name {iface} netns {topo.ns(port)}",
                   f"link set {port} master br0", f"link set {port} up"]
    _ip_batch(bridge, topo.bridge)
    _ip_batch([f"link add {IFACE} type veth peer name {IFACE} netns {topo.router}",
               "link set lo up", f"link set {IFACE} up",
               f"address add {plan.client}/{plan.client_prefix} dev {IFACE}",
               f"route add default via {plan.router_client_side}"], topo.client)
    _ip_batch(["link set lo up", f"link set {IFACE} up", f"link set {UPLINK} up",
               f"address add {plan.router_client_side}/{plan.client_prefix} dev {IFACE}",
               f"address add {plan.router}/{plan.server_prefix} dev {UPLINK}"], topo.router)
    for key, value in (("net.ipv4.ip_forward", "1"),
                       ("net.ipv4.fib_multipath_hash_policy", "1")):  # L4: ports count
        write_sysctl(sysctl_path(key), value, topo.router)
    hosts = [*zip(topo.directors, plan.directors, strict=True),
             *((ns, a) for a, ns in topo.real_servers.items())]
    for ns, address in hosts:
        lines = ["link set lo up", f"link set {IFACE} up",
                 f"address add {address}/{plan.server_prefix} dev {IFACE}",
                 f"route add default via {plan.router}"]
        if ns in topo.directors:
            lines += [f"address add {vip}/32 dev lo" for vip in plan.vips]
        _ip_batch(lines, ns)
    for ns in topo.directors:  # the real servers get theirs from backend-setup
        for scope in ("all", IFACE):
            write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_ignore"), "1", ns)
            write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_announce"), "2", ns)


def teardown(topo: EcmpTopology) -> None:
    delete_namespaces(topo)


def set_link(topo: EcmpTopology, director: int, up: bool) -> None:
    """Cut or restore a director's only link, at the bridge: to the router it is gone."""
    _ip_batch([f"link set {topo.port_of(director)} {'up' if up else 'down'}"], topo.bridge)


def add_client_address(topo: EcmpTopology, address: str) -> None:
    _ip_batch([f"address add {address}/{topo.plan.client_prefix} dev {IFACE}"], topo.client)


def isolate_real_servers(topo: EcmpTopology, director: int, isolated: bool) -> None:
    """A director that cannot reach its real servers: its checks fail, its peers' do not."""
    verb = "add" if isolated else "del"
    _ip_batch((f"route {verb} prohibit {a}/32" for a in topo.plan.real_servers),
              topo.directors[director])


class NextHops:
    """The router's kernel route to a VIP, as `ip -json route` shows it in its namespace.

    One short exec a look: pyroute2's own way into a namespace forks a helper that a loaded,
    emulated VM may not answer in time."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._ip = next((p for p in IP_PATHS if os.path.exists(p)), IP_PATHS[0])

    def close(self) -> None:
        pass

    def of(self, vip: str) -> list[str]:
        try:
            done = subprocess.run([self._ip, "-n", self.netns, "-json", "-4", "route", "show",
                                   "exact", f"{vip}/32"], capture_output=True, text=True,
                                  timeout=30, check=False)
            routes = json.loads(done.stdout or "[]")
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            raise HostError(f"lab: cannot read the router's routes: {exc}") from exc
        hops: list[str] = []
        for route in routes:
            if route.get("gateway"):
                hops.append(route["gateway"])
            hops += [h["gateway"] for h in route.get("nexthops", ()) if h.get("gateway")]
        return sorted(hops)

    def wait(self, vip: str, want: set[str], timeout: float, step: float = 0.02) -> float:
        """Seconds until the route's next hops are exactly `want`; HostError after timeout."""
        t0 = time.monotonic()
        while True:
            now = set(self.of(vip))
            if now == want:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise HostError(f"lab: the router's route to {vip} did not reach next hops "
                                f"{sorted(want) or 'none'} in {timeout:.0f} s "
                                f"(it has {sorted(now) or 'none'})")
            time.sleep(step)
