"""keepalived.conf syntax and LVS semantics, checked on the model the importer builds."""

from __future__ import annotations

import pytest

from ipvsctl.config import loads
from ipvsctl.errors import ConfigError
from ipvsctl.importers import cluster_file
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
    text = vs("lb_algo rr\nlb_kind TUN\nprotocol TCP\n"
              "real_server 10.0.0.1 80 {\n}\n"
              "real_server 10.0.0.2 80 {\n lvs_method TUN type gue port 6080 csum\n}\n"
              "real_server 2001:db8::3 80 {\n lvs_method TUN type gre\n}")
    result = parse(text, "k.conf")
    servers = result.cluster.services[VIP].real_servers
    assert servers[RealServerKey("10.0.0.1", 80)].spec.tunnel == Tunnel()
    assert servers[RealServerKey("10.0.0.2", 80)].spec.tunnel == Tunnel("gue", 6080, "csum")
    assert servers[RealServerKey("2001:db8::3", 80)].spec.tunnel == Tunnel("gre")
    assert result.warnings == []


def test_fwmark_family_comes_from_its_real_servers() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nreal_server 2001:db8::1 {\n}\n"
              "real_server 10.0.0.1 {\n}", header="fwmark 5")
    result = parse(text, "k.conf")
    assert list(result.cluster.services) == [ServiceKey.mark(5, 6)]
    assert list(result.cluster.services[ServiceKey.mark(5, 6)].real_servers) == [
        RealServerKey("2001:db8::1", 0)]
    assert result.warnings == ["k.conf:6: IPv4 real_server 10.0.0.1 in an IPv6 virtual server "
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
            '  real_server 10.0.0.3 80 { weight 2 }\n'
            '}\n')
    result = parse(text, "k.conf")
    servers = result.cluster.services[VIP].real_servers
    assert {k.address: rs.spec.weight for k, rs in servers.items()} == \
        {"10.0.0.1": 4, "10.0.0.2": 1, "10.0.0.3": 2}
    check = result.health[VIP]["checks"]["10.0.0.2:80"]
    assert check["type"] == "exec"
    assert check["argv"] == ["/bin/check", "#1", "!x"]  # '#' and '!' inside quotes stay


def test_templating_as_the_man_page_defines_it() -> None:
    """Nested and empty definitions, a comment inside a multi-line one, ~SEQ and ~LST."""
    text = ("$BASE=192.0.2.${SUB}\n$SUB=1\n$EMPTY=\n$EMPTY\n"
            "$RS= \\\n real_server 10.0.0.${N} 80 { \\\n  weight ${N} \\\n }\n"
            "$VS= \\\n"
            "virtual_server ${BASE}${P} 80 { \\\n lb_algo rr \\\n lb_kind DR \\\n"
            " protocol TCP \\\n ~LST(N, 1, 2) $RS \\\n}\n"
            "~SEQ(P, 0, 2) $VS\n")
    result = parse(text, "k.conf")
    assert sorted(str(k) for k in result.cluster.services) == [
        "tcp/192.0.2.10:80", "tcp/192.0.2.11:80", "tcp/192.0.2.12:80"]
    servers = result.cluster.services[ServiceKey.vip("tcp", "192.0.2.11", 80)].real_servers
    assert {str(k): rs.spec.weight for k, rs in servers.items()} == \
        {"10.0.0.1:80": 1, "10.0.0.2:80": 2}
    assert result.warnings == []


def test_what_keepalived_tolerates_is_imported_as_it_runs() -> None:
    text = vs("lb_algo RR\nlb_kind dr\nprotocol TCP\npersistence_timeout 0\n"
              "real_server 10.0.0.1 80 {\n}")
    result = parse(text, "k.conf")
    service = result.cluster.services[VIP]
    assert service.spec == ServiceSpec("wlc", frozenset(), None, False)
    assert service.real_servers[RealServerKey("10.0.0.1", 80)].spec.forward == "nat"
    assert [w.split(": ", 1)[0] for w in result.warnings] == ["k.conf:2", "k.conf:3",
                                                             "k.conf:5"]
    assert "so the service runs wlc; imported as wlc; write `lb_algo rr`" in result.warnings[0]
    assert "write `lb_kind DR` (or `forward: dr`) if that was meant" in result.warnings[1]
    assert "so the service has no persistence" in result.warnings[2]


def test_a_service_without_real_servers_is_dropped_as_keepalived_does() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nprotocol TCP") + vs(
        "lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 80 {\n}",
        header="192.0.2.11 80")
    result = parse(text, "k.conf")
    assert list(result.cluster.services) == [ServiceKey.vip("tcp", "192.0.2.11", 80)]
    assert result.warnings[0].startswith("k.conf:1: virtual_server 192.0.2.10 80 has no real "
                                         "servers (left): keepalived ignores it")


def test_scheduler_flags_follow_keepalived_order_rules() -> None:
    text = vs("sh-port\nlb_algo sh\nsh-fallback\nlb_kind DR\nprotocol TCP\n"
              "real_server 10.0.0.1 80 {\n}")
    result = parse(text, "k.conf")
    assert result.cluster.services[VIP].spec.scheduler_flags == frozenset({"sh-fallback"})
    assert result.warnings == ["k.conf:2: sh-port counts only after 'lb_algo sh' (keepalived "
                               "reads the flags in order and ignores it here); not translated"]


def test_granularity_implies_persistence_and_takes_a_prefix() -> None:
    text = vs("lb_algo rr\nlb_kind DR\nprotocol UDP\npersistence_granularity 255.255.0.0\n"
              "persistence_engine sip\nreal_server 10.0.0.1 80 {\n}")
    service = parse(text, "k.conf").cluster.services[ServiceKey.vip("udp", "192.0.2.10", 80)]
    assert service.spec.persistence == Persistence(360, 16, "sip")  # keepalived's 6 minutes


def test_vrrp_blocks_warn_once_per_kind_with_every_line() -> None:
    text = ("vrrp_instance A {\n state MASTER\n}\nvrrp_instance B {\n}\n"
            + vs("lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 80 {\n}"))
    warnings = parse(text, "k.conf").warnings
    assert len(warnings) == 1
    assert warnings[0].startswith("k.conf:1: vrrp_instance block(s) (2 of them) not "
                                  "translated: VRRP / director high availability is out of scope")


def test_one_warning_line_per_kind_however_many_services() -> None:
    body = "lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 80 {\n smtp_alert\n}"
    text = "".join(vs(body, header=f"192.0.2.{n} 80") for n in range(1, 101))
    warnings = parse(text, "k.conf").warnings
    assert len(warnings) == 1
    assert "(100 in all; also at line(s) 14, 22, 30, 38, 46, ...)" in warnings[0]


@pytest.mark.parametrize(("text", "error"), [
    ("virtual_server 192.0.2.10 80 {\n lb_algo \"rr\n}\n",
     "k.conf:2: 'lb_algo' needs a value: keepalived 2.2.7 exits on this line"),
    ("virtual_server\n", "k.conf:1: virtual_server without an address"),
    ("virtual_server_group\n", "k.conf:1: virtual_server_group without a name"),
    (vs("protocol TCP\nreal_server backend1 80 {\n}"),
     "k.conf: 1 virtual_server block(s) read, but none ends up as a service"),
    ("$A=$A\n$A\n", "k.conf:2: definitions substitute each other without end"),
    # a rejected address with no block after it: skipped all the same (was an AssertionError)
    ("virtual_server 0x7fffffff\n", "k.conf: 1 virtual_server block(s) read, but none ends up "
     "as a service keepalived would program; nothing to write"),
    ("virtual_server 0x7fffffff\n", "k.conf:1: virtual_server 0x7fffffff: not an IP address"),
])
def test_errors_name_their_line(text: str, error: str) -> None:
    found = problems(text)
    assert any(p.startswith(error) for p in found), found


@pytest.mark.parametrize(("text", "warning"), [
    (vs("lb_algo rr\nreal_server 10.0.0.1 80 {\n weight 2\n"),
     "k.conf:6: the file ends inside a block"),
    ("}\n" + vs("protocol TCP\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:1: '}' closes no block: keepalived ignores it"),
    (vs("lb_kind TUN type gue\nprotocol TCP\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:2: lb_kind: gue tunnels need 'port N'"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n weight 100000\n}"),
     "k.conf:3: weight 100000 exceeds ipvsctl's 65535; imported as 65535"),
    (vs("real_server backend1 80 {\n}\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:2: real_server backend1 80: not an IP address"),
    ("virtual_server www.example.com 80 {\n}\n" + vs("real_server 10.0.0.1 80 {\n}"),
     "k.conf:1: virtual_server www.example.com 80: not an IP address"),
    (vs("protocol ICMP\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:2: protocol 'ICMP' is not TCP, UDP or SCTP"),
    (vs("protocol TCP\npersistence_granularity 255.0.255.0\nreal_server 10.0.0.1 80 {\n}"),
     "k.conf:3: persistence_granularity 255.0.255.0 is not a contiguous netmask"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n uthreshold 5\n lthreshold 9\n}"),
     "k.conf:3: lthreshold 9 exceeds uthreshold 5"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n}") * 2,
     "k.conf:6: service tcp/192.0.2.10:80 is defined again (first at k.conf:1)"),
    (vs("protocol TCP\nreal_server 10.0.0.1 80 {\n}\nreal_server 0x7fffffff"),
     "k.conf:5: real_server 0x7fffffff: not an IP address"),
    ("global_defs {\n lvs_timeouts tcp\n}\n" + vs("real_server 10.0.0.1 80 {\n}"),
     "k.conf:2: lvs_timeouts needs at least one option and value"),
])
def test_tolerated_input_warns_with_its_line(text: str, warning: str) -> None:
    warnings = parse(text, "k.conf").warnings
    assert any(w.startswith(warning) for w in warnings), warnings


def checked(checker: str, protocol: str = "TCP") -> str:
    """One DR service whose one real server carries `checker` (a checker block)."""
    return vs(f"lb_algo rr\nlb_kind DR\nprotocol {protocol}\ninhibit_on_failure\n"
              f"real_server 10.0.0.1 80 {{\n{checker}\n}}")


@pytest.mark.parametrize(("checker", "warning"), [
    ("HTTP_GET {\n url {\n  path healthz\n }\n}",
     "k.conf:9: url path 'healthz' (HTTP_GET of real server 10.0.0.1:80) is not a path"),
    ("HTTP_GET {\n url {\n  path /\n  regex \"(?<=a+)b\"\n }\n}",
     "k.conf:10: regex (HTTP_GET of real server 10.0.0.1:80) is not a regular expression "
     "Python reads"),
    ("SSL_GET {\n url {\n  path /\n }\n virtualhost 192.0.2.1\n enable_sni\n}",
     "k.conf:12: enable_sni (SSL_GET of real server 10.0.0.1:80) with the virtualhost "
     "'192.0.2.1', not a DNS name"),
    ("DNS_CHECK {\n name bad..name\n}",
     "k.conf:8: DNS_CHECK name 'bad..name' (real server 10.0.0.1:80) is not a DNS name"),
    ("MISC_CHECK {\n misc_path \"/bin/true " + "x " * 64 + "\"\n}",
     "k.conf:8: misc_path (MISC_CHECK of real server 10.0.0.1:80) has 65 words"),
])
def test_checker_values_a_check_cannot_carry_warn_and_still_validate(checker: str,
                                                                     warning: str) -> None:
    """What the cluster file's check cannot hold is said on its line, and the file written
    still loads (no `ipvsctl import` ends in the loader's refusal)."""
    result = parse(checked(checker), "k.conf")
    assert any(w.startswith(warning) for w in result.warnings), result.warnings
    loads(cluster_file(result, "keepalived", "k.conf"), "out.yaml")


def test_a_checker_every_real_server_shares_goes_on_the_service() -> None:
    tcp = "TCP_CHECK {\n connect_timeout 2\n retry 0\n}"
    shared = parse(vs("lb_algo rr\nlb_kind DR\nprotocol TCP\ninhibit_on_failure\n"
                      f"real_server 10.0.0.1 80 {{\n{tcp}\n}}\n"
                      f"real_server 10.0.0.2 80 {{\n{tcp}\n}}"), "k.conf")
    assert shared.health[VIP] == {
        "check": {"type": "tcp", "interval": 60, "timeout": 2, "rise": 1, "fall": 1,
                  "via": "address"},
        "min_healthy": 0}
    assert shared.warnings == []
    # one real server without a checker: keepalived never takes it out, so no service check
    partly = parse(vs("lb_algo rr\nlb_kind DR\nprotocol TCP\ninhibit_on_failure\n"
                      f"real_server 10.0.0.1 80 {{\n{tcp}\n}}\n"
                      "real_server 10.0.0.2 80 {\n}"), "k.conf")
    assert set(partly.health[VIP]["checks"]) == {"10.0.0.1:80"}
    cluster = loads(cluster_file(partly, "keepalived", "k.conf"), "out.yaml")
    assert {str(rs) for rs in cluster.health[VIP].checks} == {"10.0.0.1:80"}
