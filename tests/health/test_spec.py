"""Check specs: hashable values, the default path (`via`) per forwarding method, in words."""

from __future__ import annotations

from ipvsctl.health import DnsCheck, ExecCheck, HttpCheck, NoCheck, TcpCheck, UdpCheck
from ipvsctl.health.spec import default_via
from ipvsctl.health.target import target_of
from ipvsctl.model import RealServerKey, ServiceKey


def test_equal_specs_are_one_key() -> None:
    a = HttpCheck(path="/health", status=((200, 204),), tls=True)
    b = HttpCheck(path="/health", status=((200, 204),), tls=True)
    assert a == b and hash(a) == hash(b) and len({a, b, TcpCheck()}) == 2
    assert TcpCheck() != NoCheck()  # same fields, different types


def test_default_via() -> None:
    assert default_via("dr", "tcp") == "vip"
    assert default_via("tunnel", "http") == "vip"
    assert default_via("nat", "tcp") == "address"
    assert default_via("dr", "exec") == "address"
    assert default_via("dr", "tcp", fwmark=True) == "address"


def test_describe() -> None:
    assert TcpCheck(via="vip").describe() == (
        "tcp check every 2s (timeout 1s, rise 2, fall 3) via vip")
    assert HttpCheck(path="/h", tls=True, sni="www.example.test", interval=1,
                     timeout=0.5).describe() == (
        "https check GET /h, status 200-299, no verify, SNI www.example.test every 1s "
        "(timeout 0.5s, rise 2, fall 3) via address")
    assert DnsCheck(name="example.test", qtype="A").details() == "A example.test expects NOERROR"
    assert UdpCheck(payload=b"ping", expect=b"pong").details() == (
        "payload 4 bytes, expect b'pong'")
    assert ExecCheck(argv=("/bin/check", "a b")).details() == "/bin/check 'a b'"
    assert NoCheck().describe() == "no check"


def test_targets() -> None:
    web = ServiceKey.vip("tcp", "192.0.2.10", 80)
    rs = RealServerKey.of("10.0.0.11", 80)
    assert target_of(web, rs, TcpCheck()).destination == ("10.0.0.11", 80)
    vip = target_of(web, rs, TcpCheck(via="vip", port=8080))
    assert vip.destination == ("192.0.2.10", 8080) and vip.via_vip
    assert vip.describe() == "tcp 10.0.0.11:8080 via 192.0.2.10"
    # exec checks know the VIP (their environment) but go nowhere themselves
    ex = target_of(web, rs, ExecCheck(argv=("/bin/true",)))
    assert ex.vip == "192.0.2.10" and not ex.via_vip
    # fwmark services have no VIP to send a check to
    mark = target_of(ServiceKey.mark(7), RealServerKey.of("10.0.0.11", 0), TcpCheck(port=80))
    assert mark.destination == ("10.0.0.11", 80) and not mark.via_vip
