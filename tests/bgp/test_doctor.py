"""doctor's rules for several directors sharing VIPs over ECMP, on plain facts."""

from __future__ import annotations

from ipvsctl.config import loads
from ipvsctl.director.doctor import diagnose
from ipvsctl.director.workflow import as_node
from ipvsctl.plan.findings import Finding
from tests.director.test_doctor import facts

FILE = """
bgp:
  local_as: 65001
  neighbours: [{address: 10.10.0.1, as: 65000}]
  directors:
    - {name: d1, router_id: 10.10.0.101}
    - {name: d2, router_id: 10.10.0.102}
services:
  - {vip: 192.0.2.10, port: 80, scheduler: mh, scheduler_flags: [mh-port], announce: true,
     real_servers: [{address: 10.0.0.11}]}
  - {vip: 192.0.2.20, port: 80, scheduler: wrr, announce: true,
     real_servers: [{address: 10.0.0.11}]}
  - {vip: "2001:db8::30", port: 80, scheduler: mh, announce: true,
     real_servers: [{address: "2001:db8:1::11"}]}
  - {vip: 192.0.2.40, port: 80, real_servers: [{address: 10.0.0.11}]}
"""
ADDRESSES = {"192.0.2.10": "lo", "192.0.2.20": "lo", "2001:db8::30": "lo", "192.0.2.40": "lo"}


def findings(text: str, **over: object) -> dict[str, Finding]:
    cluster = as_node(loads(text, "cluster.yaml"), "d1")
    found = diagnose(facts(addresses=ADDRESSES, **over), cluster)
    return {f.subject: f for f in found}


def test_shared_vips_want_mh_and_sloppy_tcp_and_the_router_advice() -> None:
    got = findings(FILE)
    wrr = got["service tcp/192.0.2.20:80"]
    assert wrr.level == "warn" and "2 directors share VIP 192.0.2.20" in wrr.message
    assert "scheduler: mh" in (wrr.fix or "")
    assert "service tcp/192.0.2.10:80" not in got  # mh with mh-port: nothing to say
    assert got["service tcp/[2001:db8::30]:80"].level == "ok"  # mh without mh-port: a note
    sloppy = got["net.ipv4.vs.sloppy_tcp"]
    assert sloppy.level == "warn" and "sloppy_tcp: 1" in (sloppy.fix or "")
    router = got["router"]
    assert router.level == "warn" and "fib_multipath_hash_policy=1" in router.message
    v6 = got["VIP 2001:db8::30"]
    assert v6.level == "warn" and "no IPv6 neighbour" in v6.message
    assert got["bird"].level == "ok"


def test_sloppy_tcp_on_or_declared_is_fine_and_one_director_shares_nothing() -> None:
    assert findings(FILE, vs_sysctls={"sloppy_tcp": 1})["net.ipv4.vs.sloppy_tcp"].level == "ok"
    declared = FILE.replace("services:", "director: {sysctls: {sloppy_tcp: 1}}\nservices:")
    assert findings(declared)["net.ipv4.vs.sloppy_tcp"].level == "ok"
    alone = FILE.replace("    - {name: d2, router_id: 10.10.0.102}\n", "")
    got = findings(alone)
    assert "net.ipv4.vs.sloppy_tcp" not in got and "service tcp/192.0.2.20:80" not in got
    assert got["router"].level == "warn"


def test_missing_bird_fails() -> None:
    assert findings(FILE, bird=False)["bird"].level == "fail"
