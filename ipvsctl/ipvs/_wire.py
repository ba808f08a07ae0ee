"""IPVS generic-netlink messages packed and parsed with `struct`: no objects per attribute.

Pure functions over bytes (no sockets, no model types), so they are tested on any host.
Byte orders follow the kernel: ports and the IPv4 netmask are big-endian; every other
integer is in host order; an IPv6 service's "netmask" is a host-order prefix length.
"""

from __future__ import annotations

import operator
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from ipvsctl.ipvs import _consts as C

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_GENLHDR = struct.Struct("=BBH")  # cmd, version, reserved
_NLA = struct.Struct("=HH")  # len, type
_HDR_LEN = NLMSGHDR.size + _GENLHDR.size  # 20
_U8 = struct.Struct("=HHB3x")
_U16 = struct.Struct("=HHH2x")
_U32 = struct.Struct("=HHI")
_FLAGS = struct.Struct("=HHII")


def _pad(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    n = 4 + len(payload)
    return _NLA.pack(n, kind) + payload + b"\0" * (_pad(n) - n)


def nested(kind: int, body: bytes) -> bytes:
    return _NLA.pack(4 + len(body), kind | C.NLA_F_NESTED) + body


def u8(kind: int, value: int) -> bytes:
    return _U8.pack(5, kind, value)


def u16(kind: int, value: int) -> bytes:
    return _U16.pack(6, kind, value)


def be16(kind: int, value: int) -> bytes:
    return _NLA.pack(6, kind) + value.to_bytes(2, "big") + b"\0\0"


def u32(kind: int, value: int) -> bytes:
    return _U32.pack(8, kind, value)


def asciiz(kind: int, text: str) -> bytes:
    return attr(kind, text.encode("ascii") + b"\0")


def message(family: int, cmd: int, flags: int, seq: int, body: bytes = b"") -> bytes:
    """A complete request: nlmsghdr + genlmsghdr + attributes (pid 0: the kernel fills it)."""
    return (NLMSGHDR.pack(_HDR_LEN + len(body), family, flags, seq, 0)
            + _GENLHDR.pack(cmd, C.GENL_VERSION, 0) + body)


# ---- encoding IPVS objects -------------------------------------------------------------------

def service_id(af: int, protocol: int, addr: bytes, port: int, fwmark: int) -> bytes:
    """The attributes that identify a service (the body of IPVS_CMD_ATTR_SERVICE)."""
    if fwmark:
        return u16(C.SVC_ATTR_AF, af) + u32(C.SVC_ATTR_FWMARK, fwmark)
    return (u16(C.SVC_ATTR_AF, af) + u16(C.SVC_ATTR_PROTOCOL, protocol)
            + attr(C.SVC_ATTR_ADDR, addr) + be16(C.SVC_ATTR_PORT, port))


def service_full(ident: bytes, sched: str, flags: int, timeout: int, netmask: bytes,
                 pe_name: str | None) -> bytes:
    """A full service entry (add/edit): identity plus every setting the kernel requires."""
    body = (ident + asciiz(C.SVC_ATTR_SCHED_NAME, sched)
            + _FLAGS.pack(12, C.SVC_ATTR_FLAGS, flags, 0xFFFFFFFF)
            + u32(C.SVC_ATTR_TIMEOUT, timeout) + attr(C.SVC_ATTR_NETMASK, netmask))
    if pe_name:
        body += asciiz(C.SVC_ATTR_PE_NAME, pe_name)
    return body


def dest_id(af: int, addr: bytes, port: int) -> bytes:
    return (attr(C.DEST_ATTR_ADDR, addr) + be16(C.DEST_ATTR_PORT, port)
            + u16(C.DEST_ATTR_ADDR_FAMILY, af))


_DEST_SETTINGS = struct.Struct("=HHI HHI HHI HHI")


def dest_full(ident: bytes, fwd: int, weight: int, u_thresh: int, l_thresh: int,
              tunnel: tuple[int, int, int] | None = None) -> bytes:
    """A full destination entry; tunnel = (type, port, flags) for tunnelling real servers."""
    body = ident + _DEST_SETTINGS.pack(
        8, C.DEST_ATTR_FWD_METHOD, fwd, 8, C.DEST_ATTR_WEIGHT, weight,
        8, C.DEST_ATTR_U_THRESH, u_thresh, 8, C.DEST_ATTR_L_THRESH, l_thresh)
    if tunnel is not None:
        body += (u8(C.DEST_ATTR_TUN_TYPE, tunnel[0]) + be16(C.DEST_ATTR_TUN_PORT, tunnel[1])
                 + u16(C.DEST_ATTR_TUN_FLAGS, tunnel[2]))
    return body


def svc_request(family: int, cmd: int, flags: int, seq: int, service_body: bytes) -> bytes:
    return message(family, cmd, flags, seq, nested(C.CMD_ATTR_SERVICE, service_body))


def dest_request(family: int, cmd: int, flags: int, seq: int, service_ident: bytes,
                 dest_body: bytes) -> bytes:
    return message(family, cmd, flags, seq, nested(C.CMD_ATTR_SERVICE, service_ident)
                   + nested(C.CMD_ATTR_DEST, dest_body))


def timeouts_body(tcp: int | None, tcpfin: int | None, udp: int | None) -> bytes:
    """SET_CONFIG body; an absent attribute keeps the kernel's current value."""
    body = b""
    for kind, value in ((C.CMD_ATTR_TIMEOUT_TCP, tcp), (C.CMD_ATTR_TIMEOUT_TCP_FIN, tcpfin),
                        (C.CMD_ATTR_TIMEOUT_UDP, udp)):
        if value is not None:
            body += u32(kind, value)
    return body


# ---- parsing ---------------------------------------------------------------------------------

class Reply(NamedTuple):
    type: int
    flags: int
    seq: int
    start: int  # offset of the payload (after nlmsghdr)
    end: int


def replies(buf: bytes | bytearray | memoryview, n: int) -> Iterator[Reply]:
    """Every netlink message in buf[:n]."""
    unpack = NLMSGHDR.unpack_from
    off = 0
    while off + 16 <= n:
        length, kind, flags, seq, _pid = unpack(buf, off)
        if length < 16 or off + length > n:
            break
        yield Reply(kind, flags, seq, off + 16, off + length)
        off += _pad(length)


def attrs(buf: bytes | bytearray | memoryview, start: int, end: int) -> dict[int, tuple[int, int]]:
    """Attribute type -> (payload start, payload end) for attributes in buf[start:end]."""
    out: dict[int, tuple[int, int]] = {}
    unpack = _NLA.unpack_from
    off = start
    while off + 4 <= end:
        length, kind = unpack(buf, off)
        if length < 4:
            break
        out[kind & C.NLA_TYPE_MASK] = (off + 4, off + length)
        off += (length + 3) & ~3
    return out


class Ack(NamedTuple):
    seq: int  # the sequence number of the request it answers
    error: int  # 0 = success, else a positive errno
    message: str | None  # the kernel's extended-ack text, if any


_ERR = struct.Struct("=iIHHII")  # error, then the echoed request's nlmsghdr


def ack(buf: bytes | bytearray | memoryview, r: Reply) -> Ack:
    error, _len, _type, _flags, seq, _pid = _ERR.unpack_from(buf, r.start)
    text = None
    if r.flags & C.NLM_F_ACK_TLVS:
        # With NETLINK_CAP_ACK the echoed request is its header alone (16 bytes).
        tlv_start = r.start + 4 + (16 if r.flags & C.NLM_F_CAPPED else _len)
        found = attrs(buf, tlv_start, r.end).get(C.NLMSGERR_ATTR_MSG)
        if found:
            text = bytes(buf[found[0]:found[1]]).rstrip(b"\0").decode("utf-8", "replace")
    return Ack(seq, -error, text)


DUMP_END = (C.NLMSG_DONE, C.NLMSG_ERROR)


def end_of_dump(buf: bytes | bytearray | memoryview, r: Reply) -> tuple[bool, Ack | None]:
    """(True, the error) for the message that ends a dump: NLMSG_DONE, or an NLMSG_ERROR
    (error 0 is a plain end)."""
    if r.type == C.NLMSG_ERROR:
        a = ack(buf, r)
        return True, (a if a.error else None)
    return True, None


def walk_dump(buf: bytes | bytearray | memoryview, n: int, seq: int, family: int,
              one: Callable[[int, int], None],
              run: Callable[[int, int], int] | None = None) -> tuple[bool, Ack | None]:
    """The loop every dump reader shares, over the replies of dump `seq` in buf[:n]: each reply
    at (offset, length) goes first to `run`, which may take a run of same-length replies from
    there and says how many it took, else to `one` alone. Returns (the dump is done, the error
    that ended it, if any); other messages (a stray reply to something earlier) are skipped."""
    off = 0
    unpack = NLMSGHDR.unpack_from
    while off + 16 <= n:
        length, kind, flags, rseq, _pid = unpack(buf, off)
        if length < 16:
            break
        if rseq == seq:
            if kind == family:
                taken = run(off, length) if run is not None else 0
                if taken:
                    off += taken * length
                    continue
                one(off, length)
            elif kind in DUMP_END:
                return end_of_dump(buf, Reply(kind, flags, rseq, off + 16, off + length))
        off += (length + 3) & ~3
    return False, None


def genl_attrs(buf: bytes | bytearray | memoryview, payload: int,
               end: int) -> dict[int, tuple[int, int]]:
    """The top-level attributes of a generic netlink reply whose payload is buf[payload:end]."""
    return attrs(buf, payload + _GENLHDR.size, end)


def _u16(buf: bytes | bytearray | memoryview, span: tuple[int, int]) -> int:
    return int.from_bytes(buf[span[0]:span[0] + 2], sys.byteorder)


def get_u32(buf: bytes | bytearray | memoryview, span: tuple[int, int] | None,
            default: int = 0) -> int:
    if span is None:
        return default
    return int(struct.unpack_from("=I", buf, span[0])[0])


def get_text(buf: bytes | bytearray | memoryview, span: tuple[int, int] | None) -> str | None:
    if span is None:
        return None
    return bytes(buf[span[0]:span[1]]).split(b"\0", 1)[0].decode("ascii", "replace")


def stats(buf: bytes | bytearray | memoryview, span: tuple[int, int]) -> tuple[int, ...]:
    """IPVS_STATS_ATTR_CONNS..OUTBPS from a nested stats/stats64 attribute (u32 or u64 each)."""
    values = [0] * 10
    for kind, (s, e) in attrs(buf, span[0], span[1]).items():
        if C.STATS_ATTR_CONNS <= kind <= C.STATS_ATTR_OUTBPS:
            values[kind - 1] = int.from_bytes(buf[s:e], sys.byteorder)
    return tuple(values)


class ServiceRecord(NamedTuple):
    af: int
    protocol: int
    addr: bytes  # 4 or 16 bytes, as the family says
    port: int
    fwmark: int
    sched: str
    flags: int
    timeout: int
    netmask: bytes  # the raw 4 bytes
    pe_name: str | None
    stats: tuple[int, ...] | None


def _addr(buf: bytes | bytearray | memoryview, span: tuple[int, int] | None, af: int) -> bytes:
    if span is None:
        return b""
    return bytes(buf[span[0]:span[0] + (16 if af == C.AF_INET6 else 4)])


def service_record(buf: bytes | bytearray | memoryview, span: tuple[int, int],
                   with_stats: bool = False) -> ServiceRecord:
    """Decode the body of an IPVS_CMD_ATTR_SERVICE attribute."""
    a = attrs(buf, span[0], span[1])
    af = _u16(buf, a[C.SVC_ATTR_AF])
    port_span = a.get(C.SVC_ATTR_PORT)
    st = None
    if with_stats:
        sspan = a.get(C.SVC_ATTR_STATS64) or a.get(C.SVC_ATTR_STATS)
        st = stats(buf, sspan) if sspan else None
    return ServiceRecord(
        af,
        _u16(buf, a[C.SVC_ATTR_PROTOCOL]) if C.SVC_ATTR_PROTOCOL in a else 0,
        _addr(buf, a.get(C.SVC_ATTR_ADDR), af),
        int.from_bytes(buf[port_span[0]:port_span[0] + 2], "big") if port_span else 0,
        get_u32(buf, a.get(C.SVC_ATTR_FWMARK)),
        *_settings(buf, a),
        st,
    )


class ServiceSettings(NamedTuple):
    """A service's settings as the kernel reports them (what its spec is made from)."""

    sched: str
    flags: int
    timeout: int
    netmask: bytes
    pe_name: str | None


class ServiceEntry(NamedTuple):
    """One service of a GET_SERVICE dump, without counters, as a full read needs it."""

    af: int
    protocol: int
    addr: bytes  # 4 or 16 bytes, as the family says
    port: int
    fwmark: int
    settings: ServiceSettings
    ident: bytes  # the attributes naming it in a request (the IPVS_CMD_ATTR_SERVICE body)


_SERVICE_IDENTITY = (C.SVC_ATTR_AF, C.SVC_ATTR_PROTOCOL, C.SVC_ATTR_ADDR, C.SVC_ATTR_PORT)
_SERVICE_SETTINGS = frozenset({C.SVC_ATTR_SCHED_NAME, C.SVC_ATTR_FLAGS, C.SVC_ATTR_TIMEOUT,
                               C.SVC_ATTR_NETMASK, C.SVC_ATTR_PE_NAME})
_SERVICE_STATS = frozenset({C.SVC_ATTR_STATS, C.SVC_ATTR_STATS64})


def _settings(buf: bytes | bytearray | memoryview,
              a: dict[int, tuple[int, int]]) -> ServiceSettings:
    netmask_span = a.get(C.SVC_ATTR_NETMASK)
    return ServiceSettings(
        sched=get_text(buf, a.get(C.SVC_ATTR_SCHED_NAME)) or "",
        flags=get_u32(buf, a.get(C.SVC_ATTR_FLAGS)),
        timeout=get_u32(buf, a.get(C.SVC_ATTR_TIMEOUT)),
        netmask=bytes(buf[netmask_span[0]:netmask_span[0] + 4]) if netmask_span else b"",
        pe_name=get_text(buf, a.get(C.SVC_ATTR_PE_NAME)) or None,
    )


def service_entry(rec: ServiceRecord) -> ServiceEntry:
    """The entry of a service decoded attribute by attribute."""
    return ServiceEntry(rec.af, rec.protocol, rec.addr, rec.port, rec.fwmark,
                        ServiceSettings(rec.sched, rec.flags, rec.timeout, rec.netmask,
                                        rec.pe_name),
                        service_id(rec.af, rec.protocol, rec.addr, rec.port, rec.fwmark))


class _ServiceRun(NamedTuple):
    """A whole GET_SERVICE reply of one length as one struct (see _Run): the identity
    attributes' headers and values, the settings attributes as one raw slice (their own cache
    key), the counters skipped."""

    struct: struct.Struct
    headers: tuple[bytes, ...]  # the nest's and the identity attributes' headers
    ident: struct.Struct  # packs the identity attributes back, as the reply had them


# nlmsghdr, genlmsghdr (skipped), the nest header; AF, PROTOCOL, ADDR (sized per run), PORT.
_SERVICE_RUN_HEAD = "=IHHII4x4s4sH2x4sH2x4s{addr}s4sH2x{settings}s{rest}x"
_IDENT = "=4sH2x4sH2x4s{addr}s4sH2x"


def _learn_service_run(buf: bytes | bytearray | memoryview, off: int,
                       length: int) -> _ServiceRun | None:
    """The layout of the reply at buf[off:off+length] if it is identity, settings, counters in
    that order (how Linux fills it for an address service), else None."""
    if length % 4:
        return None
    start = off + NLMSGHDR.size + _GENLHDR.size + 4
    end = off + length
    kinds: list[tuple[int, int, int]] = []  # (type, header offset, padded length)
    at = start
    while at + 4 <= end:
        alen, kind = _NLA.unpack_from(buf, at)
        if alen < 4 or at + alen > end:
            return None
        kinds.append((kind & C.NLA_TYPE_MASK, at, (alen + 3) & ~3))
        at += (alen + 3) & ~3
    if at != end or tuple(k for k, _, _ in kinds[:4]) != _SERVICE_IDENTITY:
        return None
    sizes = [size for _, _, size in kinds[:4]]
    if sizes[0] != 8 or sizes[1] != 8 or sizes[2] not in (8, 20) or sizes[3] != 8:
        return None
    rest = kinds[4:]
    n_settings = 0
    while n_settings < len(rest) and rest[n_settings][0] in _SERVICE_SETTINGS:
        n_settings += 1
    if any(k not in _SERVICE_STATS for k, _, _ in rest[n_settings:]):
        return None
    settings = sum(size for _, _, size in rest[:n_settings])
    tail = sum(size for _, _, size in rest[n_settings:])
    layout = struct.Struct(_SERVICE_RUN_HEAD.format(addr=sizes[2] - 4, settings=settings,
                                                    rest=tail))
    if layout.size != length:
        return None
    headers = (bytes(buf[start - 4:start]),
               *(bytes(buf[a:a + 4]) for _, a, _ in kinds[:4]))
    return _ServiceRun(layout, headers, struct.Struct(_IDENT.format(addr=sizes[2] - 4)))


class ServiceDecoder:
    """Decodes a GET_SERVICE dump for a full read: a run of same-length replies is unpacked by
    one struct.iter_unpack call, each reply's headers checked before use, and each distinct
    settings slice decoded once; any other reply goes attribute by attribute."""

    def __init__(self) -> None:
        self._runs: dict[int, _ServiceRun | None] = {}
        self._settings: dict[bytes, ServiceSettings | None] = {}

    def decode_buffer(self, buf: bytearray, n: int, seq: int, family: int,
                      emit: Callable[[ServiceEntry], None]) -> tuple[bool, Ack | None]:
        """Call `emit` with every service of dump `seq` in buf[:n]; return (the dump is done,
        the error that ended it, if any)."""

        def run(off: int, length: int) -> int:
            return self._run(buf, off, length, n, seq, family, emit)

        def one(off: int, length: int) -> None:  # not a run: attribute by attribute
            span = genl_attrs(buf, off + 16, off + length)[C.CMD_ATTR_SERVICE]
            emit(service_entry(service_record(buf, span)))

        return walk_dump(buf, n, seq, family, one, run)

    def _run(self, buf: bytearray, off: int, length: int, n: int, seq: int, family: int,
             emit: Callable[[ServiceEntry], None]) -> int:
        """Emit the run of replies starting at off; how many were taken (0: not a run)."""
        try:
            run = self._runs[length]
        except KeyError:
            run = self._runs[length] = _learn_service_run(buf, off, length)
        if run is None:
            return 0
        pack, known, entry = run.ident.pack, self._settings, ServiceEntry
        want = (length, family, seq, *run.headers)
        inet6, swap = C.AF_INET6, _SWAP
        taken = 0
        count = (n - off) // length
        for (size, kind, _f, rseq, _p, nest, af_h, af, proto_h, proto, addr_h, addr, port_h,
             port, raw) in run.struct.iter_unpack(memoryview(buf)[off:off + count * length]):
            if (size, kind, rseq, nest, af_h, proto_h, addr_h, port_h) != want:
                break
            try:
                settings = known[raw]
            except KeyError:
                settings = known[raw] = _settings_of(raw)
            if settings is None:
                break  # settings this decoder does not read: the careful path takes it
            ident_bytes = pack(af_h, af, proto_h, proto, addr_h, addr, port_h, port)
            emit(entry(af, proto, addr if af == inet6 else addr[:4],
                       (port & 0xFF) << 8 | port >> 8 if swap else port, 0, settings,
                       ident_bytes))
            taken += 1
        return taken


def _settings_of(raw: bytes) -> ServiceSettings | None:
    """The settings in a raw slice of settings attributes; None unless it is exactly that."""
    a = attrs(raw, 0, len(raw))
    at = 0
    while at + 4 <= len(raw):  # attrs() stops quietly on a bad header: check the walk ends
        alen, kind = _NLA.unpack_from(raw, at)
        if alen < 4 or (kind & C.NLA_TYPE_MASK) not in _SERVICE_SETTINGS:
            return None
        at += (alen + 3) & ~3
    if at != len(raw) or C.SVC_ATTR_SCHED_NAME not in a:
        return None
    return _settings(raw, a)


class DestRecord(NamedTuple):
    af: int
    addr: bytes
    port: int
    fwd: int
    weight: int
    u_thresh: int
    l_thresh: int
    active: int
    inactive: int
    persistent: int
    tun_type: int
    tun_port: int
    tun_flags: int
    stats: tuple[int, ...] | None


def dest_record(buf: bytes | bytearray | memoryview, span: tuple[int, int], service_af: int,
                with_stats: bool = False) -> DestRecord:
    """Decode the body of an IPVS_CMD_ATTR_DEST attribute."""
    a = attrs(buf, span[0], span[1])
    g = a.get
    af_span = g(C.DEST_ATTR_ADDR_FAMILY)
    af = _u16(buf, af_span) if af_span else service_af
    port_span = g(C.DEST_ATTR_PORT)
    tport = g(C.DEST_ATTR_TUN_PORT)
    ttype = g(C.DEST_ATTR_TUN_TYPE)
    tflags = g(C.DEST_ATTR_TUN_FLAGS)
    st = None
    if with_stats:
        sspan = g(C.DEST_ATTR_STATS64) or g(C.DEST_ATTR_STATS)
        st = stats(buf, sspan) if sspan else None
    return DestRecord(
        af=af,
        addr=_addr(buf, g(C.DEST_ATTR_ADDR), af),
        port=int.from_bytes(buf[port_span[0]:port_span[0] + 2], "big") if port_span else 0,
        fwd=get_u32(buf, g(C.DEST_ATTR_FWD_METHOD)),
        weight=get_u32(buf, g(C.DEST_ATTR_WEIGHT)),
        u_thresh=get_u32(buf, g(C.DEST_ATTR_U_THRESH)),
        l_thresh=get_u32(buf, g(C.DEST_ATTR_L_THRESH)),
        active=get_u32(buf, g(C.DEST_ATTR_ACTIVE_CONNS)),
        inactive=get_u32(buf, g(C.DEST_ATTR_INACT_CONNS)),
        persistent=get_u32(buf, g(C.DEST_ATTR_PERSIST_CONNS)),
        tun_type=buf[ttype[0]] if ttype else 0,
        tun_port=int.from_bytes(buf[tport[0]:tport[0] + 2], "big") if tport else 0,
        tun_flags=_u16(buf, tflags) if tflags else 0,
        stats=st,
    )


# ---- the fast path for destination dumps -----------------------------------------------------
# The kernel writes every destination of one address family with the same attributes in the
# same order. The first message of each length is parsed attribute by attribute and its layout
# remembered as two compiled structs: one that extracts the attribute headers (to prove a later
# message has exactly that layout) and one that extracts every value in one call.

_DEST_FIELDS: dict[int, tuple[str, str]] = {  # attribute -> (DestRecord field, struct code)
    C.DEST_ATTR_ADDR_FAMILY: ("af", "H2x"),
    C.DEST_ATTR_ADDR: ("addr", "16s"),
    C.DEST_ATTR_PORT: ("port", "H2x"),
    C.DEST_ATTR_FWD_METHOD: ("fwd", "I"),
    C.DEST_ATTR_WEIGHT: ("weight", "I"),
    C.DEST_ATTR_U_THRESH: ("u_thresh", "I"),
    C.DEST_ATTR_L_THRESH: ("l_thresh", "I"),
    C.DEST_ATTR_ACTIVE_CONNS: ("active", "I"),
    C.DEST_ATTR_INACT_CONNS: ("inactive", "I"),
    C.DEST_ATTR_PERSIST_CONNS: ("persistent", "I"),
    C.DEST_ATTR_TUN_TYPE: ("tun_type", "B3x"),
    C.DEST_ATTR_TUN_PORT: ("tun_port", "H2x"),
    C.DEST_ATTR_TUN_FLAGS: ("tun_flags", "H2x"),
}
_PAYLOAD_SIZE = {"16s": 16, "H2x": 4, "I": 4, "B3x": 4}
_RECORD_ORDER = tuple(DestRecord._fields[:13])  # every field but stats
# What DestDecoder.decode_buffer emits, ordered for its one consumer (_translate): [2:9] are
# the settings (a cache key), [9:12] the connection counts. The address is 16 bytes (the first
# 4 for IPv4) and both ports are in network byte order, read as host integers: `swap16` them.
RAW_ORDER = ("addr", "port", "fwd", "weight", "u_thresh", "l_thresh", "tun_type", "tun_port",
             "tun_flags", "active", "inactive", "persistent", "af")
_SWAP = sys.byteorder == "little"  # ports arrive big-endian and are unpacked as host order


class _Layout(NamedTuple):
    headers: struct.Struct
    expected: tuple[bytes, ...]
    values: struct.Struct
    pick: operator.itemgetter[Any]  # values in DestRecord order
    stats_at: int | None  # offset of the stats64 (or stats) attribute, relative to the nest


def _learn(buf: bytes | bytearray | memoryview, start: int, end: int) -> _Layout | None:
    """The layout of one destination nest, or None if the careful parser must handle it."""
    hdr_fmt, val_fmt = ["="], ["="]
    expected: list[bytes] = []
    fields: list[str] = []
    stats_at: dict[int, int] = {}
    off = start
    while off + 4 <= end:
        length, kind = _NLA.unpack_from(buf, off)
        padded = (length + 3) & ~3
        kind &= C.NLA_TYPE_MASK
        if length < 4 or off + length > end:
            return None
        expected.append(bytes(buf[off:off + 4]))
        hdr_fmt.append(f"4s{padded - 4}x" if padded > 4 else "4s")
        val_fmt.append("4x")
        known = _DEST_FIELDS.get(kind)
        if known is not None:
            if padded - 4 != _PAYLOAD_SIZE[known[1]] or known[0] in fields:
                return None
            fields.append(known[0])
            val_fmt.append(known[1])
        else:
            if kind in (C.DEST_ATTR_STATS, C.DEST_ATTR_STATS64):
                stats_at[kind] = off - start
            if padded > 4:
                val_fmt.append(f"{padded - 4}x")
        off += padded
    if off != end or set(fields) != set(_RECORD_ORDER):
        return None  # e.g. a kernel without tunnel attributes: the careful parser fills defaults
    at = stats_at.get(C.DEST_ATTR_STATS64, stats_at.get(C.DEST_ATTR_STATS))
    return _Layout(struct.Struct("".join(hdr_fmt)), tuple(expected),
                   struct.Struct("".join(val_fmt)),
                   operator.itemgetter(*(fields.index(f) for f in _RECORD_ORDER)), at)


class _Run(NamedTuple):
    """A whole GET_DEST reply message of one length as one struct: a run of such messages in a
    receive buffer is unpacked by struct.iter_unpack in one C call."""

    struct: struct.Struct
    check: operator.itemgetter[Any]  # length, type, seq and every attribute header
    headers: tuple[bytes, ...]  # what the attribute headers must be
    pick: operator.itemgetter[Any]  # values in RAW_ORDER


def _learn_run(buf: bytes | bytearray | memoryview, off: int, length: int) -> _Run | None:
    """The whole-message layout of the reply at buf[off:off+length], or None."""
    if length % 4:
        return None  # runs step by the length: only for lengths already aligned
    start = off + NLMSGHDR.size + _GENLHDR.size + 4  # the attributes inside IPVS_CMD_ATTR_DEST
    end = off + length
    fmt = ["=IHHII4x4s"]  # nlmsghdr, genlmsghdr (skipped), the IPVS_CMD_ATTR_DEST header
    headers: list[bytes] = [bytes(buf[start - 4:start])]
    check = [0, 1, 3, 5]  # length, type, seq, the nest header
    values: dict[str, int] = {}
    index = 6
    at = start
    while at + 4 <= end:
        alen, kind = _NLA.unpack_from(buf, at)
        padded = (alen + 3) & ~3
        if alen < 4 or at + alen > end:
            return None
        headers.append(bytes(buf[at:at + 4]))
        check.append(index)
        fmt.append("4s")
        index += 1
        known = _DEST_FIELDS.get(kind & C.NLA_TYPE_MASK)
        if known is not None:
            if padded - 4 != _PAYLOAD_SIZE[known[1]] or known[0] in values:
                return None
            values[known[0]] = index
            fmt.append(known[1])
            index += 1
        elif padded > 4:
            fmt.append(f"{padded - 4}x")
        at += padded
    layout = struct.Struct("".join(fmt))
    if at != end or layout.size != length or set(values) != set(_RECORD_ORDER):
        return None
    return _Run(layout, operator.itemgetter(*check), tuple(headers),
                operator.itemgetter(*(values[f] for f in RAW_ORDER)))


def swap16(value: int) -> int:
    """A 16-bit network-order value read in host order, and back."""
    return (value & 0xFF) << 8 | value >> 8 if _SWAP else value


def raw_order(rec: tuple[Any, ...]) -> tuple[Any, ...]:
    """A DestRecord-shaped tuple (from the per-message decoder) in RAW_ORDER."""
    r = DestRecord._make((*rec[:13], None))
    return (r.addr.ljust(16, b"\0"), swap16(r.port), r.fwd, r.weight, r.u_thresh, r.l_thresh,
            r.tun_type, swap16(r.tun_port), r.tun_flags, r.active, r.inactive, r.persistent,
            r.af)


class DestDecoder:
    """Decodes destination dump replies; layouts are learnt per message length."""

    def __init__(self) -> None:
        self._layouts: dict[int, _Layout | None] = {}
        self._runs: dict[int, _Run | None] = {}

    def decode_buffer(self, buf: bytearray, n: int, seq: int, family: int, service_af: int,
                      emit: Callable[[tuple[Any, ...]], None]) -> tuple[bool, Ack | None]:
        """Call `emit` with every GET_DEST reply of dump `seq` in buf[:n], as a tuple in
        RAW_ORDER; return (the dump is done, the error that ended it, if any).

        The kernel fills a receive buffer with replies of one length and layout: a run of them
        is unpacked with one struct.iter_unpack call, each checked (length, type, sequence,
        every attribute header) before its values are used; any other message goes through
        the per-message decoder."""

        def one(off: int, length: int) -> None:  # not a run: attribute by attribute
            emit(raw_order(self.decode(buf, off + 16, off + length, service_af)))

        def run(off: int, length: int) -> int:
            return self._run(buf, off, length, n, seq, family, emit)

        return walk_dump(buf, n, seq, family, one, run)

    def _run(self, buf: bytearray, off: int, length: int, n: int, seq: int, family: int,
             emit: Callable[[tuple[Any, ...]], None]) -> int:
        """Emit the run of replies starting at off; how many were taken (0: not a run)."""
        try:
            run = self._runs[length]
        except KeyError:
            run = self._runs[length] = _learn_run(buf, off, length)
        if run is None:
            return 0
        want = (length, family, seq, *run.headers)
        check, pick = run.check, run.pick
        taken = 0
        count = (n - off) // length
        for values in run.struct.iter_unpack(memoryview(buf)[off:off + count * length]):
            if check(values) != want:
                break
            emit(pick(values))
            taken += 1
        return taken

    def decode(self, buf: bytes | bytearray | memoryview, payload: int, end: int,
               service_af: int, with_stats: bool = False) -> tuple[Any, ...]:
        """Decode a GET_DEST reply whose payload (after the nlmsghdr) is buf[payload:end],
        into a tuple shaped like DestRecord (a DestRecord when the careful parser ran)."""
        start = payload + _GENLHDR.size + 4  # past genlmsghdr and the IPVS_CMD_ATTR_DEST header
        try:
            layout = self._layouts[end - start]
        except KeyError:
            layout = self._layouts[end - start] = _learn(buf, start, end)
        if layout is None or layout.headers.unpack_from(buf, start) != layout.expected:
            span = attrs(buf, payload + _GENLHDR.size, end)[C.CMD_ATTR_DEST]
            return dest_record(buf, span, service_af, with_stats)
        (af, addr, port, fwd, weight, u_thresh, l_thresh, active, inactive, persistent,
         tun_type, tun_port, tun_flags) = layout.pick(layout.values.unpack_from(buf, start))
        if _SWAP:
            port = (port & 0xFF) << 8 | port >> 8
            tun_port = (tun_port & 0xFF) << 8 | tun_port >> 8
        st = None
        if with_stats and layout.stats_at is not None:
            at = start + layout.stats_at
            st = stats(buf, (at + 4, at + _NLA.unpack_from(buf, at)[0]))
        # A plain tuple in DestRecord's order: a NamedTuple's constructor costs a Python call.
        return (af, addr if af == C.AF_INET6 else addr[:4], port, fwd, weight, u_thresh,
                l_thresh, active, inactive, persistent, tun_type, tun_port, tun_flags, st)
