"""Which of the file's directors this host is, and what that director runs (pure).

A node is chosen by a director's name or hostname (`--node`), else by the host's own name:
the full name first, then its first label, so `lb1.example.net` finds a director named `lb1`.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from ipvsctl.errors import ConfigError
from ipvsctl.model import SYNC_STATES, Bgp, BgpDirector, Cluster, Ha, HaDirector, SyncDaemon


def choose(ha: Ha, node: str | None, hostname: str, path: str | None = None) -> HaDirector:
    """The director `node` names (by name or hostname), or this host's when node is None."""
    return _pick(ha.directors, "ha.directors", node, hostname, path)


def choose_bgp(bgp: Bgp, node: str | None, hostname: str, path: str | None = None
               ) -> BgpDirector:
    """The same choice among `bgp.directors`: one file serves every director of the ECMP set."""
    return _pick(bgp.directors, "bgp.directors", node, hostname, path)


_D = TypeVar("_D", HaDirector, BgpDirector)


def _pick(directors: tuple[_D, ...], section: str, node: str | None, hostname: str,
          path: str | None) -> _D:
    label = path or "the cluster file"
    wanted = [node] if node is not None else [hostname, hostname.split(".", 1)[0]]
    for text in wanted:
        for director in directors:
            if text in (director.name, director.hostname):
                return director
    known = ", ".join(d.name + (f" ({d.hostname})" if d.hostname else "") for d in directors)
    if node is not None:
        raise ConfigError([f"--node {node}: no director of {label} has that name or hostname "
                           f"({section}: {known})"])
    raise ConfigError([f"this host ({hostname}) is none of the directors of {label} "
                       f"({section}: {known}); pass --node NAME"])


def sync_daemons(ha: Ha, director: HaDirector) -> dict[str, SyncDaemon] | None:
    """The sync threads `director` runs: both (master and backup) on every director, so
    connections flow whichever holds the VIPs and no role change has to touch the kernel;
    none with `sync: false`; None (not managed) without `sync`."""
    sync = ha.sync
    if sync is None:
        return None
    if not sync.enabled:
        return {}
    interface = sync.interface or director.interface
    return {state: SyncDaemon(state, interface, sync.syncid, sync.maxlen, sync.port, sync.ttl,
                              sync.group) for state in SYNC_STATES}


def for_node(cluster: Cluster, director: HaDirector) -> Cluster:
    """The cluster as `director` applies it: its sync threads become director settings."""
    if cluster.ha is None:
        return cluster
    settings = dataclasses.replace(cluster.director,
                                   sync_daemons=sync_daemons(cluster.ha, director))
    return dataclasses.replace(cluster, director=settings)
