"""Render a Cluster back to cluster-file YAML (`ipvsctl export`, importers).

Minimal (values equal to the defaults are left out), stably ordered (services and real servers by
address, numerically), and faithful: `loads(dump(c))` gives back the same services.
"""

from __future__ import annotations

import ipaddress
import re
import socket
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
    doc = _document(cluster, health)
    text = _emit(doc)
    return text if text is not None else _yaml_dump(doc)


def _document(cluster: Cluster,
              health: Mapping[ServiceKey, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    health = health or {}
    doc: dict[str, Any] = {}
    if scope := _scope(cluster.scope):
        doc["scope"] = scope
    if director := _director(cluster.director):
        doc["director"] = director
    services = sorted(cluster.services.values(), key=lambda s: _service_order(s.key))
    doc["services"] = [_service(service, health.get(service.key)) for service in services]
    return doc


def _yaml_dump(doc: dict[str, Any]) -> str:
    """PyYAML's emitter: the reference the fast emitter below must match byte for byte."""
    return str(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=100))


def _address_order(address: str) -> int:
    try:  # inet_pton in C; the same number ipaddress gives for every address it accepts
        return int.from_bytes(socket.inet_pton(
            socket.AF_INET6 if ":" in address else socket.AF_INET, address), "big")
    except OSError:
        return int(ipaddress.ip_address(address))


def _real_server_order(address: str, port: int) -> tuple[int, int, int]:
    return (6 if ":" in address else 4, _address_order(address), port)  # validated addresses


def _service_order(key: ServiceKey) -> tuple[int, int, int, str, int]:
    if key.is_fwmark:
        return (1, key.family, key.fwmark, "", 0)
    return (0, key.family, _address_order(key.address), key.protocol, key.port)


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
        out["sysctls"] = {name: _FlowList(v) if isinstance(v, tuple) else v
                          for name, v in sorted(director.sysctls.items())}
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
                          key=lambda rs: _real_server_order(rs.key.address, rs.key.port))
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


# The fast emitter. PyYAML's pure-Python emitter costs ~0.5 ms per service (an event, a node and
# a scalar analysis per value); the documents above have a handful of shapes, written here
# directly. Every scalar is still written as PyYAML writes it (asked of PyYAML once per distinct
# value and context); whatever this emitter is not sure of (a line near the width where PyYAML
# would wrap, a multi-line scalar, an empty block, an unknown type) makes it give up, and the
# whole document goes through PyYAML instead. tests/config/test_dumper.py compares both.

# PyYAML (width=100) breaks a line only once its column is past 100, and each such test comes
# before the rest of that line is written: a line no longer than 100 was never broken.
_WIDTH = 100
_KEY, _BLOCK, _FLOW = 0, 1, 2
_BREAKS = "\n\r\x85\u2028\u2029"
# PyYAML's answer per string, one table per context (_KEY, _BLOCK, _FLOW); None: give up
_scalars: tuple[dict[str, str | None], ...] = ({}, {}, {})
_UNASKED: Any = object()


class _GiveUp(Exception):
    pass


def _scalar(value: Any, context: int) -> str:
    kind = type(value)
    if kind is str:
        answers = _scalars[context]
        got: str | None = answers.get(value, _UNASKED)
        if got is _UNASKED:
            if len(answers) > 100_000:
                answers.clear()
            got = _known(value, context)
            if got is None:
                got = _ask_yaml(value, context)
            answers[value] = got
        if got is None:
            raise _GiveUp
        return got
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    raise _GiveUp


# The kinds of string a cluster file is mostly made of, answered without asking PyYAML
# (tests/config/test_dumper.py checks the answers against _ask_yaml): an IPv4 address and a word
# PyYAML writes plain everywhere (a name, a keyword) unless it reads as another type (`true`,
# `1.5`); an IPv6 address, plain in block context but quoted in flow context (its colons).
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){2,}\Z")  # an IPv4 address: no YAML type has two dots
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\Z")
_IPV6 = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*[0-9A-Fa-f.]\Z")  # a final colon: a key
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def _plain_is_str(value: str) -> bool:
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag == _STR


def _known(value: str, context: int) -> str | None:
    if _DOTTED.match(value):
        return value
    if _WORD.match(value):
        return value if _plain_is_str(value) else None
    if _IPV6.match(value):
        if context == _FLOW:
            return f"'{value}'"
        return value if _plain_is_str(value) else f"'{value}'"
    return None


def _ask_yaml(value: str, context: int) -> str | None:
    """How PyYAML writes this string as a mapping key, a block value or a flow value."""
    if context == _KEY:
        text, head, tail = _yaml_dump({value: 0}), "", ": 0\n"
    elif context == _BLOCK:
        text, head, tail = _yaml_dump({"k": value}), "k: ", "\n"
    else:
        text, head, tail = _yaml_dump({"k": _Flow(k=value)}), "k: {k: ", "}\n"
    if not (text.startswith(head) and text.endswith(tail)):
        return None
    out = text[len(head):len(text) - len(tail)]
    # A break of any kind (YAML's own line breaks included) depends on the indentation.
    return None if not out or any(c in out or c in value for c in _BREAKS) else out


def _flow(value: Any) -> str:
    kind = type(value)
    if kind is _Flow:
        return "{" + ", ".join(f"{_scalar(k, _FLOW)}: {_scalar(v, _FLOW)}"
                               for k, v in value.items()) + "}"
    if kind is _FlowList:
        return "[" + ", ".join(_scalar(v, _FLOW) for v in value) + "]"
    if (kind is dict or kind is list) and not value:
        return "{}" if kind is dict else "[]"
    return _scalar(value, _BLOCK)


def _mapping(out: list[str], doc: dict[str, Any], indent: str, first: str) -> None:
    """A block mapping; its first line starts with `first` (a list item's dash)."""
    lead = first
    for key, value in doc.items():
        head = f"{lead}{_scalar(key, _KEY)}:"
        lead = indent
        kind = type(value)
        if kind is dict and value:
            out.append(head)
            _mapping(out, value, indent + "  ", indent + "  ")
        elif kind is list and value:
            out.append(head)
            item = indent + "  - "
            inner = indent + "    "
            for entry in value:
                if type(entry) is dict and entry:
                    _mapping(out, entry, inner, item)
                else:
                    out.append(item + _flow(entry))
        else:
            out.append(f"{head} {_flow(value)}")


def _emit(doc: dict[str, Any]) -> str | None:
    out: list[str] = []
    try:
        _mapping(out, doc, "", "")
    except _GiveUp:
        return None
    if out and max(map(len, out)) > _WIDTH:
        return None
    out.append("")
    return "\n".join(out)
