"""ipvsadm save-format semantics and errors, checked on the model the importer builds."""

from __future__ import annotations

import pytest

from ipvsctl.errors import ConfigError
from ipvsctl.importers.ipvsadm import parse
from ipvsctl.model import (
    Persistence,
    RealServerKey,
    RealServerSpec,
    ServiceKey,
    ServiceSpec,
    Tunnel,
)

VIP = ServiceKey.vip("tcp", "192.0.2.10", 80)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, "t.save")
    return info.value.problems


def test_defaults_are_ipvsadm_defaults() -> None:
    result = parse("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1\n", "t.save")
    service = result.cluster.services[VIP]
    assert service.spec == ServiceSpec("wlc")  # ipvsadm's DEF_SCHED, not ipvsctl's wrr
    rs = service.real_servers[RealServerKey("10.0.0.1", 80)]
    assert rs.spec == RealServerSpec(1, "dr")
    assert rs.source == "t.save:2"
    assert result.warnings == []


def test_every_service_setting() -> None:
    text = ("-A -u [2001:DB8::10]:53 -s sh -p 600 -M 64 --pe sip -o -b sh-fallback,sh-port\n"
            "-A -t 192.0.2.10:80 -s wrr -p\n")
    services = parse(text, "t.save").cluster.services
    assert services[ServiceKey.vip("udp", "2001:db8::10", 53)].spec == ServiceSpec(
        "sh", frozenset({"sh-fallback", "sh-port"}), Persistence(600, 64, "sip"), True)
    assert services[VIP].spec.persistence == Persistence(300, 32)  # bare -p: 300 s


def test_real_server_settings_and_tunnels() -> None:
    text = ("-A -t 192.0.2.10:80 -s rr\n"
            "-a -t 192.0.2.10:80 -r 10.0.0.1:8080 -m -w 7 -x 100 -y 50\n"
            "-a -t 192.0.2.10:80 -r [2001:db8::2]:80 -i -w 1 --tun-type gue --tun-port 6080 "
            "--tun-csum\n"
            "-a -t 192.0.2.10:80 -r 10.0.0.3:80 -i -w 1 --tun-type gre --tun-nocsum\n"
            "-a -t 192.0.2.10:80 -r 10.0.0.4:80 -i -w 1\n")
    servers = parse(text, "t.save").cluster.services[VIP].real_servers
    assert servers[RealServerKey("10.0.0.1", 8080)].spec == RealServerSpec(7, "nat", 100, 50)
    assert servers[RealServerKey("2001:db8::2", 80)].spec.tunnel == Tunnel("gue", 6080, "csum")
    assert servers[RealServerKey("10.0.0.3", 80)].spec.tunnel == Tunnel("gre", 0, "nocsum")
    assert servers[RealServerKey("10.0.0.4", 80)].spec.tunnel == Tunnel()


def test_fwmark_services_and_their_family() -> None:
    text = "-A -f 7 -6 -s rr\n-a -f 7 -6 -r [2001:db8::1]:0 -g -w 2\n-A -f 8 -s rr\n"
    services = parse(text, "t.save").cluster.services
    assert set(services) == {ServiceKey.mark(7, 6), ServiceKey.mark(8, 4)}
    assert services[ServiceKey.mark(7, 6)].real_servers[
        RealServerKey("2001:db8::1", 0)].spec.weight == 2


def test_long_options_attached_values_and_shell_lines() -> None:
    text = ("#!/bin/sh\n"
            "/usr/sbin/ipvsadm --add-service --tcp-service=192.0.2.10:80 --scheduler=mh "
            "--sched-flags mh-port \\\n"
            "   --persistent=60\n"
            "ipvsadm -a -t 192.0.2.10:80 -r10.0.0.1 -gw3   # trailing comment\n")
    service = parse(text, "t.save").cluster.services[VIP]
    assert service.spec == ServiceSpec("mh", frozenset({"mh-port"}), Persistence(60, 32))
    assert service.real_servers[RealServerKey("10.0.0.1", 80)].spec.weight == 3


def test_restore_script_as_the_shell_runs_it() -> None:
    """sudo, a full path, shell variables and a trailing listing: the rules, each named."""
    text = ("VIP=192.0.2.10 PORT=80\n"
            "sudo -u root /usr/sbin/ipvsadm -A -t ${VIP}:$PORT -s rr\n"
            "sudo ipvsadm -a -t $VIP:$PORT -r 10.0.0.1 -g && echo ok; ipvsadm -L -n\n"
            "ipvsadm -L -n\n")
    result = parse(text, "t.sh")
    assert list(result.cluster.services[VIP].real_servers) == [RealServerKey("10.0.0.1", 80)]
    assert [w.split(": ", 1)[0] for w in result.warnings] == ["t.sh:2"] * 2 + ["t.sh:3"] * 2
    assert any("-L only reads the table" in w and "(2 in all; also at line(s) 4)" in w
               for w in result.warnings), result.warnings


def test_edit_and_delete_follow_the_script() -> None:
    text = ("-A -t 192.0.2.10:80 -s rr\n"
            "-a -t 192.0.2.10:80 -r 10.0.0.1 -w 5 -x 9\n"
            "-a -t 192.0.2.10:80 -r 10.0.0.2\n"
            "-E -t 192.0.2.10:80 -s wrr\n"
            "-e -t 192.0.2.10:80 -r 10.0.0.1 -w 2\n"  # -e sends every field: -x back to 0
            "-d -t 192.0.2.10:80 -r 10.0.0.2\n")
    service = parse(text, "t.save").cluster.services[VIP]
    assert service.spec.scheduler == "wrr"
    assert list(service.real_servers) == [RealServerKey("10.0.0.1", 80)]
    assert service.real_servers[RealServerKey("10.0.0.1", 80)].spec == RealServerSpec(2, "dr")


def test_clear_drops_what_came_before_and_says_so() -> None:
    result = parse("-A -t 192.0.2.10:80\n-C\n-A -t 192.0.2.11:80\n", "t.save")
    assert list(result.cluster.services) == [ServiceKey.vip("tcp", "192.0.2.11", 80)]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("t.save:2: -C ")
    assert "1 services defined above it are dropped" in result.warnings[0]


def test_set_timeouts_zero_means_unchanged() -> None:
    result = parse("--set 7200 0 60\n", "t.save")
    assert (result.cluster.director.timeouts.tcp, result.cluster.director.timeouts.tcpfin,
            result.cluster.director.timeouts.udp) == (7200, None, 60)


@pytest.mark.parametrize(("text", "warning"), [
    ("-A -t 192.0.2.10:80 -s wrr -b flag-1\n", "t.save:1: scheduler flag flag-1 means nothing"),
    ("-A -t 192.0.2.10:80 -M 255.255.255.0\n", "t.save:1: -M without -p has no effect"),
    ("-A -u 192.0.2.10:80 --pe sip\n", "t.save:1: --pe sip without -p does nothing"),
    ("-A -t 192.0.2.10:80 -p --pe sip\n", "t.save:1: --pe sip on tcp/192.0.2.10:80 is not"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1:81 -g\n",
     "t.save:2: real server port 81 ignored: with dr the port is the service port 80"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 192.0.2.10\n",
     "t.save:2: real server 192.0.2.10:80 is the VIP itself"),
    ("-Z\n", "t.save:1: -Z (zero the counters) is not translated"),
    ("service ipvsadm restart\n-A -t 192.0.2.10:80\n",
     "t.save:1: 'service' is not an ipvsadm rule"),
    ("-A -t 192.0.2.10:80\nipvsadm -L -n\n", "t.save:2: -L only reads the table"),
    ("-A -t 192.0.2.10:80\nsudo ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1\n",
     "t.save:2: 'sudo' before ipvsadm: read as the ipvsadm command it runs"),
])
def test_lossy_constructs_warn_with_their_line(text: str, warning: str) -> None:
    warnings = parse(text, "t.save").warnings
    assert len(warnings) == 1
    assert warnings[0].startswith(warning), warnings


@pytest.mark.parametrize(("text", "error"), [
    ("-a -t 192.0.2.10:80 -r 10.0.0.1\n-A -t 192.0.2.10:80\n",
     "t.save:1: -a: service tcp/192.0.2.10:80 is not defined (yet): a real server must come "
     "after its service's -A line"),
    ("-A -t www.example.com:http\n", "t.save:1: virtual service 'www.example.com' is a host "
                                     "name, not an address: ipvsctl does not resolve names; "
                                     "save the table with `ipvsadm -Sn` (numeric)"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r backend1:80\n",
     "t.save:2: real server 'backend1' is a host name"),
    ("-A -t 192.0.2.10:nosuchservice\n", "t.save:1: virtual service port 'nosuchservice' is "
                                         "neither a number nor a known tcp service name"),
    ("-A -t 192.0.2.10:80 --schedular rr\n", "t.save:1: unknown option '--schedular' (did you "
                                             "mean '--scheduler'?)"),
    ("-A -t 192.0.2.10:80 -s wrrr\n", "t.save:1: unknown scheduler 'wrrr' (did you mean 'wrr'?)"),
    ("-A -t 192.0.2.10:80 -p -M 255.0.255.0\n", "t.save:1: persistence netmask (-M) "
                                                "'255.0.255.0' is not a contiguous"),
    ("-A -t 192.0.2.10:0\n", "t.save:1: port 0 (all ports) of tcp/192.0.2.10:0 needs "
                             "persistence (-p)"),
    ("-A -t 192.0.2.10:80 -o\n", "t.save:1: one-packet scheduling (-o) is only for UDP"),
    ("-A -t 192.0.2.10:80 -s wrr -b sh-port\n", "t.save:1: scheduler flag 'sh-port' needs "
                                                "scheduler sh, not wrr"),
    ("-A -t 192.0.2.10:80 -6\n", "t.save:1: -6 applies only to fwmark services"),
    ("-A -t 192.0.2.10:80\n-A -t 192.0.2.10:80\n", "t.save:2: service tcp/192.0.2.10:80 already "
                                                   "exists (added at line 1)"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1 -g --tun-type gue\n",
     "t.save:2: --tun-type needs tunnelling (-i), not dr"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type gue\n",
     "t.save:2: --tun-type gue needs --tun-port"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type gre --tun-remcsum\n",
     "t.save:2: --tun-remcsum does not apply to --tun-type gre"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r [2001:db8::1]:80 -g\n",
     "t.save:2: an IPv6 real server in an IPv4 service needs tunnelling (-i)"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1 -g -m\n",
     "t.save:2: -m given twice (or with -g)"),
    ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1 -w 70000\n",
     "t.save:2: weight (-w) '70000' must be an integer 0..65535"),
    ("-A -t 192.0.2.10:80 -w 3\n", "t.save:1: -w does not apply to -A"),
    ("service ipvsadm restart\n", "t.save: 1 line(s) name ipvsadm, but no service comes"),
    ("-A -t $VIP:80\n", "t.save:1: $VIP is not set by an earlier line of the script"),
    ("-A -t $(cat vip):80\n", "t.save:1: command substitution"),
    ("IP Virtual Server version 1.2.1 (size=4096)\n", "t.save:1: this is the output of"),
    ("-A -t '192.0.2.10:80\n", "t.save:1: cannot split the line into words"),
    ("-A -t 224.0.0.1:80\n", "t.save:1: virtual service address 224.0.0.1 is not a unicast"),
])
def test_errors_name_their_line(text: str, error: str) -> None:
    found = problems(text)
    assert any(p.startswith(error) for p in found), found


def test_every_bad_line_is_reported_at_once() -> None:
    found = problems("-A -t 192.0.2.10:80 -s nope\n-A -t 192.0.2.11:80\n-A -t host:80\n"
                     "-a -t 192.0.2.12:80 -r 10.0.0.1\n")
    assert [p.split(": ")[0] for p in found] == ["t.save:1", "t.save:3", "t.save:4"]
