"""A client and a real server joined by a bridge, each in its own namespace (host root untouched).

    client (c0 10.99.0.1/24) --veth-- [bridge ns: br0] --veth-- (r0 10.99.0.2/24) real server
"""

from __future__ import annotations

import glob
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ipvsctl.host.netns import run_in_netns
from tests.helpers import run

CLIENT_IP, RS_IP = "10.99.0.1", "10.99.0.2"
CONF_KEYS = ("arp_ignore", "arp_announce", "rp_filter", "proxy_arp")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Lab:
    client: str
    rs: str
    bridge: str
    rs_mac: str


@pytest.fixture
def state_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep records and locks in the test's own folder (also for CLI subprocesses)."""
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    return tmp_path


@pytest.fixture
def lab(netns_factory: Callable[[], str], state_dirs: Path) -> Lab:
    client, rs, bridge = netns_factory(), netns_factory(), netns_factory()
    ip = ["ip", "-n", bridge]
    run([*ip, "link", "add", "br0", "type", "bridge"])
    run([*ip, "link", "set", "br0", "up"])
    for ns, dev, peer, addr in ((client, "c0", "bc0", CLIENT_IP), (rs, "r0", "br0r", RS_IP)):
        run([*ip, "link", "add", peer, "type", "veth", "peer", "name", dev, "netns", ns])
        run([*ip, "link", "set", peer, "master", "br0", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev])
        run(["ip", "-n", ns, "link", "set", dev, "up"])
    run(["ip", "-n", rs, "route", "add", "default", "via", CLIENT_IP])
    settle_link_local(rs, "r0")
    settle_link_local(client, "c0")
    link = json.loads(run(["ip", "-n", rs, "-j", "link", "show", "r0"]).stdout)[0]
    return Lab(client, rs, bridge, link["address"])


def ipvsctl(*args: str, check: bool = True) -> Any:
    """The real CLI, as an operator runs it."""
    proc = run([sys.executable, "-m", "ipvsctl", *args], check=False)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc


def sysctl_snapshot(netns: str | None) -> dict[str, str]:
    def read() -> dict[str, str]:
        out = {}
        for key in CONF_KEYS:
            for path in glob.glob(f"/proc/sys/net/ipv4/conf/*/{key}"):
                out[path] = Path(path).read_text().strip()
        return out

    return run_in_netns(netns, read)


def addr_snapshot(netns: str) -> set[tuple[str, str, int]]:
    data = json.loads(run(["ip", "-n", netns, "-j", "addr"]).stdout)
    return {(link["ifname"], a["local"], a["prefixlen"])
            for link in data for a in link.get("addr_info", [])}


def settle_link_local(netns: str, *ifaces: str, timeout: float = 5.0) -> None:
    """Wait until the kernel has given each interface its IPv6 link-local address, which it adds
    a moment after the link comes up: an address snapshot taken before would race it."""

    def ipv6_on(iface: str) -> bool:
        path = Path(f"/proc/sys/net/ipv6/conf/{iface}/disable_ipv6")
        return run_in_netns(netns, lambda: path.exists() and path.read_text().strip() == "0")

    wanted = {i for i in ifaces if ipv6_on(i)}
    deadline = time.monotonic() + timeout
    while True:
        have = {name for name, addr, _ in addr_snapshot(netns) if addr.startswith("fe80:")}
        if wanted <= have:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{netns}: no IPv6 link-local address on "
                                 f"{sorted(wanted - have)} after {timeout} s")
        time.sleep(0.05)


@dataclass
class Snapshot:
    rs_sysctls: dict[str, str]
    rs_addrs: set[tuple[str, str, int]]
    client_sysctls: dict[str, str]
    root_sysctls: dict[str, str]


def snapshot(lab: Lab) -> Snapshot:
    return Snapshot(sysctl_snapshot(lab.rs), addr_snapshot(lab.rs), sysctl_snapshot(lab.client),
                    sysctl_snapshot(None))


def neighbour_after_probe(lab: Lab, vip: str, wait: float = 5.0) -> dict[str, Any]:
    """Make the client resolve vip on-link; return its neighbour entry once settled."""
    run(["ip", "-n", lab.client, "neigh", "flush", "dev", "c0"])

    def poke() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"arp?", (vip, 9))

    run_in_netns(lab.client, poke)
    deadline = time.monotonic() + wait
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = json.loads(run(["ip", "-n", lab.client, "-j", "neigh", "show", "to", vip,
                                "dev", "c0"]).stdout)
        entry = found[0] if found else {}
        state = entry.get("state", [])
        if "REACHABLE" in state or "FAILED" in state:
            return entry
        time.sleep(0.1)
    return entry


def tcp_roundtrip(lab: Lab, vip: str, port: int = 8080) -> bytes:
    """Listen on vip:port in the real server; connect from the client; return the echo."""
    def listen() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((vip, port))
        s.listen(1)
        return s

    server = run_in_netns(lab.rs, listen)
    got: dict[str, bytes] = {}

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello from " + conn.getsockname()[0].encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def connect() -> None:
        with socket.create_connection((vip, port), timeout=5) as c:
            got["data"] = c.recv(100)

    try:
        run_in_netns(lab.client, connect)
    finally:
        server.close()
    thread.join(timeout=5)
    return got.get("data", b"")
