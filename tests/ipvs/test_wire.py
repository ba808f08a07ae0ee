"""IPVS netlink messages encoded and decoded on the host (no kernel needed).

Round trips go model -> wire -> bytes -> record -> model. Replies "from the kernel" are built here
with every attribute in the order Linux 6.1's ip_vs_ctl.c writes them, stats included, so the
fast destination decoder is exercised on the layout it meets in production.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import struct
from pathlib import Path

import pytest

from ipvsctl import model as m
from ipvsctl.director import ops
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _daemon as sd
from ipvsctl.ipvs import _decode as d
from ipvsctl.ipvs import _fast as f
from ipvsctl.ipvs import _translate as t
from ipvsctl.ipvs import _wire as w
from ipvsctl.ipvs._explain import LO_DOWN_HINT, change_error

FAMILY = 0x1F  # any generic netlink family id will do off-kernel
HEADER = Path("/usr/include/linux/ip_vs.h")


# ---- helpers: what the kernel sends ----------------------------------------------------------

def parse_one(data: bytes) -> tuple[bytes, w.Reply]:
    (reply,) = list(w.replies(data, len(data)))
    return data, reply


def stats_nest(kind: int, code: str, base: int) -> bytes:
    pad = w.attr(11, b"") if code == "=Q" else b""  # the kernel pads before u64s
    return w.nested(kind, pad + b"".join(w.attr(i, struct.pack(code, base + i))
                                          for i in range(1, 11)))


def kernel_dest_reply(rs: m.RealServer, active: int = 7, base: int = 100) -> bytes:
    """A GET_DEST dump reply as Linux 6.1 writes it (ip_vs_genl_fill_dest)."""
    af, raw = t.pack_address(rs.key.address)
    spec = rs.spec
    tun = spec.tunnel or m.Tunnel()
    tun_type = t.TUN_TYPE_NUM[tun.type] if spec.forward == "tunnel" else 0
    tun_flags = t.TUN_CSUM_NUM[tun.csum] if spec.forward == "tunnel" else 0
    tun_port = tun.port if spec.forward == "tunnel" else 0
    body = (w.attr(C.DEST_ATTR_ADDR, raw.ljust(16, b"\0"))
            + w.be16(C.DEST_ATTR_PORT, rs.key.port)
            + w.u32(C.DEST_ATTR_FWD_METHOD, t.FWD_NUM[spec.forward])
            + w.u32(C.DEST_ATTR_WEIGHT, spec.weight)
            + w.u8(C.DEST_ATTR_TUN_TYPE, tun_type)
            + w.be16(C.DEST_ATTR_TUN_PORT, tun_port)
            + w.u16(C.DEST_ATTR_TUN_FLAGS, tun_flags)
            + w.u32(C.DEST_ATTR_U_THRESH, spec.upper_threshold)
            + w.u32(C.DEST_ATTR_L_THRESH, spec.lower_threshold)
            + w.u32(C.DEST_ATTR_ACTIVE_CONNS, active)
            + w.u32(C.DEST_ATTR_INACT_CONNS, active + 1)
            + w.u32(C.DEST_ATTR_PERSIST_CONNS, active + 2)
            + w.u16(C.DEST_ATTR_ADDR_FAMILY, af)
            + stats_nest(C.DEST_ATTR_STATS, "=I", base)
            + stats_nest(C.DEST_ATTR_STATS64, "=Q", base))
    return w.message(FAMILY, C.CMD_NEW_DEST, C.NLM_F_MULTI, 9, w.nested(C.CMD_ATTR_DEST, body))


def kernel_service_reply(svc: m.Service) -> bytes:
    """A GET_SERVICE dump reply: our request body plus what the kernel adds (HASHED, stats)."""
    body = t.service_body(svc.key, svc.spec)
    # The kernel reports HASHED on every service; set it inside the flags attribute.
    a = w.attrs(body, 0, len(body))
    s, _ = a[C.SVC_ATTR_FLAGS]
    flags = struct.unpack_from("=I", body, s)[0] | C.SVC_F_HASHED
    body = body[:s] + struct.pack("=I", flags) + body[s + 4:]
    body += stats_nest(C.SVC_ATTR_STATS, "=I", 5) + stats_nest(C.SVC_ATTR_STATS64, "=Q", 5)
    return w.svc_request(FAMILY, C.CMD_NEW_SERVICE, C.NLM_F_MULTI, 3, body)


def decode_service(data: bytes, with_stats: bool = False) -> d.ServiceRecord:
    buf, r = parse_one(data)
    return d.service_record(buf, w.genl_attrs(buf, r.start, r.end)[C.CMD_ATTR_SERVICE],
                            with_stats)


SERVICES = [
    m.Service(m.ServiceKey.vip("tcp", "192.0.2.10", 80), m.ServiceSpec("wrr")),
    m.Service(m.ServiceKey.vip("udp", "2001:db8::10", 53), m.ServiceSpec("rr")),
    m.Service(m.ServiceKey.vip("sctp", "192.0.2.12", 3868), m.ServiceSpec("lc")),
    m.Service(m.ServiceKey.mark(7, 4),
              m.ServiceSpec("sh", frozenset({"sh-port", "sh-fallback"}),
                            m.Persistence(300, 24), one_packet=True)),
    m.Service(m.ServiceKey.mark(8, 6), m.ServiceSpec("mh", frozenset({"mh-port"}),
                                                     m.Persistence(60, 64))),
    m.Service(m.ServiceKey.vip("udp", "192.0.2.11", 5060),
              m.ServiceSpec("rr", persistence=m.Persistence(120, 32, "sip"))),
    m.Service(m.ServiceKey.vip("tcp", "192.0.2.13", 443), m.ServiceSpec("wlc",
                                                                       frozenset({"flag-3"}))),
]
REAL_SERVERS = [
    m.RealServer(m.RealServerKey.of("192.0.2.21", 80), m.RealServerSpec(weight=3)),
    m.RealServer(m.RealServerKey.of("2001:db8::21", 53), m.RealServerSpec(0, "nat", 100, 10)),
    m.RealServer(m.RealServerKey.of("192.0.2.22", 80),
                 m.RealServerSpec(1, "tunnel", tunnel=m.Tunnel("gue", 6080, "remcsum"))),
    m.RealServer(m.RealServerKey.of("2001:db8::22", 80),
                 m.RealServerSpec(65535, "tunnel", tunnel=m.Tunnel("gre", 0, "csum"))),
    m.RealServer(m.RealServerKey.of("192.0.2.23", 0),
                 m.RealServerSpec(2, "tunnel", tunnel=m.Tunnel("ipip", 0, "nocsum"))),
]


# ---- the numbers match the kernel's header ---------------------------------------------------

def header_values() -> dict[str, int]:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    values: dict[str, int] = {}
    for name, value in re.findall(r"#define\s+(IP_?VS_\w+)\s+\(?\s*(0x[0-9a-fA-F]+|\d+)", text):
        values[name] = int(value, 0)
    for name, shift in re.findall(r"#define\s+(IP_VS_\w+)\s+\(1 << (\d+)\)", text):
        values[name] = 1 << int(shift)
    for block in re.findall(r"enum\s*\{(.*?)\}", text, flags=re.S):
        n = -1
        for item in block.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, explicit = item.partition("=")
            n = int(explicit.strip(), 0) if explicit.strip() else n + 1
            values[name.strip()] = n
    return values


@pytest.mark.skipif(not HEADER.exists(), reason="no kernel uapi headers (linux-libc-dev)")
def test_constants_match_the_kernel_header() -> None:
    h = header_values()
    prefixes = {"CMD_ATTR_": "IPVS_CMD_ATTR_", "CMD_": "IPVS_CMD_", "SVC_ATTR_": "IPVS_SVC_ATTR_",
                "DEST_ATTR_": "IPVS_DEST_ATTR_", "INFO_ATTR_": "IPVS_INFO_ATTR_",
                "STATS_ATTR_": "IPVS_STATS_ATTR_", "SVC_F_": "IP_VS_SVC_F_",
                "CONN_F_": "IP_VS_CONN_F_", "TUNNEL_TYPE_": "IP_VS_CONN_F_TUNNEL_TYPE_",
                "TUNNEL_FLAG_": "IP_VS_TUNNEL_ENCAP_FLAG_", "DAEMON_ATTR_": "IPVS_DAEMON_ATTR_",
                "SYNC_STATE_": "IP_VS_STATE_"}
    checked = 0
    for ours, value in vars(C).items():
        for prefix, theirs in prefixes.items():
            if ours.startswith(prefix) and not (prefix == "CMD_" and ours.startswith("CMD_ATTR")):
                name = theirs + ours[len(prefix):]
                assert h[name] == value, f"{ours} = {value}, but {name} = {h[name]}"
                checked += 1
                break
    assert checked >= 60
    assert h["IPVS_GENL_VERSION"] == C.GENL_VERSION


# ---- attribute encoding ----------------------------------------------------------------------

def test_attributes_are_padded_to_four_bytes() -> None:
    assert w.u8(13, 2) == struct.pack("=HHB3x", 5, 13, 2)
    assert w.u16(11, 10) == struct.pack("=HHH2x", 6, 11, 10)
    assert w.be16(4, 80) == struct.pack("=HH", 6, 4) + b"\x00\x50\x00\x00"
    assert w.asciiz(6, "rr") == struct.pack("=HH", 7, 6) + b"rr\0\0"
    assert w.asciiz(6, "wrr") == struct.pack("=HH", 8, 6) + b"wrr\0"
    assert w.nested(1, b"abcd") == struct.pack("=HH", 8, 1 | C.NLA_F_NESTED) + b"abcd"


def test_a_request_carries_its_family_command_and_flags() -> None:
    data = w.message(FAMILY, C.CMD_NEW_SERVICE, C.NLM_F_REQUEST | C.NLM_F_ACK, 42, b"xxxx")
    assert struct.unpack_from("=IHHII", data) == (24, FAMILY, 5, 42, 0)
    assert struct.unpack_from("=BBH", data, 16) == (C.CMD_NEW_SERVICE, C.GENL_VERSION, 0)


def test_nested_attributes_are_found_by_type() -> None:
    data = w.dest_request(FAMILY, C.CMD_NEW_DEST, C.NLM_F_REQUEST, 1,
                          t.service_ident(SERVICES[0].key), t.dest_body(REAL_SERVERS[0]))
    buf, r = parse_one(data)
    top = w.genl_attrs(buf, r.start, r.end)
    assert set(top) == {C.CMD_ATTR_SERVICE, C.CMD_ATTR_DEST}
    svc = w.attrs(buf, *top[C.CMD_ATTR_SERVICE])
    assert set(svc) == {C.SVC_ATTR_AF, C.SVC_ATTR_PROTOCOL, C.SVC_ATTR_ADDR, C.SVC_ATTR_PORT}
    dest = w.attrs(buf, *top[C.CMD_ATTR_DEST])
    assert bytes(buf[slice(*dest[C.DEST_ATTR_ADDR])]) == bytes([192, 0, 2, 21])
    assert w.get_u32(buf, dest[C.DEST_ATTR_FWD_METHOD]) == C.CONN_F_DROUTE


# ---- services --------------------------------------------------------------------------------

@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: str(s.key))
def test_service_round_trip_through_the_wire(svc: m.Service) -> None:
    rec = decode_service(kernel_service_reply(svc), with_stats=True)
    back = t.service_from(d.service_entry(rec), rec.stats)
    assert back.key == svc.key
    assert back.spec == svc.spec  # HASHED stripped, flags named, netmask -> prefix length
    assert back.stats is not None and back.stats.conns == 6 and back.stats.outbps == 15


def linux_service_reply(svc: m.Service, seq: int = 9, extra: bytes = b"") -> bytes:
    """A GET_SERVICE dump reply as Linux 6.1 writes it (ip_vs_genl_fill_service): the address
    attribute is always 16 bytes; `extra` goes between the settings and the counters."""
    data = kernel_service_reply(svc)
    buf, r = parse_one(data)
    span = w.genl_attrs(buf, r.start, r.end)[C.CMD_ATTR_SERVICE]
    body = bytes(buf[span[0]:span[1]])
    a = w.attrs(body, 0, len(body))
    if C.SVC_ATTR_ADDR in a:
        s, e = a[C.SVC_ATTR_ADDR]
        body = body[:s - 4] + w.attr(C.SVC_ATTR_ADDR, body[s:e].ljust(16, b"\0")) + body[e:]
    if extra:
        at = w.attrs(body, 0, len(body))[C.SVC_ATTR_STATS][0] - 4
        body = body[:at] + extra + body[at:]
    return w.svc_request(FAMILY, C.CMD_NEW_SERVICE, C.NLM_F_MULTI, seq, body)


def ident_fields(ident: bytes) -> tuple[int, ...]:
    a = w.attrs(ident, 0, len(ident))
    assert set(a) <= {C.SVC_ATTR_AF, C.SVC_ATTR_PROTOCOL, C.SVC_ATTR_ADDR, C.SVC_ATTR_PORT,
                      C.SVC_ATTR_FWMARK}
    return tuple(int.from_bytes(ident[s:e].rstrip(b"\0") if k == C.SVC_ATTR_ADDR else
                                ident[s:e], "little") for k, (s, e) in sorted(a.items()))


def test_a_service_dump_decodes_as_each_reply_alone() -> None:
    """The lean service decoder (one iter_unpack per run of same-length replies) against the
    careful per-attribute parser: every service of the corpus (fwmark ones go the careful way),
    a stray reply to another request, one with an unknown attribute among its settings, one
    whose identity attributes come in another order, then the end of the dump."""
    replies = [linux_service_reply(svc) for svc in SERVICES]
    good = replies[0]
    stray = good[:8] + struct.pack("=I", 4) + good[12:]
    odd = linux_service_reply(SERVICES[0], extra=w.u32(30, 1))
    af, proto = w.u16(C.SVC_ATTR_AF, C.AF_INET), w.u16(C.SVC_ATTR_PROTOCOL, C.IPPROTO_TCP)
    assert af + proto in good
    swapped = good.replace(af + proto, proto + af)
    more = [linux_service_reply(m.Service(m.ServiceKey.vip("tcp", f"192.0.2.{i}", 80),
                                          m.ServiceSpec("wrr"))) for i in range(100, 104)]
    data = b"".join([*more, *replies, stray, odd, swapped, *more]) + done_message(9)
    buf = bytearray(data)
    out: list[d.ServiceEntry] = []
    dec = f.ServiceDecoder()
    assert dec.decode_buffer(buf, len(buf), 9, FAMILY, out.append) == (True, None)
    expected = [d.service_entry(decode_service(r)) for r in
                [*more, *replies, odd, swapped, *more]]
    assert [e._replace(ident=ident_fields(e.ident)) for e in out] == [
        e._replace(ident=ident_fields(e.ident)) for e in expected]
    assert [t.service_from(e) for e in out] == [t.service_from(e) for e in expected]
    assert any(run is not None for run in dec._runs.values())  # the lean path ran
    assert None in dec._runs.values()  # and the careful one


def test_the_lean_service_ident_is_the_replys_own_identity() -> None:
    """The ident sent to dump a service's real servers is its identity as the kernel wrote it."""
    reply = linux_service_reply(SERVICES[1])
    out: list[d.ServiceEntry] = []
    f.ServiceDecoder().decode_buffer(bytearray(reply), len(reply), 9, FAMILY, out.append)
    (entry,) = out
    body = reply[w.HDR_LEN + 4:]
    assert body.startswith(entry.ident) and len(entry.ident) == 8 + 8 + 20 + 8


def test_fwmark_service_sends_only_family_and_mark() -> None:
    ident = t.service_ident(m.ServiceKey.mark(7, 6))
    assert set(w.attrs(ident, 0, len(ident))) == {C.SVC_ATTR_AF, C.SVC_ATTR_FWMARK}
    rec = decode_service(w.svc_request(FAMILY, 1, 1, 1, ident))
    assert (rec.af, rec.fwmark, rec.protocol, rec.port) == (C.AF_INET6, 7, 0, 0)


def test_non_persistent_services_send_full_netmask_and_zero_timeout() -> None:
    v4 = decode_service(w.svc_request(FAMILY, 1, 1, 1, t.service_body(
        SERVICES[0].key, SERVICES[0].spec)))
    assert (v4.netmask, v4.timeout, v4.flags) == (b"\xff\xff\xff\xff", 0, 0)
    v6 = decode_service(w.svc_request(FAMILY, 1, 1, 1, t.service_body(
        SERVICES[1].key, SERVICES[1].spec)))
    assert (int.from_bytes(v6.netmask, "little"), v6.timeout) == (128, 0)
    assert v6.addr == bytes.fromhex("20010db8000000000000000000000010")


def test_persistence_netmask_conversions() -> None:
    assert t.netmask_bytes(4, 24) == bytes([255, 255, 255, 0])
    assert t.netmask_bytes(4, 32) == b"\xff" * 4
    assert t.netmask_bytes(4, 0) == b"\0" * 4
    assert t.netmask_bytes(6, 64) == struct.pack("=I", 64)
    for plen in (0, 1, 8, 17, 24, 31, 32):
        assert t.prefix_len_of(4, t.netmask_bytes(4, plen)) == plen
    assert t.prefix_len_of(6, struct.pack("=I", 48)) == 48


def test_scheduler_flags_are_named_after_their_scheduler() -> None:
    assert t.scheduler_flag_names("mh", 0x18) == {"mh-fallback", "mh-port"}
    assert t.scheduler_flag_names("sh", 0x10) == {"sh-port"}
    assert t.scheduler_flag_names("wrr", 0x08 | 0x20) == {"flag-1", "flag-3"}
    assert t.scheduler_flag_bits(m.ServiceSpec("sh", frozenset({"sh-fallback"}))) == 0x08
    with pytest.raises(Exception, match="does not apply to scheduler 'rr'"):
        t.scheduler_flag_bits(m.ServiceSpec("rr", frozenset({"mh-port"})))


def test_persistence_engine_is_sent_by_name() -> None:
    svc = SERVICES[5]
    rec = decode_service(w.svc_request(FAMILY, 1, 1, 1, t.service_body(svc.key, svc.spec)))
    assert rec.pe_name == "sip" and rec.flags == C.SVC_F_PERSISTENT and rec.timeout == 120


# ---- real servers ----------------------------------------------------------------------------

@pytest.mark.parametrize("rs", REAL_SERVERS, ids=lambda r: str(r.key))
def test_real_server_round_trip_through_our_request(rs: m.RealServer) -> None:
    data = w.dest_request(FAMILY, C.CMD_NEW_DEST, C.NLM_F_REQUEST, 1, b"", t.dest_body(rs))
    buf, r = parse_one(data)
    af = t.pack_address(rs.key.address)[0]
    rec = d.dest_record(buf, w.genl_attrs(buf, r.start, r.end)[C.CMD_ATTR_DEST], af)
    assert t.real_server_of(rec) == rs


@pytest.mark.parametrize("rs", REAL_SERVERS, ids=lambda r: str(r.key))
def test_kernel_reply_decodes_the_same_on_the_fast_and_careful_paths(rs: m.RealServer) -> None:
    buf, r = parse_one(kernel_dest_reply(rs))
    fast = f.DestDecoder()
    first = fast.decode(buf, r.start, r.end, C.AF_INET, with_stats=True)  # learns the layout
    again = fast.decode(buf, r.start, r.end, C.AF_INET, with_stats=True)  # uses it
    careful = d.dest_record(buf, w.genl_attrs(buf, r.start, r.end)[C.CMD_ATTR_DEST], C.AF_INET,
                            with_stats=True)
    assert first == again == careful
    assert fast._layouts  # the compiled layout was kept
    back = t.real_server_of(again)
    assert back == rs
    assert back.connections == m.Connections(7, 8, 9)
    assert back.stats == m.Stats(*range(101, 111))


def test_fast_decoder_falls_back_when_the_layout_changes() -> None:
    dec = f.DestDecoder()
    rs = REAL_SERVERS[0]
    buf, r = parse_one(kernel_dest_reply(rs))
    dec.decode(buf, r.start, r.end, C.AF_INET)
    # Same length, two attributes swapped (weight before fwd method): must still read right.
    good = kernel_dest_reply(rs)
    fwd, weight = w.u32(C.DEST_ATTR_FWD_METHOD, 3), w.u32(C.DEST_ATTR_WEIGHT, 3)
    swapped = good.replace(fwd + weight, weight + w.u32(C.DEST_ATTR_FWD_METHOD, 0))
    assert swapped != good and len(swapped) == len(good)
    buf2, r2 = parse_one(swapped)
    rec = d.DestRecord(*dec.decode(buf2, r2.start, r2.end, C.AF_INET))
    assert (rec.fwd, rec.weight) == (C.CONN_F_MASQ, 3)


def done_message(seq: int) -> bytes:
    return struct.pack("=IHHIIi", 20, C.NLMSG_DONE, C.NLM_F_MULTI, seq, 0, 0)


def careful(reply: bytes) -> tuple[object, ...]:
    buf, r = parse_one(reply)
    rec = d.dest_record(buf, w.genl_attrs(buf, r.start, r.end)[C.CMD_ATTR_DEST], C.AF_INET)
    return tuple(rec)


def test_a_receive_buffer_of_replies_decodes_as_each_reply_alone() -> None:
    """The run decoder (one iter_unpack per buffer) against the careful per-message parser:
    every real server of the corpus, a stray reply to another request, a same-length reply
    with its attributes in another order, then the end of the dump."""
    replies = [kernel_dest_reply(rs, active=i) for i, rs in enumerate(REAL_SERVERS)]
    good = replies[0]
    fwd, weight = w.u32(C.DEST_ATTR_FWD_METHOD, 3), w.u32(C.DEST_ATTR_WEIGHT, 3)
    swapped = good.replace(fwd + weight, weight + w.u32(C.DEST_ATTR_FWD_METHOD, 0))
    stray = good[:8] + struct.pack("=I", 4) + good[12:]  # same message, sequence number 4
    data = b"".join([*replies[:3], stray, swapped, *replies[3:]]) + done_message(9)
    buf = bytearray(data)
    out: list[tuple[object, ...]] = []
    dec = f.DestDecoder()
    assert dec.decode_buffer(buf, len(buf), 9, FAMILY, C.AF_INET, out.append) == (True, None)
    expected = [careful(r) for r in [*replies[:3], swapped, *replies[3:]]]
    assert out == [d.raw_order(rec) for rec in expected]
    assert dec._runs  # the run layout was learnt and used
    found: dict[m.RealServerKey, m.RealServer] = {}
    add = t.real_servers_into(found)
    for rec in out:
        add(rec)
    # The swapped reply repeats the first address: in a table, the later entry stands.
    assert found == {rs.key: rs for rs in map(t.real_server_of, expected)}
    assert found[REAL_SERVERS[1].key].connections == m.Connections(1, 2, 3)
    assert found[REAL_SERVERS[2].key].connections == m.Connections(2, 3, 4)


def test_every_destination_decoder_reads_the_same_table() -> None:
    """The reference decoder (_decode.dest_record), the per-message layout decoder `show` uses
    and the run decoder a full read uses, each on the same bytes (the whole corpus, twice over,
    in one receive buffer): the same real servers, connection counts and counters."""
    replies = [kernel_dest_reply(rs, active=i, base=10 * i) for i, rs in enumerate(REAL_SERVERS)]
    reference = [careful(r) for r in replies]
    per_message, dec = [], f.DestDecoder()
    for r in replies * 2:
        buf, reply = parse_one(r)
        per_message.append(tuple(dec.decode(buf, reply.start, reply.end, C.AF_INET)))
    assert per_message == reference * 2
    with_stats = []
    for r in replies:
        buf, reply = parse_one(r)
        with_stats.append(t.real_server_of(dec.decode(buf, reply.start, reply.end, C.AF_INET,
                                                      with_stats=True)))
    assert [rs.stats for rs in with_stats] == [m.Stats(*range(10 * i + 1, 10 * i + 11))
                                               for i in range(len(REAL_SERVERS))]
    data = bytearray(b"".join(replies * 2) + done_message(9))
    runs: list[tuple[object, ...]] = []
    assert f.DestDecoder().decode_buffer(data, len(data), 9, FAMILY, C.AF_INET,
                                         runs.append) == (True, None)
    assert runs == [d.raw_order(rec) for rec in reference * 2]
    assert [t.real_server_of(rec) for rec in reference] == with_stats == REAL_SERVERS


def test_a_dump_continues_across_buffers_and_ends_on_its_error() -> None:
    dec, out = f.DestDecoder(), []
    first = bytearray(kernel_dest_reply(REAL_SERVERS[0]) * 3)
    assert dec.decode_buffer(first, len(first), 9, FAMILY, C.AF_INET, out.append) == (False, None)
    assert len(out) == 3
    err = error_ack(9, errno.ESRCH, None)
    done, a = dec.decode_buffer(bytearray(err), len(err), 9, FAMILY, C.AF_INET, out.append)
    assert done and a is not None and a.error == errno.ESRCH and len(out) == 3


def test_both_read_paths_share_one_spec_cache_without_mixing_byte_orders() -> None:
    """A GUE port read message by message (`show`) and its byte-swapped twin read as a run (a
    plan) in one process: each gets its own spec from the shared cache."""
    port = 6080
    twin = w.swap16(port)  # the other port whose bytes, read in host order, look like this one
    first = m.RealServer(m.RealServerKey.of("192.0.2.41", 80),
                         m.RealServerSpec(1, "tunnel", tunnel=m.Tunnel("gue", port)))
    second = m.RealServer(m.RealServerKey.of("192.0.2.42", 80),
                          m.RealServerSpec(1, "tunnel", tunnel=m.Tunnel("gue", twin)))
    buf, r = parse_one(kernel_dest_reply(first))
    assert t.real_server_of(f.DestDecoder().decode(buf, r.start, r.end, C.AF_INET)) == first
    data = bytearray(kernel_dest_reply(second))
    found: dict[m.RealServerKey, m.RealServer] = {}
    f.DestDecoder().decode_buffer(data, len(data), 9, FAMILY, C.AF_INET,
                                  t.real_servers_into(found))
    assert found == {second.key: second}


def test_real_servers_with_equal_settings_share_one_spec_object() -> None:
    dec = f.DestDecoder()
    a = m.RealServer(m.RealServerKey.of("192.0.2.31", 80), m.RealServerSpec(weight=4))
    b = m.RealServer(m.RealServerKey.of("192.0.2.32", 80), m.RealServerSpec(weight=4))
    got = []
    for rs in (a, b):
        buf, r = parse_one(kernel_dest_reply(rs))
        got.append(t.real_server_of(dec.decode(buf, r.start, r.end, C.AF_INET)))
    assert got[0].spec is got[1].spec and got[0].key != got[1].key


def wide_dest_reply(rs: m.RealServer, base: int, pad: bool = True) -> bytes:
    """A GET_DEST reply whose 64-bit counters are past 2**32: the 32-bit nest holds them
    wrapped, as the kernel truncates them there."""
    data = kernel_dest_reply(rs, base=7)
    old32, old64 = stats_nest(C.DEST_ATTR_STATS, "=I", 7), stats_nest(C.DEST_ATTR_STATS64, "=Q", 7)
    assert old32 + old64 in data
    new32 = w.nested(C.DEST_ATTR_STATS, b"".join(
        w.attr(i, struct.pack("=I", (base + i) & 0xFFFFFFFF)) for i in range(1, 11)))
    new64 = w.nested(C.DEST_ATTR_STATS64, (w.attr(11, b"") if pad else b"") + b"".join(
        w.attr(i, struct.pack("=Q", base + i)) for i in range(1, 11)))
    body = data[w.HDR_LEN:].replace(old32 + old64, new32 + new64)
    return w.message(FAMILY, C.CMD_NEW_DEST, C.NLM_F_MULTI, 9,
                     w.nested(C.CMD_ATTR_DEST, body[4:]))


def test_the_counter_decoder_reads_the_64_bit_counters_as_the_reference_does() -> None:
    """Runs of same-length replies (with and without the pad attribute before the u64s), an
    IPv6 one, a tunnelling one and a stray one: the lean counter decoder agrees with
    the reference decoder, and both read STATS64, never the wrapped 32-bit nest."""
    big = 5 << 32
    v4, v6 = REAL_SERVERS[0], REAL_SERVERS[1]
    plain = [wide_dest_reply(v4, big + 10 * i) for i in range(4)]
    unpadded = [wide_dest_reply(v4, big, pad=False) for _ in range(3)]
    odd = wide_dest_reply(v6, big + 1000)
    tunnel = kernel_dest_reply(REAL_SERVERS[2], base=50)
    stray = plain[0][:8] + struct.pack("=I", 4) + plain[0][12:]
    replies = [*plain, *unpadded, odd, tunnel, stray, *plain]
    data = bytearray(b"".join(replies) + done_message(9))
    out: list[tuple[object, ...]] = []
    dec = f.CounterDecoder()
    assert dec.decode_buffer(data, len(data), 9, FAMILY, C.AF_INET, out.append) == (True, None)
    kept = [r for r in replies if r is not stray]
    reference = []
    for reply in kept:
        buf, r = parse_one(reply)
        reference.append(f.counter_tuple(buf, r.start, r.end, C.AF_INET))
    assert out == reference
    assert out[0][6:] == tuple(big + i for i in range(1, 11))  # conns .. outbps, 64-bit
    assert any(run is not None for run in dec._runs.values())  # the lean path ran
    rows: list[m.RealServerCounters] = []
    add = t.counter_rows_into(rows)
    for values in out:
        add(values)
    assert rows[0].key == v4.key and rows[0].weight == v4.spec.weight
    assert (rows[0].active, rows[0].inactive, rows[0].inbytes) == (7, 8, big + 4)
    assert rows[len(plain) + len(unpadded)].key == v6.key


def test_ipv6_addresses_read_back_in_the_configs_spelling() -> None:
    raw = bytes.fromhex("20010db8000000010000000000000001")
    assert t.address_text(raw) == "2001:db8:0:1::1"
    assert t.address_text(bytes([10, 0, 0, 1])) == "10.0.0.1"


# ---- acks ------------------------------------------------------------------------------------

def error_ack(seq: int, err: int, text: str | None) -> bytes:
    flags = C.NLM_F_CAPPED | (C.NLM_F_ACK_TLVS if text else 0)
    body = struct.pack("=iIHHII", -err, 40, FAMILY, 1, seq, 0)
    if text:
        body += w.asciiz(C.NLMSGERR_ATTR_MSG, text)
    return struct.pack("=IHHII", 16 + len(body), C.NLMSG_ERROR, flags, seq, 0) + body


def test_acks_carry_sequence_errno_and_the_kernels_text() -> None:
    data = error_ack(7, errno.EEXIST, None) + error_ack(8, errno.EINVAL, "bad attribute")
    got = [w.ack(data, r) for r in w.replies(data, len(data))]
    assert got == [w.Ack(7, errno.EEXIST, None), w.Ack(8, errno.EINVAL, "bad attribute")]


# ---- refusals in words -----------------------------------------------------------------------

def test_refusals_are_explained_per_change() -> None:
    svc, key = SERVICES[0], SERVICES[0].key
    dr = REAL_SERVERS[0]
    assert change_error(errno.EEXIST, ops.AddService(svc)) == "the service already exists"
    assert change_error(errno.ESRCH, ops.EditService(svc)) == "no such service"
    assert change_error(errno.ENOENT, ops.AddService(svc)) == \
        "scheduler module ip_vs_wrr is not available"
    assert change_error(errno.EINVAL, ops.AddRealServer(key, dr)) == LO_DOWN_HINT
    assert change_error(errno.ESRCH, ops.AddRealServer(key, dr)) == \
        "no such service tcp/192.0.2.10:80"
    v6_in_v4 = m.RealServer(m.RealServerKey.of("2001:db8::5", 80))
    assert "needs tunnel forwarding" in change_error(errno.EINVAL,
                                                      ops.AddRealServer(key, v6_in_v4))
    assert change_error(errno.ENOENT, ops.DrainRealServer(key, dr)) == \
        "no such real server in this service"


# ---- the sync daemon -------------------------------------------------------------------------

def kernel_daemon_reply(daemon: m.SyncDaemon, maxlen: int = 1472) -> bytes:
    """A GET_DAEMON dump reply as Linux 6.1 writes it (ip_vs_genl_fill_daemon): every
    attribute, maxlen as the kernel chose it, the port in host order."""
    group = ipaddress.ip_address(daemon.group)
    body = (w.u32(C.DAEMON_ATTR_STATE, sd.STATE[daemon.state])
            + w.asciiz(C.DAEMON_ATTR_MCAST_IFN, daemon.interface)
            + w.u32(C.DAEMON_ATTR_SYNC_ID, daemon.syncid)
            + w.u16(C.DAEMON_ATTR_SYNC_MAXLEN, daemon.maxlen or maxlen)
            + w.u16(C.DAEMON_ATTR_MCAST_PORT, daemon.port)
            + w.u8(C.DAEMON_ATTR_MCAST_TTL, daemon.ttl)
            + w.attr(C.DAEMON_ATTR_MCAST_GROUP6 if group.version == 6
                     else C.DAEMON_ATTR_MCAST_GROUP, group.packed))
    return w.message(FAMILY, C.CMD_NEW_DAEMON, C.NLM_F_MULTI, 3,
                     w.nested(C.CMD_ATTR_DAEMON, body))


DAEMONS = [
    m.SyncDaemon("master", "eth0", 7),
    m.SyncDaemon("backup", "bond0.100", 255, 1000, 8849, 2, "224.0.0.82"),
    m.SyncDaemon("master", "eth1", 0, None, 65535, 255, "ff02::8848"),
]


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda x: f"{x.state}-{x.interface}")
def test_sync_daemon_read_back_is_what_was_declared(daemon: m.SyncDaemon) -> None:
    buf, r = parse_one(kernel_daemon_reply(daemon))
    back = sd.daemon_of(bytearray(buf), r.start, r.end)
    assert back is not None
    assert daemon.satisfied_by(back)
    assert back.maxlen == (daemon.maxlen or 1472)


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda x: f"{x.state}-{x.interface}")
def test_sync_daemon_start_spells_out_every_setting(daemon: m.SyncDaemon) -> None:
    data = w.message(FAMILY, C.CMD_NEW_DAEMON, C.NLM_F_REQUEST | C.NLM_F_ACK, 1,
                     sd.start_body(daemon))
    buf, r = parse_one(data)
    (span,) = w.genl_attrs(buf, r.start, r.end).values()
    a = w.attrs(buf, *span)
    assert bytes(buf[slice(*a[C.DAEMON_ATTR_MCAST_IFN])]).rstrip(b"\0") == \
        daemon.interface.encode()
    # The port goes in host order (nla_get_u16), unlike the big-endian service ports.
    assert struct.unpack_from("=H", buf, a[C.DAEMON_ATTR_MCAST_PORT][0])[0] == daemon.port
    assert (C.DAEMON_ATTR_SYNC_MAXLEN in a) == (daemon.maxlen is not None)
    group = C.DAEMON_ATTR_MCAST_GROUP6 if ":" in daemon.group else C.DAEMON_ATTR_MCAST_GROUP
    assert bytes(buf[slice(*a[group])]) == ipaddress.ip_address(daemon.group).packed
    back = sd.daemon_of(bytearray(buf), r.start, r.end)
    assert back is not None and daemon.satisfied_by(back)


def test_sync_daemon_stop_names_only_its_state() -> None:
    body = sd.stop_body("backup")
    assert body == w.nested(C.CMD_ATTR_DAEMON, w.u32(C.DAEMON_ATTR_STATE, 2))


@pytest.mark.parametrize(("err", "text"), [
    (errno.EEXIST, "the sync daemon's master thread is already running (started by another "
                   "tool?)"),
    (errno.ENODEV, "no interface eth0 in this network namespace"),
    (errno.EINVAL, "the kernel refused the sync daemon's master thread's settings (the group "
                   "must be multicast, the interface up and able to multicast)"),
])
def test_sync_daemon_refusals_in_words(err: int, text: str) -> None:
    assert change_error(err, ops.StartSyncDaemon(DAEMONS[0])) == text


# ---- the one-struct encoding of an IPv4 real server is the attribute-by-attribute one --------

def _reference_request(cmd: int, seq: int, svc: m.ServiceKey, rs: m.RealServer) -> bytes:
    """The request built attribute by attribute, as before the one-struct path."""
    spec = rs.spec
    af, raw = t.pack_address(rs.key.address)
    tunnel = None
    if spec.forward == "tunnel":
        tun = spec.tunnel or m.Tunnel()
        tunnel = (t.TUN_TYPE_NUM[tun.type], tun.port, t.TUN_CSUM_NUM[tun.csum])
    body = w.dest_full(w.dest_id(af, raw, rs.key.port), t.FWD_NUM[spec.forward], spec.weight,
                       spec.upper_threshold, spec.lower_threshold, tunnel)
    return w.message(FAMILY, cmd, C.NLM_F_REQUEST, seq,
                     w.nested(C.CMD_ATTR_SERVICE, t.service_ident(svc))
                     + w.nested(C.CMD_ATTR_DEST, body))


ENCODED = [  # (real server address, port, forwarding, weight, upper, lower)
    ("192.0.2.1", 80, "dr", 1, 0, 0),
    ("10.128.0.255", 0, "dr", 0, 0, 0),
    ("255.255.255.254", 65535, "dr", 2**32 - 1, 2**32 - 1, 2**32 - 1),
    ("198.51.100.7", 8080, "nat", 100, 5000, 10),
    ("198.51.100.8", 443, "local", 7, 0, 0),
    ("198.51.100.9", 53, "tunnel", 3, 0, 0),  # tunnel: the general path
    ("2001:db8::21", 80, "dr", 5, 1, 0),  # IPv6: the general path
]


@pytest.mark.parametrize(("address", "port", "forward", "weight", "upper", "lower"), ENCODED)
@pytest.mark.parametrize("cmd", [C.CMD_NEW_DEST, C.CMD_SET_DEST])
def test_real_server_requests_are_byte_for_byte_the_reference(
        cmd: int, address: str, port: int, forward: str, weight: int, upper: int,
        lower: int) -> None:
    svc = (m.ServiceKey(6, "tcp", "2001:db8::1", 80) if ":" in address
           else m.ServiceKey(4, "tcp", "203.0.113.1", 80))
    rs = m.RealServer(m.RealServerKey(address, port),
                      m.RealServerSpec(weight=weight, forward=forward, upper_threshold=upper,
                                       lower_threshold=lower))
    head = w.dest_head(cmd, t.service_ident(svc))
    got = w.dest_request_after(head, FAMILY, C.NLM_F_REQUEST, 77, t.dest_body(rs))
    assert got == _reference_request(cmd, 77, svc, rs)
    assert w.dest_request(FAMILY, cmd, C.NLM_F_REQUEST, 77, t.service_ident(svc),
                          t.dest_body(rs)) == got
