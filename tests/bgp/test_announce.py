"""The pure step of BGP, as data: (file, health states, announced now) -> VIPs to announce."""

from __future__ import annotations

import pytest

from ipvsctl.bgp.announce import announcements, routes_of
from ipvsctl.bgp.render import Route
from ipvsctl.config import loads
from ipvsctl.director.workflow import as_node
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget, target_of
from ipvsctl.model import Cluster, RealServerKey, ServiceKey

FILE = """\
bgp:
  local_as: 65001
  neighbours: [{address: 10.10.0.1, as: 65000}]
  directors: [{name: d1, router_id: 10.10.0.101}]
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    announce: {min_healthy: 2, med: 10}
    check: {type: tcp}
    real_servers: [{address: 10.0.0.1}, {address: 10.0.0.2}, {address: 10.0.0.3},
                   {address: 10.0.0.4, state: draining}]
  - name: tls
    vip: 192.0.2.10
    port: 443
    announce: {med: 10}
    check: {type: tcp}
    real_servers: [{address: 10.0.0.1}, {address: 10.0.0.2}]
  - name: half
    vip: 192.0.2.20
    port: 80
    announce: {min_healthy: "50%"}
    check: {type: tcp}
    real_servers: [{address: 10.0.0.1}, {address: 10.0.0.2}, {address: 10.0.0.3}]
  - name: unchecked
    vip: 192.0.2.30
    port: 80
    announce: true
    real_servers: [{address: 10.0.0.1}]
  - name: empty
    vip: 192.0.2.40
    port: 80
    announce: true
    real_servers: [{address: 10.0.0.1, weight: 0}]
  - name: quiet
    vip: 192.0.2.50
    port: 80
    real_servers: [{address: 10.0.0.1}]
"""
CLUSTER: Cluster = as_node(loads(FILE, "cluster.yaml"), "d1")
WEB = ServiceKey.vip("tcp", "192.0.2.10", 80)
TLS = ServiceKey.vip("tcp", "192.0.2.10", 443)
HALF = ServiceKey.vip("tcp", "192.0.2.20", 80)


def t(key: ServiceKey, n: int) -> CheckTarget:
    rs = RealServerKey(f"10.0.0.{n}", key.port)
    return target_of(key, rs, CLUSTER.health[key].check_of(rs))


def states(**given: str) -> dict[CheckTarget, State]:
    """web1=up, tls2=down, ...: service name + real server number."""
    keys = {"web": WEB, "tls": TLS, "half": HALF}
    out = {}
    for name, state in given.items():
        out[t(keys[name[:-1]], int(name[-1]))] = State(state)
    return out


ALL_UP = states(web1="up", web2="up", web3="up", tls1="up", tls2="up", half1="up",
                half2="up", half3="up")

CASES = [
    # (id, states, announced now, VIPs announced after)
    ("start: no verdicts, nothing announced: only the unchecked VIP goes out",
     {}, set(), {"192.0.2.30"}),
    ("restart: no verdicts, kept as announced", {}, {"192.0.2.10", "192.0.2.20"},
     {"192.0.2.10", "192.0.2.20", "192.0.2.30"}),
    ("all healthy", ALL_UP, set(), {"192.0.2.10", "192.0.2.20", "192.0.2.30"}),
    ("web at its floor (2 of 3 up) stays", {**ALL_UP, **states(web3="down")}, set(),
     {"192.0.2.10", "192.0.2.20", "192.0.2.30"}),
    ("web below min_healthy 2: the VIP goes, tls on it too",
     {**ALL_UP, **states(web2="down", web3="down")}, {"192.0.2.10"},
     {"192.0.2.20", "192.0.2.30"}),
    ("tls has none: the VIP goes although web is fine",
     {**ALL_UP, **states(tls1="down", tls2="down")}, {"192.0.2.10"},
     {"192.0.2.20", "192.0.2.30"}),
    ("50% of 3 needs 2", {**ALL_UP, **states(half1="down", half2="down")}, {"192.0.2.20"},
     {"192.0.2.10", "192.0.2.30"}),
    ("undecided (one up, one unknown of two needed) keeps what is",
     states(web1="up", web2="down", tls1="up", tls2="up"), {"192.0.2.10"},
     {"192.0.2.10", "192.0.2.30"}),
    ("undecided keeps a withdrawn VIP withdrawn",
     states(web1="up", web2="down", tls1="up", tls2="up"), set(), {"192.0.2.30"}),
    ("cannot reach the floor even with every unknown up: withdrawn",
     states(web1="down", web2="down", tls1="up", tls2="up"), {"192.0.2.10"},
     {"192.0.2.30"}),
]


@pytest.mark.parametrize(("states_", "now", "after"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_cases(states_: dict[CheckTarget, State], now: set[str], after: set[str]) -> None:
    verdicts = announcements(CLUSTER, states_, now)
    assert {r.address for r in routes_of(verdicts)} == after
    assert "192.0.2.50" not in verdicts  # no announce: not BGP's
    assert not verdicts["192.0.2.40"].announce  # nothing meant to serve: never announced


def test_a_service_missing_from_the_kernel_withdraws_its_vip() -> None:
    present = set(CLUSTER.services) - {TLS}
    verdicts = announcements(CLUSTER, ALL_UP, {"192.0.2.10"}, present)
    assert not verdicts["192.0.2.10"].announce
    assert "not in the kernel table" in verdicts["192.0.2.10"].reason


def test_the_route_carries_the_services_attributes_and_reasons() -> None:
    verdicts = announcements(CLUSTER, {**ALL_UP, **states(web3="down")}, set())
    assert verdicts["192.0.2.10"].route == Route("192.0.2.10", 10, ())
    assert verdicts["192.0.2.10"].reason == (
        "tcp/192.0.2.10:80 (web): 2 of 3 healthy, min_healthy 2 needs 2; "
        "tcp/192.0.2.10:443 (tls): 2 of 2 healthy, min_healthy 1 needs 1")
