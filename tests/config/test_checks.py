"""The health keys of the cluster file: `check` (most specific wins, key by key), `min_healthy`,
`sorry_server` and `director.reconcile_interval`, read the same by every reader.

The bad-input corpus (tests/config/bad/70-77) holds their refusals with exact messages.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from ipvsctl.config import fast_yaml, loads
from ipvsctl.errors import ConfigError
from ipvsctl.health import DnsCheck, ExecCheck, HttpCheck, MinHealthy, TcpCheck, UdpCheck
from ipvsctl.model import DEFAULT_RECONCILE_INTERVAL, Cluster, RealServerKey, ServiceKey
from tests.config.readers import careful, same_document

GOOD = Path(__file__).parent / "good" / "health.yaml"
WEB = ServiceKey.vip("tcp", "192.0.2.10", 80)


def rs(address: str, port: int = 80) -> RealServerKey:
    return RealServerKey(address, port)


def test_every_reader_reads_the_health_file_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.read_text()
    as_json = json.dumps(yaml.safe_load(text))
    same_document(as_json, "json")  # fractions of seconds too
    fast, slow = loads(text, "h.yaml"), careful(text, "h.yaml", monkeypatch)
    assert fast == slow and fast.health == slow.health
    assert loads(as_json, "h.yaml").health == fast.health


def test_fractions_of_seconds_stay_on_the_line_reader() -> None:
    text = ("defaults:\n  check: {type: tcp, interval: 0.5, timeout: 0.25}\n"
            "director:\n  reconcile_interval: 2.5\n"
            "services:\n  - vip: 192.0.2.1\n    port: 80\n    real_servers:\n"
            "      - {address: 10.0.0.1, check: {interval: 1.0}}\n")
    assert fast_yaml.read(text) is not None
    same_document(text, "lines")
    cluster = loads(text)
    assert cluster.director.reconcile_interval == 2.5
    spec = cluster.health[ServiceKey.vip("tcp", "192.0.2.1", 80)].checks[rs("10.0.0.1")]
    assert (spec.interval, spec.timeout) == (1.0, 0.25)


def test_the_most_specific_level_wins_key_by_key() -> None:
    health = loads(GOOD.read_text()).health[WEB]
    service = health.check_of(rs("10.0.0.11"))
    assert isinstance(service, HttpCheck)
    assert (service.interval, service.timeout, service.path, service.via) == \
        (1.5, 0.5, "/healthz", "vip")  # timing from defaults, the rest from the service
    assert service.status == ((200, 200), (300, 399))
    port_only = health.check_of(rs("10.0.0.12"))
    assert port_only == HttpCheck(**{**_fields(service), "port": 8080, "via": "address"})
    assert health.check_of(rs("10.0.0.13")).type == "none"  # left out: no check
    assert rs("10.0.0.13") not in health.checks
    changed_type = health.check_of(rs("10.0.0.14"))
    assert changed_type == TcpCheck(interval=1.5, timeout=0.5, via="vip")  # the path is dropped
    assert health.min_healthy == MinHealthy(count=2)
    assert health.sorry_server is not None and health.sorry_server.key == rs("10.0.9.99", 8080)
    assert health.sorry_server.spec.forward == "nat" and health.sorry_server.spec.weight == 5


def _fields(spec: HttpCheck) -> dict[str, object]:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def test_the_defaults_of_each_type_and_path() -> None:
    cluster = loads(GOOD.read_text())
    dns = cluster.health[ServiceKey.vip("udp", "192.0.2.53", 53)]
    assert dns.check_of(rs("10.0.0.21", 53)) == DnsCheck(
        interval=1.5, timeout=0.5, via="vip", name="example.com.", qtype="AAAA")
    assert dns.check_of(rs("10.0.0.22", 53)) == UdpCheck(
        interval=1.5, timeout=0.5, via="vip", payload=b"ping", expect=b"pong")
    assert dns.min_healthy == MinHealthy(percent=50.0)  # from defaults
    custom = cluster.health[ServiceKey.vip("tcp", "192.0.2.20", 8000)]
    check = custom.check_of(rs("10.0.0.31", 8000))
    assert isinstance(check, ExecCheck) and check.via == "address"
    assert check.argv[2] == "$IPVSCTL_VIP; echo no shell"  # one argument, as written
    fwmark = cluster.health[ServiceKey.mark(7)]
    assert fwmark.check_of(rs("10.0.0.41", 0)).via == "address"  # no VIP to go to
    nat = cluster.health[ServiceKey.vip("tcp", "192.0.2.30", 80)]
    assert nat.check_of(rs("10.0.0.51", 8080)) == TcpCheck(interval=1.5, timeout=0.5,
                                                           via="address")
    assert cluster.director.reconcile_interval == 15


def test_a_file_without_health_keys_has_no_health_and_the_default_reconcile() -> None:
    cluster = loads("services: [{vip: 192.0.2.1, port: 80, real_servers: "
                    "[{address: 10.0.0.1}]}]")
    assert cluster.health == {}
    assert cluster.director.reconcile_interval == DEFAULT_RECONCILE_INTERVAL == 30


def test_timing_without_a_type_describes_no_check() -> None:
    cluster = loads("defaults: {check: {interval: 5}}\n"
                    "services:\n"
                    "  - {vip: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1}]}\n"
                    "  - {vip: 192.0.2.2, port: 80, check: {type: tcp},\n"
                    "     real_servers: [{address: 10.0.0.1}]}\n")
    assert list(cluster.health) == [ServiceKey.vip("tcp", "192.0.2.2", 80)]
    assert cluster.health[ServiceKey.vip("tcp", "192.0.2.2", 80)].checks[rs("10.0.0.1")] == \
        TcpCheck(interval=5.0, via="vip")


def test_via_vip_from_defaults_applies_where_it_can() -> None:
    cluster = loads("defaults: {check: {type: tcp, via: vip}}\n"
                    "services:\n"
                    "  - {vip: 192.0.2.1, port: 80, forward: nat,\n"
                    "     real_servers: [{address: 10.0.0.1, port: 8080}]}\n"
                    "  - {vip: 192.0.2.2, port: 80, real_servers: [{address: 10.0.0.1}]}\n")
    nat, dr = (cluster.health[ServiceKey.vip("tcp", v, 80)] for v in ("192.0.2.1", "192.0.2.2"))
    assert nat.check_of(rs("10.0.0.1", 8080)).via == "address"
    assert dr.check_of(rs("10.0.0.1")).via == "vip"


def test_payloads_are_bytes_one_per_character() -> None:
    cluster = loads('services: [{vip: 192.0.2.1, port: 7, protocol: udp, real_servers: '
                    '[{address: 10.0.0.1}], check: {type: udp, payload: "\\x00\\xffhi", '
                    'expect: "\\x01"}}]')
    spec = cluster.health[ServiceKey.vip("udp", "192.0.2.1", 7)].checks[rs("10.0.0.1", 7)]
    assert isinstance(spec, UdpCheck)
    assert (spec.payload, spec.expect) == (b"\x00\xffhi", b"\x01")


def test_equal_checks_are_one_object() -> None:
    """100,000 real servers share a handful of specs (and so their targets hash cheaply)."""
    text = "defaults: {check: {type: tcp}}\nservices:\n" + "".join(
        f"  - {{vip: 192.0.2.{i}, port: 80, real_servers: [{{address: 10.0.0.{i}}}]}}\n"
        for i in range(1, 50))
    cluster: Cluster = loads(text)
    specs = {id(h.check_of(r)) for h in cluster.health.values() for r in h.checks}
    assert len(specs) == 1


def test_repeated_check_mappings_read_alike_and_name_each_problem() -> None:
    """A file with one `check` mapping per real server (as `ipvsctl import` writes them) reads
    each equal mapping once: each still names its own problems, and each forwarding method
    still decides its own path."""
    def server(address: str, check: str, extra: str = "") -> str:
        return f"      - address: {address}\n{extra}        check: {check}\n"

    long_timeout = "{type: tcp, interval: 1, timeout: 2}"
    bad_rise = "{type: tcp, rise: 0}"
    text = ("services:\n  - vip: 192.0.2.1\n    port: 80\n    real_servers:\n"
            + server("10.0.0.1", long_timeout) + server("10.0.0.2", long_timeout)
            + server("10.0.0.3", bad_rise) + server("10.0.0.4", bad_rise))
    with pytest.raises(ConfigError) as raised:
        loads(text, "c.yaml")
    assert raised.value.problems == [
        "c.yaml:6:16: services[0].real_servers[0].check: timeout 2s is longer than the "
        "interval 1s (a check must end before the next one starts)",
        "c.yaml:8:16: services[0].real_servers[1].check: timeout 2s is longer than the "
        "interval 1s (a check must end before the next one starts)",
        "c.yaml:10:34: services[0].real_servers[2].check.rise: must be 1..100",
        "c.yaml:12:34: services[0].real_servers[3].check.rise: must be 1..100"]
    good = "{type: tcp, port: 8080}"
    cluster = loads("services:\n  - vip: 192.0.2.1\n    port: 80\n    real_servers:\n"
                    + server("10.0.0.1", good)
                    + server("10.0.0.2", good, "        forward: nat\n        port: 80\n")
                    + server("10.0.0.3", good))
    checks = cluster.health[ServiceKey.vip("tcp", "192.0.2.1", 80)].checks
    assert [checks[rs(f"10.0.0.{n}")].via for n in (1, 2, 3)] == ["vip", "address", "vip"]
    assert checks[rs("10.0.0.1")] is checks[rs("10.0.0.3")]
