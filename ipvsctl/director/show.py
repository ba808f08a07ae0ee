"""Render the live table (`ipvsctl show`): settings, connections and traffic counters, and the
sync daemon's threads."""

from __future__ import annotations

import dataclasses
from typing import Any

from ipvsctl.model import SYNC_STATES, Connections, Observed, Stats, fields_dict

HEADER = (f"{'SERVICE / REAL SERVER':<34} {'FORWARD':<8} {'WEIGHT':>6} {'ACTIVE':>7} "
          f"{'INACT':>6} {'CONNS':>8} {'INPKTS':>10} {'OUTPKTS':>10} {'INBYTES':>12} "
          f"{'OUTBYTES':>12}")


def _counters(stats: Stats | None) -> str:
    s = stats or Stats()
    return f"{s.conns:>8} {s.inpkts:>10} {s.outpkts:>10} {s.inbytes:>12} {s.outbytes:>12}"


def show_lines(observed: Observed) -> list[str]:
    lines = [HEADER]
    for key in sorted(observed.services):
        svc = observed.services[key]
        lines.append(f"{key!s:<34} {svc.spec.describe()}")
        lines.append(f"{'':<34} {'':<8} {'':>6} {'':>7} {'':>6} {_counters(svc.stats)}")
        for rs_key in sorted(svc.real_servers):
            rs = svc.real_servers[rs_key]
            c = rs.connections or Connections()
            lines.append(f"  -> {rs.key!s:<30} {rs.spec.forward:<8} {rs.spec.weight:>6} "
                         f"{c.active:>7} {c.inactive:>6} {_counters(rs.stats)}")
    t = observed.timeouts
    lines.append(f"timeouts: tcp {t.tcp}s, tcpfin {t.tcpfin}s, udp {t.udp}s")
    for state in SYNC_STATES:
        daemon = observed.sync_daemons.get(state)
        lines.append(f"sync daemon {state}: "
                     + (daemon.describe() if daemon else "not running"))
    return lines


def show_json(observed: Observed) -> dict[str, Any]:
    services = []
    for key in sorted(observed.services):
        svc = observed.services[key]
        spec = fields_dict(svc.spec)
        spec["scheduler_flags"] = sorted(svc.spec.scheduler_flags)
        services.append({
            "key": str(key), "family": key.family, "protocol": key.protocol,
            "address": key.address or None, "port": key.port, "fwmark": key.fwmark or None,
            **spec,
            "stats": dataclasses.asdict(svc.stats) if svc.stats else None,
            "real_servers": [{
                "address": rs.key.address, "port": rs.key.port,
                **fields_dict(rs.spec),
                "connections": dataclasses.asdict(rs.connections) if rs.connections else None,
                "stats": dataclasses.asdict(rs.stats) if rs.stats else None,
            } for _, rs in sorted(svc.real_servers.items())],
        })
    return {"services": services, "timeouts": dataclasses.asdict(observed.timeouts),
            "sysctls": dict(sorted(observed.sysctls.items())),
            "sync_daemons": {state: daemon._asdict()
                             for state, daemon in sorted(observed.sync_daemons.items())}}
