"""Render a Cluster back to cluster-file YAML (`ipvsctl export`, importers).

Minimal (values equal to the defaults are left out), stably ordered (services and real servers by
address, numerically), and faithful: `loads(dump(c))` gives back the same services.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import yaml

from ipvsctl.model import (
    DEFAULT_FORWARD,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_SCHEDULER,
    DEFAULT_WEIGHT,
    Cluster,
    Director,
    Persistence,
    RealServer,
    Scope,
    Service,
    ServiceKey,
    Tunnel,
)


class _Flow(dict[str, Any]):
    """A mapping written on one line: `{address: 10.0.0.11, weight: 2}`."""


class _FlowList(list[Any]):
    """A list written on one line: `[mh-port, mh-fallback]`."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them.
        super().increase_indent(flow, False)


_Dumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def dump(cluster: Cluster, health: Mapping[ServiceKey, Mapping[str, Any]] | None = None) -> str:
    """The cluster as cluster-file YAML text. `health`: per service, the cluster-file values of
    its `check`, `min_healthy` and `sorry_server`, and of its real servers' own checks under
    `checks` (by real server, as `str(RealServerKey)`), written as given (the importers')."""
    doc: dict[str, Any] = {}
    if scope := _scope(cluster.scope):
        doc["scope"] = scope
    if director := _director(cluster.director):
        doc["director"] = director
    services = sorted(cluster.services.values(), key=lambda s: _service_order(s.key))
    health = health or {}
    doc["services"] = [_service(service, health.get(service.key)) for service in services]
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)
    return str(text)


def _service_order(key: ServiceKey) -> tuple[int, int, int, str, int]:
    if key.is_fwmark:
        return (1, key.family, key.fwmark, "", 0)
    return (0, key.family, int(ipaddress.ip_address(key.address)), key.protocol, key.port)


def _scope(scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scope.networks:
        out["vips"] = _FlowList(scope.networks)
    if scope.fwmarks:
        out["fwmarks"] = _FlowList(lo if lo == hi else f"{lo}-{hi}" for lo, hi in scope.fwmarks)
    return out


def _director(director: Director) -> dict[str, Any]:
    out: dict[str, Any] = {}
    timeouts = {name: getattr(director.timeouts, name) for name in ("tcp", "tcpfin", "udp")
                if getattr(director.timeouts, name) is not None}
    if timeouts:
        out["timeouts"] = _Flow(timeouts)
    if director.sysctls:
        out["sysctls"] = dict(sorted(director.sysctls.items()))
    if director.drain_timeout is not None:
        out["drain_timeout"] = director.drain_timeout
    return out


def _service(service: Service, health: Mapping[str, Any] | None = None) -> dict[str, Any]:
    key, spec = service.key, service.spec
    out: dict[str, Any] = {}
    if service.name:
        out["name"] = service.name
    if key.is_fwmark:
        out["fwmark"] = key.fwmark
        if key.family == 6:
            out["family"] = "ipv6"
    else:
        out["vip"] = key.address
        out["port"] = key.port
        if key.protocol != "tcp":
            out["protocol"] = key.protocol
    if spec.scheduler != DEFAULT_SCHEDULER:
        out["scheduler"] = spec.scheduler
    if spec.scheduler_flags:
        out["scheduler_flags"] = _FlowList(sorted(spec.scheduler_flags))
    if spec.persistence is not None:
        out["persistence"] = _persistence(spec.persistence, key.family)
    if spec.one_packet:
        out["one_packet"] = True
    health = health or {}
    if "check" in health:
        out["check"] = _check(health["check"])
    if "min_healthy" in health:
        out["min_healthy"] = health["min_healthy"]
    if "sorry_server" in health:
        out["sorry_server"] = _Flow(health["sorry_server"])
    checks: Mapping[str, Any] = health.get("checks", {})
    real_servers = sorted(service.real_servers.values(),
                          key=lambda rs: (rs.key.family, int(ipaddress.ip_address(rs.key.address)),
                                          rs.key.port))
    if real_servers:
        out["real_servers"] = [_real_server(rs, key, checks.get(str(rs.key)))
                               for rs in real_servers]
    return out


def _check(check: Mapping[str, Any]) -> dict[str, Any]:
    """A check on one line while it stays short (about 70 characters), else one key a line;
    its lists (status codes, argv) on one line."""
    out = {name: _FlowList(value) if isinstance(value, (list, tuple)) else value
           for name, value in check.items()}
    width = sum(len(str(name)) + len(str(value)) + 4 for name, value in out.items())
    return _Flow(out) if width <= 70 else out


def _persistence(persistence: Persistence, family: int) -> Any:
    out: dict[str, Any] = {}
    if persistence.timeout != DEFAULT_PERSISTENCE_TIMEOUT:
        out["timeout"] = persistence.timeout
    if persistence.prefix_len != (128 if family == 6 else 32):
        out["netmask"] = persistence.prefix_len
    if persistence.engine:
        out["engine"] = persistence.engine
    return _Flow(out) if out else True


def _real_server(rs: RealServer, service: ServiceKey,
                 check: Mapping[str, Any] | None = None) -> dict[str, Any]:
    spec = rs.spec
    out: dict[str, Any] = {"address": rs.key.address}
    if rs.key.port != service.port:
        out["port"] = rs.key.port
    if rs.draining:
        out["state"] = "draining"  # the loader forces weight 0
    elif spec.weight != DEFAULT_WEIGHT:
        out["weight"] = spec.weight
    if spec.forward != DEFAULT_FORWARD:
        out["forward"] = spec.forward
    if spec.tunnel is not None and spec.tunnel != Tunnel():
        tunnel: dict[str, Any] = {"type": spec.tunnel.type}
        if spec.tunnel.type == "gue":
            tunnel["port"] = spec.tunnel.port
        if spec.tunnel.csum != "nocsum":
            tunnel["csum"] = spec.tunnel.csum
        out["tunnel"] = _Flow(tunnel)
    if spec.upper_threshold:
        out["upper_threshold"] = spec.upper_threshold
    if spec.lower_threshold:
        out["lower_threshold"] = spec.lower_threshold
    if check is not None:
        out["check"] = _check(check)
    # One line per real server while it stays short; longer ones read better as blocks.
    return _Flow(out) if len(out) <= 4 and "tunnel" not in out and check is None else out


def real_server_fields(rs: RealServer, service: ServiceKey) -> dict[str, Any]:
    """A real server's cluster-file values as `dump` writes them (for a sorry server)."""
    return dict(_real_server(rs, service))
