"""The lab's throwaway network: one namespace per node, all on a bridge in a namespace of its own.

Nothing is created in the caller's own network namespace: the bridge lives in `<prefix>-br`,
each node gets a veth pair whose bridge end stays there and whose other end becomes the node's
`eth0`. Deleting the namespaces deletes everything. Links, addresses and routes are made with
`ip -batch` (one exec per namespace; argv lists only, names are generated here, never taken
from the user); sysctls and counters are read in-process through ipvsctl.host.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ipvsctl.errors import HostError
from ipvsctl.host.netns import NETNS_DIR, run_in_netns
from ipvsctl.host.sysctl import sysctl_path, write_sysctl
from ipvsctl.lab.addressing import AddressPlan

IFACE = "eth0"  # every node's bridge-facing interface
IP_PATHS = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
SIOCGIFHWADDR = 0x8927


@dataclass(frozen=True, slots=True)
class Node:
    role: str  # director | real-server | client
    netns: str
    address: str  # primary address on eth0
    prefix: int
    port: str  # the veth end on the bridge

    @property
    def label(self) -> str:
        return f"{self.role} {self.address}"


@dataclass(slots=True)
class Topology:
    prefix: str  # unique per run: parallel labs never collide
    mode: str  # dr | nat
    plan: AddressPlan
    bridge_ns: str
    director: Node
    real_servers: dict[str, Node]  # by address
    clients: list[Node]
    created: list[str] = field(default_factory=list)  # namespaces that exist now

    @property
    def nodes(self) -> list[Node]:
        return [self.director, *self.real_servers.values(), *self.clients]

    @property
    def namespaces(self) -> list[str]:
        return [self.bridge_ns, *(n.netns for n in self.nodes)]

    def delete_commands(self) -> list[str]:
        """What a person types to remove a kept lab."""
        return [f"ip netns delete {ns}" for ns in self.namespaces]


def new_prefix() -> str:
    return f"ipvslab-{secrets.token_hex(3)}"


def describe(plan: AddressPlan, mode: str, prefix: str | None = None) -> Topology:
    """Name every namespace and port; nothing is created yet."""
    prefix = prefix or new_prefix()
    director = Node("director", f"{prefix}-dir", plan.director, plan.server_prefix, "dir")
    reals = {a: Node("real-server", f"{prefix}-rs{i}", a, plan.server_prefix, f"rs{i}")
             for i, a in enumerate(plan.real_servers, 1)}
    clients = [Node("client", f"{prefix}-c{i}", a, plan.client_prefix, f"c{i}")
               for i, a in enumerate(plan.clients, 1)]
    return Topology(prefix, mode, plan, f"{prefix}-br", director, reals, clients)


def _ip_batch(lines: Iterable[str], netns: str | None = None, force: bool = False) -> None:
    exe = next((p for p in IP_PATHS if os.path.exists(p)), IP_PATHS[0])  # never via $PATH
    argv = [exe, *(["-n", netns] if netns else []), *(["-force"] if force else []),
            "-batch", "-"]
    text = "".join(f"{line}\n" for line in lines)
    try:
        done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"lab: cannot run {exe}: {exc} (Debian package iproute2)") from exc
    if done.returncode != 0 and not force:
        where = f" in namespace {netns}" if netns else ""
        raise HostError(f"lab: building the network{where} failed: "
                        f"{done.stderr.strip() or done.stdout.strip()}")


def _quiet_ipv6(netns: str) -> None:
    """No IPv6 chatter (router solicitations, DAD) on the links whose bytes the lab counts."""
    for scope in ("default", "all"):
        path = sysctl_path(f"net.ipv6.conf.{scope}.disable_ipv6")
        with contextlib.suppress(HostError):
            write_sysctl(path, "1", netns)


def build(topo: Topology) -> None:
    """Create the namespaces, the bridge, the links, addresses and routes."""
    plan = topo.plan
    make_namespaces(topo)
    bridge = ["link set lo up", "link add br0 type bridge", "link set br0 up"]
    for node in topo.nodes:
        bridge += [f"link add {node.port} type veth peer name {IFACE} netns {node.netns}",
                   f"link set {node.port} master br0", f"link set {node.port} up"]
    _ip_batch(bridge, topo.bridge_ns)
    for node in topo.nodes:
        lines = ["link set lo up", f"link set {IFACE} up",
                 f"address add {node.address}/{node.prefix} dev {IFACE}"]
        if node.role == "director":
            # The VIPs live on the director's bridge-facing interface, as keepalived puts them.
            lines += [f"address add {vip}/32 dev {IFACE}" for vip in plan.vips]
            lines.append(f"route add {plan.client_net} dev {IFACE}")
        elif node.role == "real-server":
            # DR: replies go straight to the clients on the shared segment, never via the
            # director (it owns the VIP and drops them). NAT: the director must un-NAT them.
            via = f"via {plan.director}" if topo.mode == "nat" else f"dev {IFACE}"
            lines.append(f"route add {plan.client_net} {via}")
        else:
            lines.append(f"route add default dev {IFACE}")  # everything is on the segment
        _ip_batch(lines, node.netns)
    # NAT needs the director to forward the real servers' replies; DR must not need it.
    write_sysctl(sysctl_path("net.ipv4.ip_forward"), "1" if topo.mode == "nat" else "0",
                 topo.director.netns)
    if topo.mode == "nat":
        # One-armed NAT: replies leave by the interface they came in on, so the kernel would
        # send the real servers ICMP redirects ("the client is on your link") and, once one
        # lands, they answer clients directly, un-NATed: lost replies, now and then. The LVS
        # HOWTO's rule for a one-network NAT director (the effective value is all OR the device).
        for scope in ("all", IFACE):
            write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.send_redirects"), "0",
                         topo.director.netns)


def teardown(topo: Topology) -> None:
    """Delete every namespace this run made (their links, addresses and IPVS tables go too)."""
    delete_namespaces(topo)


class Namespaced(Protocol):
    """A lab topology: the namespaces it names, and those it made that exist now."""

    created: list[str]

    @property
    def namespaces(self) -> list[str]: ...


def make_namespaces(topo: Namespaced) -> None:
    """Make every namespace the topology names, refusing any that exists already."""
    for ns in topo.namespaces:
        if (NETNS_DIR / ns).exists():
            raise HostError(f"lab: network namespace {ns} already exists; pick another prefix")
    # Record first: a failure half-way still tears down whatever was made.
    topo.created = list(topo.namespaces)
    _ip_batch(f"netns add {ns}" for ns in topo.namespaces)
    for ns in topo.namespaces:
        _quiet_ipv6(ns)


def delete_namespaces(topo: Namespaced) -> None:
    gone = [ns for ns in topo.created if (NETNS_DIR / ns).exists()]
    if gone:
        _ip_batch((f"netns delete {ns}" for ns in gone), force=True)
    topo.created = [ns for ns in gone if (NETNS_DIR / ns).exists()]


# ---- reading a node's view -------------------------------------------------------------------

def iface_bytes(netns: str, iface: str = IFACE) -> tuple[int, int]:
    """(rx, tx) byte counters of an interface, read inside its namespace.

    /sys/class/net shows the namespace sysfs was mounted in, and /proc/net the main thread's;
    /proc/thread-self/net is the calling thread's, which run_in_netns moved.
    """
    def read() -> tuple[int, int]:
        for line in Path("/proc/thread-self/net/dev").read_text().splitlines()[2:]:
            name, _, data = line.partition(":")
            if name.strip() == iface:
                fields = data.split()
                return int(fields[0]), int(fields[8])
        raise HostError(f"lab: no interface {iface} in namespace {netns}")

    return run_in_netns(netns, read)


def mac_of(netns: str, iface: str = IFACE) -> str:
    def read() -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            raw = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", iface.encode()))
        return ":".join(f"{b:02x}" for b in raw[18:24])

    return run_in_netns(netns, read)


def neighbours(netns: str, iface: str = IFACE) -> dict[str, str]:
    """The namespace's IPv4 neighbour table on iface: address -> MAC (complete entries only)."""
    def read() -> dict[str, str]:
        out = {}
        for line in Path("/proc/thread-self/net/arp").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == iface and int(parts[2], 16) & 0x2:  # ATF_COM
                out[parts[0]] = parts[3].lower()
        return out

    return run_in_netns(netns, read)


def add_loopback_vips(netns: str, vips: Iterable[str]) -> None:
    """VIPs on lo and nothing else: the classic ARP-flux mistake, made on purpose."""
    _ip_batch((f"address add {vip}/32 dev lo" for vip in vips), netns)


def arp_responders(netns: str, target: str, iface: str = IFACE, wait: float = 1.0) -> set[str]:
    """Every MAC that answers a broadcast ARP request for target, asked from netns.

    The neighbour table keeps one answer (the first); asking directly sees them all, so ARP
    flux shows up whichever machine happens to answer first.
    """
    own_mac = bytes.fromhex(mac_of(netns, iface).replace(":", ""))

    def make() -> tuple[socket.socket, bytes]:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
        sock.bind((iface, 0x0806))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            raw = fcntl.ioctl(probe.fileno(), 0x8915,  # SIOCGIFADDR
                              struct.pack("256s", iface.encode()))
        return sock, raw[20:24]

    sock, own_ip = run_in_netns(netns, make)
    want = socket.inet_aton(target)
    request = (b"\xff" * 6 + own_mac + b"\x08\x06"
               + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + own_mac + own_ip + b"\0" * 6 + want)
    found: set[str] = set()
    with sock:
        sock.send(request)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame = sock.recv(128)
            except TimeoutError:
                break
            arp = frame[14:42]
            if len(arp) == 28 and arp[6:8] == b"\x00\x02" and arp[14:18] == want:
                found.add(":".join(f"{b:02x}" for b in arp[8:14]))
    return found
