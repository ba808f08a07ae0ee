"""Planner cases as data: a compact notation for desired and observed state.

Keys are written the way ipvsctl prints them ("tcp/192.0.2.10:80", "fwmark/7/ipv6",
"10.0.0.11:80", "[2001:db8::11]:53"), so a case reads like the plan it expects.
"""

from __future__ import annotations

from typing import Any

from ipvsctl.model import (
    Cluster,
    Connections,
    Director,
    Observed,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Scope,
    Service,
    ServiceKey,
    ServiceSpec,
    SyncDaemon,
    SysctlValue,
    Timeouts,
    Tunnel,
)


def service_key(text: str) -> ServiceKey:
    proto, rest = text.split("/", 1)
    if proto == "fwmark":
        mark, _, fam = rest.partition("/")
        return ServiceKey.mark(int(mark), 6 if fam == "ipv6" else 4)
    addr, port = rest.rsplit(":", 1)
    return ServiceKey.vip(proto, addr.strip("[]"), int(port))


def rs_key(text: str) -> RealServerKey:
    addr, port = text.rsplit(":", 1)
    return RealServerKey.of(addr.strip("[]"), int(port))


def real_server(key: str, data: dict[str, Any] | None) -> RealServer:
    data = dict(data or {})
    conns = data.pop("connections", None)
    draining = bool(data.pop("draining", False))
    tunnel = data.pop("tunnel", None)
    spec = RealServerSpec(**data, tunnel=Tunnel(**tunnel) if tunnel else None)
    return RealServer(rs_key(key), spec, draining=draining,
                      connections=Connections(**conns) if conns else Connections())


def service(key: str, data: dict[str, Any] | None) -> Service:
    data = dict(data or {})
    rss = data.pop("real_servers", {}) or {}
    name = data.pop("name", None)
    pers = data.pop("persistence", None)
    flags = frozenset(data.pop("scheduler_flags", []))
    spec = ServiceSpec(**data, scheduler_flags=flags,
                       persistence=Persistence(**pers) if pers else None)
    servers = [real_server(k, v) for k, v in rss.items()]
    return Service(service_key(key), spec, {r.key: r for r in servers}, name=name)


def services(data: dict[str, Any] | None) -> dict[ServiceKey, Service]:
    built = [service(k, v) for k, v in (data or {}).items()]
    return {s.key: s for s in built}


def desired(case: dict[str, Any]) -> Cluster:
    scope = case.get("scope") or {}
    return Cluster(
        services=services(case.get("desired")),
        director=Director(timeouts=Timeouts(**(case.get("timeouts") or {})),
                          sysctls=sysctls(case.get("sysctls")),
                          drain_timeout=case.get("drain_timeout"),
                          interface_sysctls=interface_sysctls(case.get("interface_sysctls")),
                          sync_daemons=sync_daemons(case.get("sync_daemons"))
                          if "sync_daemons" in case else None),
        scope=Scope(tuple(scope.get("networks", ())),
                    tuple(tuple(r) for r in scope.get("fwmarks", ()))),
        path="cluster.yaml",
    )


def observed(case: dict[str, Any]) -> Observed:
    return Observed(services=services(case.get("observed")),
                    timeouts=Timeouts(**(case.get("observed_timeouts") or
                                         {"tcp": 900, "tcpfin": 120, "udp": 300})),
                    sysctls=sysctls(case.get("observed_sysctls")),
                    interface_sysctls=interface_sysctls(case.get("observed_interface_sysctls")),
                    sync_daemons=sync_daemons(case.get("observed_sync_daemons")))


def sysctls(data: dict[str, Any] | None) -> dict[str, SysctlValue]:
    """A list stands for a two-number sysctl (sync_threshold: [3, 50])."""
    return {name: (value[0], value[1]) if isinstance(value, list) else value
            for name, value in (data or {}).items()}


def interface_sysctls(data: dict[str, int] | None) -> dict[tuple[str, str], int]:
    """{"eth0.accept_local": 1} -> {("eth0", "accept_local"): 1}"""
    return {tuple(k.rsplit(".", 1)): v for k, v in (data or {}).items()}  # type: ignore[misc]


def sync_daemons(data: dict[str, Any] | None) -> dict[str, SyncDaemon]:
    """{master: {interface: eth0, syncid: 7, ...}, backup: ...}: threads by state."""
    return {state: SyncDaemon(state, **fields) for state, fields in (data or {}).items()}
