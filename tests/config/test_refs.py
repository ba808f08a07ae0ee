"""Command-line references read back what ServiceKey / RealServerKey print."""

from __future__ import annotations

import pytest

from ipvsctl.config import (
    parse_address,
    parse_real_server_ref,
    parse_service_ref,
    select_services,
)
from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster, RealServerKey, ServiceKey


@pytest.mark.parametrize("key", [
    ServiceKey.vip("tcp", "192.0.2.10", 80),
    ServiceKey.vip("udp", "2001:db8::1", 53),
    ServiceKey.vip("sctp", "192.0.2.10", 0),
    ServiceKey.mark(7),
    ServiceKey.mark(4294967295, 6),
])
def test_service_ref_reads_what_service_key_prints(key: ServiceKey) -> None:
    assert parse_service_ref(str(key)) == key


def test_real_server_ref_forms() -> None:
    assert parse_real_server_ref("10.0.0.11:80") == RealServerKey("10.0.0.11", 80)
    assert parse_real_server_ref("[2001:DB8::0:1]:443") == RealServerKey("2001:db8::1", 443)
    assert parse_real_server_ref("10.0.0.11", default_port=53) == RealServerKey("10.0.0.11", 53)
    assert parse_real_server_ref("2001:db8::1", default_port=0) == RealServerKey("2001:db8::1", 0)
    assert parse_address(" 2001:DB8::1 ", "--vip") == "2001:db8::1"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: parse_address("10.0.0.256", "--vip"), "--vip: '10.0.0.256' is not an IP address"),
    (lambda: parse_service_ref("tcp/192.0.2.1"),
     "service: '192.0.2.1' is not ADDRESS:PORT (e.g. tcp/192.0.2.10:80)"),
    (lambda: parse_service_ref("icmp/192.0.2.1:80"),
     "service: 'icmp/192.0.2.1:80' is not PROTOCOL/VIP:PORT or fwmark/MARK "
     "(e.g. tcp/192.0.2.10:80, udp/[2001:db8::1]:53, fwmark/7)"),
    (lambda: parse_service_ref("fwmark/0"), "service: fwmark 0 must be 1..4294967295"),
    (lambda: parse_service_ref("tcp/192.0.2.1:65536"), "service: port 65536 must be 0..65535"),
    (lambda: parse_real_server_ref("10.0.0.1"),
     "real server: '10.0.0.1' is not ADDRESS:PORT (e.g. 10.0.0.11:80)"),
    (lambda: parse_real_server_ref("2001:db8::1:80"),
     "real server: '2001:db8::1:80' is not ADDRESS:PORT (e.g. 10.0.0.11:80)"),
])
def test_bad_references_are_config_errors(call: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.problems == [message]


def _cluster() -> Cluster:
    from ipvsctl.config import loads

    return loads("services:\n"
                 "  - {name: web, vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.1}]}\n"
                 "  - {vip: 192.0.2.20, port: 53, protocol: udp}\n", "cluster.yaml")


def test_services_are_selected_by_name_or_by_key() -> None:
    cluster = _cluster()
    assert select_services(cluster, ["web", "udp/192.0.2.20:53", " fwmark/7 "]) == {
        ServiceKey.vip("tcp", "192.0.2.10", 80), ServiceKey.vip("udp", "192.0.2.20", 53),
        ServiceKey.mark(7)}
    # a key the file does not list is a selection too: it may name a service to remove
    assert select_services(cluster, ["tcp/[2001:db8::1]:443"]) == {
        ServiceKey.vip("tcp", "2001:db8::1", 443)}


def test_every_bad_selection_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        select_services(_cluster(), ["webb", "tcp/192.0.2.10", "web"])
    assert caught.value.problems == [
        "--service: no service named 'webb' in cluster.yaml (give a name from the file, or "
        "PROTOCOL/VIP:PORT or fwmark/MARK)",
        "--service: '192.0.2.10' is not ADDRESS:PORT (e.g. tcp/192.0.2.10:80)"]
