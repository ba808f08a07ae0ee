"""keepalived.conf syntax and LVS semantics, checked on the model the importer builds."""

from __future__ import annotations

import pytest

from ipvsctl.errors import ConfigError
from ipvsctl.importers.keepalived import parse
from ipvsctl.model import (
    Persistence,
    RealServerKey,
    RealServerSpec,
    ServiceKey,
    ServiceSpec,
    Tunnel,
)

VIP = ServiceKey.vip("tcp", "192.0.2.10", 80)


def vs(body: str, header: str = "192.0.2.10 80") -> str:
    return f"virtual_server {header} {{\n{body}\n}}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, "k.conf")
    return info.value.problems


def test_a_plain_dr_service_is_exactly_the_model() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nprotocol TCP\npersistence_timeout 60\n"
              "real_server 10.0.0.1 80 {\n weight 2\n uthreshold 10\n lthreshold 5\n}\n"
              "real_server 10.0.0.2 80 {\n}")
    result = parse(text, "k.conf")
    assert result.warnings == []
    service = result.cluster.services[VIP]
    assert service.spec == ServiceSpec("rr", frozenset(), Persistence(60, 32), False)
    assert service.source == "k.conf:1"
    assert service.real_servers[RealServerKey("10.0.0.1", 80)].spec == \
        RealServerSpec(2, "dr", 10, 5)
    assert service.real_servers[RealServerKey("10.0.0.2", 80)].spec == RealServerSpec(1, "dr")


def test_keepalived_defaults_are_applied_and_reported() -> None:
    result = parse(vs("real_server 10.0.0.1 8080 {\n}"), "k.conf")
    key = ServiceKey.vip("udp", "192.0.2.10", 80)  # keepalived defaults to UDP
    service = result.cluster.services[key]
    assert service.spec.scheduler == "wlc"
    assert service.real_servers[RealServerKey("10.0.0.1", 8080)].spec.forward == "nat"
    assert [w.split(": ", 1)[1].split(":")[0] for w in result.warnings] == [
        "virtual_server has no 'protocol'", "virtual_server has no lb_algo",
        "virtual_server has no lb_kind"]


def test_tunnels_per_virtual_and_real_server() -> None:
    text = vs("lb_algo rr\nlb_kind TUN type gue port 6080 csum\nprotocol TCP\n"
              "real_server 10.0.0.1 80 {\n}\n"
              "real_server 10.0.0.2 80 {\n lvs_method TUN type gre\n}\n"
              "real_server 2001:db8::3 80 {\n lvs_method TUN\n}")
    servers = parse(text, "k.conf").cluster.services[VIP].real_servers
    assert servers[RealServerKey("10.0.0.1", 80)].spec.tunnel == Tunnel("gue", 6080, "csum")
    assert servers[RealServerKey("10.0.0.2", 80)].spec.tunnel == Tunnel("gre")
    assert servers[RealServerKey("2001:db8::3", 80)].spec.tunnel == Tunnel()


def test_fwmark_family_comes_from_its_real_servers() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nreal_server 2001:db8::1 {\n}\n"
              "real_server 10.0.0.1 {\n}", header="fwmark 5")
    result = parse(text, "k.conf")
    assert list(result.cluster.services) == [ServiceKey.mark(5, 6)]
    assert list(result.cluster.services[ServiceKey.mark(5, 6)].real_servers) == [
        RealServerKey("2001:db8::1", 0)]
    assert result.warnings == ["k.conf:6: IPv4 real server 10.0.0.1 in an IPv6 virtual server "
                               "needs TUN: keepalived skips it; skipped"]


def test_syntax_comments_quotes_braces_and_definitions() -> None:
    text = ('$PORT=80\n'
            'virtual_server 192.0.2.10 ${PORT}     # the web VIP\n'
            '{\n'
            '  lb_algo "wrr" ! bang comment\n'
            '  lb_kind DR\n'
            '  protocol TCP\n'
            '  real_server 10.0.0.1 $PORT { weight 4 }\n'
            '  real_server 10.0.0.2 80 { MISC_CHECK { misc_path "/bin/check #1 !x" } }\n'
            '  real_server 10.0.0.3 80 \\\n'
            '  { weight 2 }\n'
            '}\n')
    result = parse(text, "k.conf")
    servers = result.cluster.services[VIP].real_servers
    assert {k.address: rs.spec.weight for k, rs in servers.items()} == \
        {"10.0.0.1": 4, "10.0.0.2": 1, "10.0.0.3": 2}
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("k.conf:8: MISC_CHECK health checker of real server "
                                         "10.0.0.2 80 (virtual_server 192.0.2.10 80)")


def test_scheduler_flags_follow_keepalived_order_rules() -> None:
    text = vs("sh-port\nlb_algo sh\nsh-fallback\nlb_kind DR\nprotocol TCP\n"
              "real_server 10.0.0.1 80 {\n}")
    result = parse(text, "k.conf")
    assert result.cluster.services[VIP].spec.scheduler_flags == frozenset({"sh-fallback"})
    assert result.warnings == ["k.conf:2: sh-port is ignored by keepalived unless 'lb_algo sh' "
                               "comes before it; not translated"]


def test_granularity_implies_persistence_and_takes_a_prefix() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nprotocol UDP\npersistence_granularity 255.255.0.0\n"
              "persistence_engine sip\nreal_server 10.0.0.1 80 {\n}")
    service = parse(text, "k.conf").cluster.services[ServiceKey.vip("udp", "192.0.2.10", 80)]
    assert service.spec.persistence == Persistence(300, 16, "sip")


def test_vrrp_blocks_warn_once_per_kind_with_every_line() -> None:
    text = ("vrrp_instance A {\n state MASTER\n}\nvrrp_instance B {\n}\n"
            + vs("lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 80 {\n}"))
    warnings = parse(text, "k.conf").warnings
    assert len(warnings) == 1
    assert warnings[0].startswith("k.conf:1: vrrp_instance blocks (lines 1, 4) are not "
                                  "translated: VRRP / director high availability is out of scope")


@pytest.mark.parametrize(("text", "error"), [
    (vs("lb_algo rr\nreal_server 10.0.0.1 80 {\n weight 2\n"), "k.conf:1: block opened here is "
                                                              "never closed (missing '}')"),
    ("}\n", "k.conf:1: unexpected '}' (no block is open)"),
    ("virtual_server 192.0.2.10 80 {\n lb_algo \"rr\n}\n", "k.conf:2: unterminated quote"),
    (vs("lb_algo roundrobin"), "k.conf:2: lb_algo: unknown scheduler 'roundrobin'"),
    (vs("lb_kind DSR"), "k.conf:2: lb_kind: expected NAT, DR or TUN"),
    (vs("lb_kind TUN type gue"), "k.conf:2: lb_kind: gue tunnels need 'port N'"),
    (vs("lb_kind TUN type ipip csum"), "k.conf:2: lb_kind: ipip tunnels carry no checksum"),
    (vs("lb_kind DR port 5"), "k.conf:2: lb_kind: tunnel options need TUN, not DR"),
    (vs("real_server 10.0.0.1 80 {\n weight 100000\n}"),
     "k.conf:3: weight: '100000' must be an integer 0..65535"),
    (vs("real_server backend1 80 {\n}"), "k.conf:2: real_server: 'backend1' is not a unicast"),
    ("virtual_server www.example.com 80 {\n}\n", "k.conf:1: virtual_server: 'www.example.com' "
                                                 "is not a unicast IP address"),
    (vs("protocol ICMP"), "k.conf:2: protocol: 'icmp' is not TCP, UDP or SCTP"),
    (vs("protocol TCP\npersistence_granularity 255.0.255.0\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:3: persistence_granularity '255.0.255.0' is not a contiguous"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n uthreshold 5\n lthreshold 9\n}"),
     "k.conf:3: lthreshold 9 exceeds uthreshold 5"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n}") * 2,
     "k.conf:6: duplicate virtual_server tcp/192.0.2.10:80, first at line 1"),
    ("global_defs {\n lvs_timeouts tcp\n}\n", "k.conf:2: lvs_timeouts takes pairs"),
])
def test_errors_name_their_line(text: str, error: str) -> None:
    found = problems(text)
    assert any(p.startswith(error) for p in found), found
