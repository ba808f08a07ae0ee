"""What `status` and /metrics say about a director of a pair: its VRRP role, whether it holds
the VIPs, its health file and the kernel's sync threads.

The role is keepalived's word as the notify hook recorded it (/run/ipvsctl/vrrp[.NS]); the VIPs
being local is what decides where traffic goes, so both are shown, and VIPs held while
keepalived does not say MASTER are called out (a SIGKILLed keepalived leaves its VIPs behind).
The sync threads are read back from the kernel, never taken from the file.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Mapping

from ipvsctl.errors import HostError
from ipvsctl.ha.keepalived import vips
from ipvsctl.ha.notify import role_path
from ipvsctl.host.netns import run_in_netns
from ipvsctl.host.trust import read_trusted
from ipvsctl.metrics.provider import SYNC_THREADS, VRRP_STATES, HaFacts, SyncThread
from ipvsctl.model import Cluster, SyncDaemon

ROLE_LIMIT = 4096  # the record is one short JSON line


def read_role(netns: str | None) -> tuple[str, float | None]:
    """(state, when) from the notify hook's record; ("unknown", None) without a usable one."""
    try:
        raw = read_trusted(role_path(netns), ROLE_LIMIT)
        data = json.loads(raw) if raw else None
    except (OSError, HostError, ValueError):
        return "unknown", None
    if not isinstance(data, dict) or data.get("state") not in VRRP_STATES:
        return "unknown", None
    at = data.get("at")
    return str(data["state"]), float(at) if isinstance(at, (int, float)) else None


def local_addresses(addresses: list[str], netns: str | None) -> int:
    """How many of the addresses are local in netns: binding to one that is not fails with
    EADDRNOTAVAIL (a bind is one syscall, no address dump)."""
    def count() -> int:
        found = 0
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                try:
                    sock.bind((address, 0))
                except OSError as exc:
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise
                    continue
                found += 1
        return found

    return run_in_netns(netns, count)


def sync_threads(wanted: Mapping[str, SyncDaemon] | None,
                 running: Mapping[str, SyncDaemon]) -> tuple[SyncThread, ...]:
    """Each thread as the kernel has it, beside what the file wants (pure)."""
    out = []
    for state in SYNC_THREADS:
        have = running.get(state)
        out.append(SyncThread(state, have is not None,
                              None if wanted is None else state in wanted,
                              have.syncid if have else None, have.interface if have else None))
    return tuple(out)


def ha_facts(cluster: Cluster, node: str, netns: str | None, healthy: bool | None,
             running: Mapping[str, SyncDaemon]) -> HaFacts:
    state, since = read_role(netns)
    addresses = vips(cluster)
    try:
        local = local_addresses(addresses, netns)
    except (OSError, HostError):
        local = 0
    return HaFacts(node, state, since, len(addresses), local, healthy,
                   sync_threads(cluster.director.sync_daemons, running))
