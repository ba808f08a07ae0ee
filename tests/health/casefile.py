"""Health-step cases as data: the planner cases' notation plus checks, states and rules.

    health:
      tcp/192.0.2.10:80:
        check: {type: tcp, via: address}        # every real server's check...
        checks: {10.0.0.12:80: {type: none}}    # ...unless one says otherwise
        min_healthy: 2          # or "50%"
        sorry_server: {address: 10.0.0.99, port: 80, forward: nat}
    states: {tcp/192.0.2.10:80 -> 10.0.0.11:80: down}
"""

from __future__ import annotations

from typing import Any

from ipvsctl.health import CHECK_TYPES, CheckSpec, MinHealthy, ServiceHealth, State
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.model import Cluster, ServiceKey
from tests.director.casefile import real_server, rs_key, service_key


def spec(data: dict[str, Any]) -> CheckSpec:
    data = dict(data)
    kind = data.pop("type")
    if kind == "https":
        data["tls"] = True
    for name in ("status",):
        if name in data:
            data[name] = tuple(tuple(r) for r in data[name])
    if "argv" in data:
        data["argv"] = tuple(data["argv"])
    for name in ("payload", "expect"):
        if isinstance(data.get(name), str):
            data[name] = data[name].encode()
    return CHECK_TYPES[kind](**data)


def min_healthy(value: Any) -> MinHealthy:
    if isinstance(value, str) and value.endswith("%"):
        return MinHealthy(percent=float(value[:-1]))
    return MinHealthy(count=int(value))


def health(case: dict[str, Any], cluster: Cluster) -> dict[ServiceKey, ServiceHealth]:
    out: dict[ServiceKey, ServiceHealth] = {}
    for text, rules in (case.get("health") or {}).items():
        key = service_key(text)
        service = cluster.services[key]
        common = rules.get("check")
        per = {rs_key(k): spec(v) for k, v in (rules.get("checks") or {}).items()}
        checks = {}
        for rs in service.real_servers:
            if rs in per:
                checks[rs] = per[rs]
            elif common is not None:
                checks[rs] = spec(common)
        sorry = rules.get("sorry_server")
        sorry_rs = None
        if sorry is not None:
            sorry = dict(sorry)
            key_text = f"{sorry.pop('address')}:{sorry.pop('port')}"
            sorry_rs = real_server(key_text, sorry)
        out[key] = ServiceHealth(checks, min_healthy(rules.get("min_healthy", 1)), sorry_rs)
    return out


def states(case: dict[str, Any], rules: dict[ServiceKey, ServiceHealth]
           ) -> dict[CheckTarget, State]:
    out: dict[CheckTarget, State] = {}
    for text, state in (case.get("states") or {}).items():
        service_text, rs_text = (part.strip() for part in text.split("->"))
        key, rs = service_key(service_text), rs_key(rs_text)
        out[target_of(key, rs, rules[key].check_of(rs))] = State(state)
    return out
