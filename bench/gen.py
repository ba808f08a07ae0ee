"""Generate the benchmark's table: N services x M DR real servers, as a cluster file and as the
equivalent `ipvsadm -R` input, both from the same data.

    python bench/gen.py N M OUT_DIR   ->  OUT_DIR/cluster.{json,yaml}, OUT_DIR/restore.txt

VIPs count up from 10.0.0.0, real servers from 10.128.0.0 (disjoint, all unicast); weights
cycle 1..M so the table is not uniform. The YAML is in the layout `ipvsctl export` writes; the
JSON holds the same data, one real server a line, as a generator script would write it.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator
from pathlib import Path

VIP0 = int(ipaddress.IPv4Address("10.0.0.0"))
RIP0 = int(ipaddress.IPv4Address("10.128.0.0"))
PORT = 80


def table(services: int, per: int) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """(vip, [(real server address, weight), ...]) for each service."""
    for i in range(services):
        vip = str(ipaddress.IPv4Address(VIP0 + i))
        yield vip, [(str(ipaddress.IPv4Address(RIP0 + i * per + j)), 1 + j) for j in range(per)]


def cluster_yaml(services: int, per: int, changed: int | None = None) -> str:
    """The cluster file; `changed` bumps the first real server's weight of that service."""
    lines = ["services:"]
    for i, (vip, servers) in enumerate(table(services, per)):
        lines += [f"  - vip: {vip}", f"    port: {PORT}", "    scheduler: wrr",
                  "    real_servers:"]
        for j, (rip, weight) in enumerate(servers):
            if i == changed and j == 0:
                weight += 100
            lines.append(f"      - {{address: {rip}, weight: {weight}}}")
    return "\n".join(lines) + "\n"


def cluster_json(services: int, per: int, changed: int | None = None) -> str:
    """The same cluster file as JSON (which is YAML too)."""
    out = []
    for i, (vip, servers) in enumerate(table(services, per)):
        rs = []
        for j, (rip, weight) in enumerate(servers):
            if i == changed and j == 0:
                weight += 100
            rs.append(f'   {{"address": "{rip}", "weight": {weight}}}')
        out.append(f' {{"vip": "{vip}", "port": {PORT}, "scheduler": "wrr", "real_servers": [\n'
                   + ",\n".join(rs) + "]}")
    return '{"services": [\n' + ",\n".join(out) + "\n]}\n"


def vips(count: int) -> list[str]:
    """Addresses for backend-setup (198.18.0.0/15, the benchmarking range)."""
    base = int(ipaddress.IPv4Address("198.18.0.1"))
    return [str(ipaddress.IPv4Address(base + i)) for i in range(count)]


def restore_text(services: int, per: int) -> str:
    """The same table as `ipvsadm -R` input (what `ipvsadm -Sn` prints for it)."""
    lines = []
    for vip, servers in table(services, per):
        lines.append(f"-A -t {vip}:{PORT} -s wrr")
        lines += [f"-a -t {vip}:{PORT} -r {rip}:{PORT} -g -w {weight}"
                  for rip, weight in servers]
    return "\n".join(lines) + "\n"


def main() -> None:
    services, per, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster.yaml").write_text(cluster_yaml(services, per))
    (out / "cluster.json").write_text(cluster_json(services, per))
    (out / "restore.txt").write_text(restore_text(services, per))


if __name__ == "__main__":
    main()
