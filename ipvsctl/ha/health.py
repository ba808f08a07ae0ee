"""The health keepalived tracks: is this director fit to hold the VIPs? (the verdict is pure)

`ipvsctl run` writes "1" or "0" to /run/ipvsctl/health[.NS]; keepalived's track_file adds
`ha.health_weight` to the director's priority while it reads 1. A missing or garbled file reads
as 0 (no bonus), so a director whose `run` never started, or stopped, gives way.

Healthy means: the last write to the IPVS table succeeded; every service has at least
max(1, min_healthy) real servers whose check is UP (a real server without a check counts as
up; UNKNOWN does not, so a fresh start is not yet healthy); and, with the sync daemon on and
`sync_refresh_period` set, the warm-up is over: a director that (re)starts learns a connection
only when it carries packets after its backup thread started, so it claims the VIPs only after
two refresh periods.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ipvsctl.health.spec import NoCheck
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.host.locks import run_dir
from ipvsctl.host.records import scoped_name
from ipvsctl.host.trust import trusted_folder, write_atomic
from ipvsctl.model import Cluster


def warmup_seconds(cluster: Cluster) -> float:
    """How long a (re)started director waits for the sync daemon before claiming the VIPs."""
    ha = cluster.ha
    if ha is None or ha.sync is None or not ha.sync.enabled:
        return 0.0
    period = cluster.director.sysctls.get("sync_refresh_period", 0)
    return 2.0 * period if isinstance(period, int) else 0.0


def verdict(cluster: Cluster, states: Mapping[CheckTarget, State], uptime: float,
            table_ok: bool = True) -> tuple[bool, str]:
    """(healthy, why in words) for the file as this director runs it; `table_ok`: the last
    write to the IPVS table succeeded (a director that cannot forward must give way)."""
    if not table_ok:
        return False, "the last write to the IPVS table failed"
    warm = warmup_seconds(cluster)
    if uptime < warm:
        return False, f"sync warm-up: {warm - uptime:.0f} of {warm:.0f} s left"
    for key, service in cluster.services.items():
        rules = cluster.health.get(key)
        total = len(service.real_servers)
        if rules is None or not total:
            continue
        up = 0
        for rs_key in service.real_servers:
            spec = rules.check_of(rs_key)
            if isinstance(spec, NoCheck) or states.get(target_of(key, rs_key, spec)) \
                    is State.UP:
                up += 1
        needed = max(1, rules.min_healthy.needed(total))
        if up < needed:
            name = service.name or str(key)
            return False, f"service {name}: {up} of {total} real servers up, {needed} needed"
    return True, f"{len(cluster.services)} services have enough real servers up"


def write(netns: str | None, healthy: bool) -> Path:
    """Replace the health file atomically (tmp + rename: keepalived's inotify sees one
    change, never a half-written file) in the root-only run folder."""
    folder = trusted_folder(run_dir(), create=True, mode=0o700)
    assert folder is not None  # create=True makes it or raises
    return write_atomic(folder, scoped_name("health", netns), b"1\n" if healthy else b"0\n")
