"""The IPVS generic-netlink wire format, packed and parsed with `struct`: requests, replies,
attributes, acks and the walk over a dump's replies. No objects per attribute.

Pure functions over bytes (no sockets, no model types), so they are tested on any host.
Byte orders follow the kernel: ports and the IPv4 netmask are big-endian; every other
integer is in host order; an IPv6 service's "netmask" is a host-order prefix length.
The replies' contents are decoded in _decode (the reference decoders, attribute by attribute)
and _fast (the run decoders a full read uses).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple

from ipvsctl.ipvs import _consts as C

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
GENLHDR = struct.Struct("=BBH")  # cmd, version, reserved
NLA = struct.Struct("=HH")  # len, type
HDR_LEN = NLMSGHDR.size + GENLHDR.size  # 20
_U8 = struct.Struct("=HHB3x")
_U16 = struct.Struct("=HHH2x")
_U32 = struct.Struct("=HHI")
_FLAGS = struct.Struct("=HHII")


def _pad(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    n = 4 + len(payload)
    return NLA.pack(n, kind) + payload + b"\0" * (_pad(n) - n)


def nested(kind: int, body: bytes) -> bytes:
    return NLA.pack(4 + len(body), kind | C.NLA_F_NESTED) + body


def u8(kind: int, value: int) -> bytes:
    return _U8.pack(5, kind, value)


def u16(kind: int, value: int) -> bytes:
    return _U16.pack(6, kind, value)


def be16(kind: int, value: int) -> bytes:
    return NLA.pack(6, kind) + value.to_bytes(2, "big") + b"\0\0"


def u32(kind: int, value: int) -> bytes:
    return _U32.pack(8, kind, value)


def asciiz(kind: int, text: str) -> bytes:
    return attr(kind, text.encode("ascii") + b"\0")


def message(family: int, cmd: int, flags: int, seq: int, body: bytes = b"") -> bytes:
    """A complete request: nlmsghdr + genlmsghdr + attributes (pid 0: the kernel fills it)."""
    return (NLMSGHDR.pack(HDR_LEN + len(body), family, flags, seq, 0)
            + GENLHDR.pack(cmd, C.GENL_VERSION, 0) + body)


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


# dest_full(dest_id(AF_INET, addr, port), fwd, ...) as one struct: the commonest request of all
# (a first apply is mostly real-server adds), so one pack instead of eight.
_DEST4_FULL = struct.Struct("=HH4s HH2s2x HHH2x HHI HHI HHI HHI")


def dest4_full(addr: bytes, port: int, fwd: int, weight: int, u_thresh: int,
               l_thresh: int) -> bytes:
    """dest_full of an IPv4 destination without tunnel settings (addr: 4 packed bytes)."""
    return _DEST4_FULL.pack(
        8, C.DEST_ATTR_ADDR, addr, 6, C.DEST_ATTR_PORT, port.to_bytes(2, "big"),
        6, C.DEST_ATTR_ADDR_FAMILY, C.AF_INET, 8, C.DEST_ATTR_FWD_METHOD, fwd,
        8, C.DEST_ATTR_WEIGHT, weight, 8, C.DEST_ATTR_U_THRESH, u_thresh,
        8, C.DEST_ATTR_L_THRESH, l_thresh)


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


def dest_head(cmd: int, service_ident: bytes) -> bytes:
    """What every request of `cmd` about one service's real servers shares after the netlink
    header: the genetlink header and the service's identity (made once per service)."""
    return GENLHDR.pack(cmd, C.GENL_VERSION, 0) + nested(C.CMD_ATTR_SERVICE, service_ident)


def dest_request_after(head: bytes, family: int, flags: int, seq: int,
                       dest_body: bytes) -> bytes:
    """A real-server request from its service's dest_head and the destination's body."""
    n = len(dest_body)
    return (NLMSGHDR.pack(NLMSGHDR.size + len(head) + 4 + n, family, flags, seq, 0) + head
            + NLA.pack(4 + n, C.CMD_ATTR_DEST | C.NLA_F_NESTED) + dest_body)


def dest_request(family: int, cmd: int, flags: int, seq: int, service_ident: bytes,
                 dest_body: bytes) -> bytes:
    return dest_request_after(dest_head(cmd, service_ident), family, flags, seq, dest_body)


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
    unpack = NLA.unpack_from
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
        if length < 16 or off + length > n:  # malformed: no message spans two reads
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
    return attrs(buf, payload + GENLHDR.size, end)


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


SWAP = sys.byteorder == "little"  # ports arrive big-endian and are unpacked as host order


def swap16(value: int) -> int:
    """A 16-bit network-order value read in host order, and back."""
    return (value & 0xFF) << 8 | value >> 8 if SWAP else value
