"""Good cluster files load into normalised models: every default filled, every value placed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipvsctl.config import dump, load, loads
from ipvsctl.errors import ConfigError
from ipvsctl.model import (
    Cluster,
    Director,
    HaDirector,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Scope,
    ServiceKey,
    ServiceSpec,
    SyncSettings,
    Timeouts,
    Tunnel,
)

HERE = Path(__file__).parent
FULL = HERE / "good" / "full.yaml"
EXAMPLE = HERE.parent.parent / "examples" / "cluster.yaml"


def rs(cluster: Cluster, service: ServiceKey, address: str, port: int) -> RealServer:
    return cluster.services[service].real_servers[RealServerKey(address, port)]


def test_minimal_file_fills_every_default() -> None:
    text = "services:\n  - vip: 192.0.2.10\n    port: 80\n    real_servers:\n" \
           "      - address: 10.0.0.11\n"
    cluster = loads(text, path="min.yaml")
    key = ServiceKey(4, "tcp", "192.0.2.10", 80, 0)
    assert list(cluster.services) == [key]
    service = cluster.services[key]
    assert service.spec == ServiceSpec("wrr", frozenset(), None, False)
    assert service.name is None
    assert service.source == "min.yaml:2:5"
    server = service.real_servers[RealServerKey("10.0.0.11", 80)]
    assert server.spec == RealServerSpec(weight=1, forward="dr", upper_threshold=0,
                                         lower_threshold=0, tunnel=None)
    assert server.draining is False
    assert server.source == "min.yaml:5:9"
    assert cluster.director == Director(Timeouts(None, None, None), {}, None)
    assert cluster.scope == Scope((), ())
    assert cluster.path == "min.yaml"


def test_full_file_every_value() -> None:
    c = load(FULL)
    path = str(FULL)
    assert c.scope == Scope(("192.0.2.0/24", "2001:db8::/64", "198.51.100.7/32"),
                            ((7, 7), (100, 199)))
    assert c.director == Director(Timeouts(900, 120, 300),
                                  {"expire_nodest_conn": 1, "expire_quiescent_template": 1,
                                   "conn_reuse_mode": 0}, 600)
    web = ServiceKey.vip("tcp", "192.0.2.10", 80)
    sip = ServiceKey.vip("udp", "2001:db8::10", 5060)
    mark7 = ServiceKey.mark(7, 6)
    mark8 = ServiceKey.mark(8)
    any_port = ServiceKey.vip("sctp", "192.0.2.20", 0)
    assert set(c.services) == {web, sip, mark7, mark8, any_port}

    w = c.services[web]
    assert w.name == "web" and w.source == f"{path}:15:5"
    assert w.spec == ServiceSpec("mh", frozenset({"mh-port", "mh-fallback"}),
                                 Persistence(600, 24, None), False)
    assert rs(c, web, "10.0.0.11", 80).spec == RealServerSpec(10, "dr", 0, 0, None)
    draining = rs(c, web, "10.0.0.12", 80)
    assert draining.draining is True
    assert draining.spec == RealServerSpec(0, "tunnel", 100, 50, Tunnel("gue", 6080, "remcsum"))
    assert draining.source == f"{path}:23:9"
    # forward tunnel without settings: ipip; weight from defaults
    assert rs(c, web, "10.0.0.13", 80).spec == RealServerSpec(5, "tunnel", 0, 0, Tunnel())
    assert rs(c, web, "10.0.0.14", 8080).spec == RealServerSpec(0, "nat", 0, 0, None)

    s = c.services[sip]
    assert s.key.address == "2001:db8::10" and s.key.family == 6
    assert s.spec == ServiceSpec("sh", frozenset({"sh-port"}), Persistence(300, 64, "sip"), True)
    # the service's forward (nat) is its real servers' default
    assert rs(c, sip, "2001:db8::2", 5080).spec == RealServerSpec(5, "nat", 0, 0, None)
    # an IPv4 real server in an IPv6 service is fine with tunnel; port defaults to the service's
    assert rs(c, sip, "10.0.0.21", 5060).spec == RealServerSpec(
        5, "tunnel", 0, 0, Tunnel("gre", 0, "csum"))

    m7 = c.services[mark7]
    assert m7.spec == ServiceSpec("wlc", frozenset(), Persistence(300, 128, None), False)
    assert rs(c, mark7, "2001:db8::5", 0).spec == RealServerSpec(5, "dr", 0, 0, None)
    assert rs(c, mark8, "10.0.0.31", 443).spec.forward == "nat"
    assert c.services[mark8].spec.persistence is None

    a = c.services[any_port]
    assert a.spec.persistence == Persistence(300, 32, None)  # `persistence: {}` = defaults
    assert a.real_servers == {}


def test_defaults_are_inherited_and_overridden_in_order() -> None:
    text = """
defaults: {scheduler: rr, forward: nat, weight: 3, protocol: udp}
services:
  - vip: 192.0.2.10
    port: 53
    real_servers:
      - {address: 10.0.0.1, port: 5353}
  - vip: 192.0.2.10
    port: 80
    protocol: tcp
    scheduler: lc
    forward: dr
    real_servers:
      - {address: 10.0.0.1}
      - {address: 10.0.0.2, forward: nat, weight: 9, port: 8080}
"""
    c = loads(text)
    dns = c.services[ServiceKey.vip("udp", "192.0.2.10", 53)]
    assert dns.spec.scheduler == "rr"
    assert dns.real_servers[RealServerKey("10.0.0.1", 5353)].spec == RealServerSpec(3, "nat")
    web = c.services[ServiceKey.vip("tcp", "192.0.2.10", 80)]
    assert web.spec.scheduler == "lc"
    assert web.real_servers[RealServerKey("10.0.0.1", 80)].spec == RealServerSpec(3, "dr")
    assert web.real_servers[RealServerKey("10.0.0.2", 8080)].spec == RealServerSpec(9, "nat")


def test_yaml_conveniences_anchors_merges_yes_and_empty_sections() -> None:
    text = """
defaults:
scope:
director:
  sysctls:
x-common: &rs {weight: 4, forward: tunnel}
services:
  - vip: 192.0.2.10
    port: 80
    one_packet: yes
    real_servers:
      - {<<: *rs, address: 10.0.0.1}
      - {<<: *rs, address: 10.0.0.2, weight: 6}
"""
    # Unknown top-level keys are refused, even when they only hold anchors.
    with pytest.raises(ConfigError) as caught:
        loads(text, "a.yaml")
    assert caught.value.problems == ["a.yaml:6:1: x-common: unknown key (expected one of: "
                                     "defaults, scope, director, ha, bgp, services)"]
    text = text.replace("x-common: &rs {weight: 4, forward: tunnel}\n", "").replace(
        "    real_servers:\n",
        "    real_servers:\n      - &rs {address: 10.0.0.9, weight: 4, forward: tunnel}\n")
    c = loads(text)
    service = c.services[ServiceKey.vip("tcp", "192.0.2.10", 80)]
    assert service.spec.one_packet is True
    specs = {k.address: v.spec.weight for k, v in service.real_servers.items()}
    assert specs == {"10.0.0.9": 4, "10.0.0.1": 4, "10.0.0.2": 6}
    assert all(v.spec.forward == "tunnel" for v in service.real_servers.values())
    assert c.director == Director() and c.scope == Scope()


def test_draining_forces_weight_zero_whatever_the_weight() -> None:
    c = loads("services: [{vip: 192.0.2.1, port: 80, real_servers: "
              "[{address: 10.0.0.1, weight: 50, state: draining}, "
              "{address: 10.0.0.2, state: active}]}]")
    servers = c.services[ServiceKey.vip("tcp", "192.0.2.1", 80)].real_servers
    assert servers[RealServerKey("10.0.0.1", 80)].spec.weight == 0
    assert servers[RealServerKey("10.0.0.1", 80)].draining is True
    assert servers[RealServerKey("10.0.0.2", 80)].spec.weight == 1
    assert servers[RealServerKey("10.0.0.2", 80)].draining is False


def test_example_file_is_the_lab_setup() -> None:
    c = load(EXAMPLE)
    http = c.services[ServiceKey.vip("tcp", "10.10.0.100", 80)]
    dns = c.services[ServiceKey.vip("udp", "10.10.0.100", 53)]
    assert len(c.services) == 2
    assert (http.name, dns.name) == ("http", "dns")
    assert {k: v.spec for k, v in http.real_servers.items()} == {
        RealServerKey("10.10.0.11", 80): RealServerSpec(1, "dr"),
        RealServerKey("10.10.0.12", 80): RealServerSpec(2, "dr"),
    }
    assert set(dns.real_servers) == {RealServerKey("10.10.0.11", 53),
                                     RealServerKey("10.10.0.12", 53)}
    assert http.spec == dns.spec == ServiceSpec("wrr")
    assert c.scope == Scope(("10.10.0.100/32",))


def test_load_names_the_path_as_given_and_reports_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("services: [{vip: 192.0.2.1, port: 99999}]\n")
    with pytest.raises(ConfigError) as caught:
        load(str(bad))
    assert caught.value.problems == [f"{bad}:1:35: services[0].port: must be 0..65535"]
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load(missing)
    assert caught.value.problems == [f"{missing}: cannot read: No such file or directory"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"services: []\n\xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(binary)


@pytest.mark.parametrize("path", [FULL, EXAMPLE], ids=["full", "example"])
def test_dump_round_trips(path: Path) -> None:
    original = load(path)
    text = dump(original)
    again = loads(text, "dumped.yaml")
    assert again.services == original.services
    assert {k: s.name for k, s in again.services.items()} == \
        {k: s.name for k, s in original.services.items()}
    assert again.scope == original.scope
    assert again.director == original.director
    assert dump(again) == text  # stable


def test_dump_is_minimal_and_ordered() -> None:
    c = loads("""
services:
  - vip: 192.0.2.10
    port: 80
    real_servers: [{address: 10.0.0.10}, {address: 10.0.0.9, weight: 1, forward: dr}]
  - {vip: 192.0.2.9, port: 80, protocol: tcp, scheduler: wrr}
""")
    assert dump(c) == """services:
  - vip: 192.0.2.9
    port: 80
  - vip: 192.0.2.10
    port: 80
    real_servers:
      - {address: 10.0.0.9}
      - {address: 10.0.0.10}
"""


def test_dump_of_built_cluster_round_trips() -> None:
    """What the kernel adapter or an importer builds (no file behind it) also survives dump."""
    key = ServiceKey.vip("tcp", "2001:db8::1", 443)
    c = loads(dump(loads(
        "services: [{vip: '2001:db8::1', port: 443, persistence: {timeout: 60, netmask: 48}, "
        "real_servers: [{address: '2001:db8::a'}, {address: 10.0.0.1, forward: tunnel, "
        "tunnel: {type: gue, port: 5555}}]}]")))
    assert c.services[key].spec.persistence == Persistence(60, 48)
    assert c.services[key].real_servers[RealServerKey("10.0.0.1", 443)].spec.tunnel == \
        Tunnel("gue", 5555)


def test_all_problems_come_at_once_in_document_order() -> None:
    text = "services:\n  - {vip: 192.0.2.1, port: 80, weight: 3}\n" \
           "  - {vip: nope, port: -1}\n"
    with pytest.raises(ConfigError) as caught:
        loads(text, "x.yaml")
    assert caught.value.problems == [
        "x.yaml:2:32: services[0].weight: unknown key (expected one of: name, vip, port, "
        "protocol, fwmark, family, scheduler, scheduler_flags, persistence, one_packet, "
        "forward, check, min_healthy, sorry_server, announce, real_servers)",
        "x.yaml:3:11: services[1].vip: 'nope' is not an IP address",
        "x.yaml:3:23: services[1].port: must be 0..65535",
    ]


def test_dump_of_a_cluster_built_in_code_round_trips() -> None:
    """As the kernel adapter builds it for `export`: no names, no sources, fwmark and IPv6."""
    from ipvsctl.model import Service

    web = ServiceKey.vip("tcp", "192.0.2.10", 443)
    mark = ServiceKey.mark(42, 6)
    servers = [RealServer(RealServerKey("10.0.0.1", 443), RealServerSpec(3, "dr")),
               RealServer(RealServerKey("10.0.0.2", 443),
                          RealServerSpec(1, "tunnel", 10, 5, Tunnel("ipip")))]
    built = Cluster(services={
        web: Service(web, ServiceSpec("sh", frozenset({"sh-port"}), Persistence(7200, 24)),
                     {rs.key: rs for rs in servers}),
        mark: Service(mark, ServiceSpec("rr", frozenset(), Persistence(300, 128, None), True),
                      {RealServerKey("2001:db8::7", 0):
                       RealServer(RealServerKey("2001:db8::7", 0), RealServerSpec(0, "dr"))}),
    })
    assert loads(dump(built)).services == built.services


def test_full_file_ha_section() -> None:
    ha = load(FULL).ha
    assert ha is not None
    assert (ha.virtual_router_id, ha.advert_centis, ha.vrrp_version, ha.unicast,
            ha.health_weight, ha.vips) == (51, 200, 3, True, 50, ("198.51.100.7",))
    assert ha.directors == (
        HaDirector("d1", "lb1.example.net", "10.10.0.1", 200, "eth0"),
        HaDirector("d2", None, "10.10.0.2", 160, "bond0.100"))
    assert ha.directors[0].source == f"{FULL}:67:7"
    assert ha.sync == SyncSettings(True, "eth1", 7, 1400, 8849, 2, "224.0.0.82")


@pytest.mark.parametrize(("text", "expect"), [
    ("", {"advert_centis": 100, "vrrp_version": 2, "unicast": True, "health_weight": 60,
          "sync": None}),
    ("advert_interval: 3\n  ", {"advert_centis": 300, "vrrp_version": 2}),
    ("advert_interval: 0.25\n  ", {"advert_centis": 25, "vrrp_version": 3}),
    ("sync: true\n  ", {"sync": SyncSettings(syncid=9)}),
    ("sync: false\n  ", {"sync": SyncSettings(enabled=False)}),
    ("sync: {}\n  ", {"sync": SyncSettings(syncid=9)}),
])
def test_ha_defaults(text: str, expect: dict[str, object]) -> None:
    doc = ("ha:\n  virtual_router_id: 9\n  interface: eth0\n  " + text +
           "directors: [{name: a, address: 10.0.0.1}, {name: b, address: 10.0.0.2}]\n"
           "  vips: [192.0.2.1]\n"
           "services: []\n")
    ha = loads(doc).ha
    assert ha is not None
    assert {k: getattr(ha, k) for k in expect} == expect
    assert [d.priority for d in ha.directors] == [190, 180]
