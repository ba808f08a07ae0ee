"""The no-op read's shortcut: compare what the kernel returns with what the file would encode.

A full read given the desired table need not build a RealServer for every destination it finds.
For a service the desired table has with the same settings, each GET_DEST reply is compared with
the bytes the kernel returns for the desired real servers: address, port, forwarding method,
weight, thresholds and tunnel attributes as one slice, the family and every attribute header
besides; connection counts and counters are skipped. A service whose replies are exactly those,
each once, is *as desired*: nothing of it is built. Any difference, and any layout this module
does not know, hands the same replies (kept) to the run decoders (_fast), so what a differing
service reads as is exactly what a plain read gives.

Sound by construction: what a slice is compared with is encoded from the desired spec, and a
spec is compared only if the reference translation reads its encoding back as that spec
(`Templates`); IPv4 addresses are packed by inet_pton, which takes only the dotted quad the
reader would print. tests/ipvs/test_match.py changes every field and every byte of a reply
and checks that the plain read of the same bytes agrees.
"""

from __future__ import annotations

import operator
import socket
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from ipvsctl import model as m
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs._decode import DestRecord
from ipvsctl.ipvs._wire import GENLHDR, NLA, NLMSGHDR, Ack, walk_dump

# The attributes compared as bytes (identity and settings), and those whose values are skipped.
_COMPARED = frozenset({C.DEST_ATTR_ADDR, C.DEST_ATTR_PORT, C.DEST_ATTR_FWD_METHOD,
                       C.DEST_ATTR_WEIGHT, C.DEST_ATTR_U_THRESH, C.DEST_ATTR_L_THRESH,
                       C.DEST_ATTR_TUN_TYPE, C.DEST_ATTR_TUN_PORT, C.DEST_ATTR_TUN_FLAGS})
_SKIPPED = frozenset({C.DEST_ATTR_ACTIVE_CONNS, C.DEST_ATTR_INACT_CONNS,
                      C.DEST_ATTR_PERSIST_CONNS, C.DEST_ATTR_STATS, C.DEST_ATTR_STATS64})
_PADDED = {C.DEST_ATTR_ADDR: 20, C.DEST_ATTR_ADDR_FAMILY: 8}  # every other compared one: 8


class Layout(NamedTuple):
    """A GET_DEST reply of one length, as the comparison reads it: one struct whose fields are
    the message header, every attribute header, the family, and one slice holding every
    compared attribute (they are adjacent: how Linux writes them)."""

    struct: struct.Struct
    check: operator.itemgetter[Any]  # length, type, seq, every header, the family
    headers: tuple[bytes, ...]
    key: operator.itemgetter[Any]  # the compared slice
    kinds: tuple[tuple[int, bytes], ...]  # compared attributes in order, with their headers


def learn(buf: bytes | bytearray | memoryview, off: int, length: int) -> Layout | None:
    """The layout of the reply at buf[off:off+length], or None (then nothing is compared)."""
    if length % 4:
        return None
    start = off + NLMSGHDR.size + GENLHDR.size + 4
    end = off + length
    fmt = ["=IHHII4x4s"]  # nlmsghdr, genlmsghdr (skipped), the IPVS_CMD_ATTR_DEST header
    headers = [bytes(buf[start - 4:start])]
    check = [0, 1, 3, 5]
    index = 6
    kinds: list[tuple[int, bytes]] = []
    segment: int | None = None  # struct index of the compared slice
    segment_at = 0  # its place in fmt
    segment_done = False
    family: int | None = None
    at = start
    while at + 4 <= end:
        alen, kind = NLA.unpack_from(buf, at)
        kind &= C.NLA_TYPE_MASK
        padded = (alen + 3) & ~3
        if alen < 4 or at + padded > end:
            return None
        header = bytes(buf[at:at + 4])
        if kind in _COMPARED:
            if segment_done or padded != _PADDED.get(kind, 8) or any(k == kind for k, _ in kinds):
                return None
            if segment is None:
                segment, segment_at = index, len(fmt)
                fmt.append("")
                index += 1
            kinds.append((kind, header))
        else:
            if segment is not None:
                segment_done = True
            if kind == C.DEST_ATTR_ADDR_FAMILY and padded == 8 and family is None:
                fmt.append("4sH2x")
                family = index + 1
            elif kind in _SKIPPED:
                fmt.append(f"4s{padded - 4}x" if padded > 4 else "4s")
            else:
                return None  # an attribute this module does not know: decode, not compare
            headers.append(header)
            check.append(index)
            index += 2 if kind == C.DEST_ATTR_ADDR_FAMILY else 1
        at += padded
    if at != end or segment is None or family is None or len(kinds) != len(_COMPARED):
        return None
    fmt[segment_at] = f"{sum(_PADDED.get(k, 8) for k, _ in kinds)}s"
    layout = struct.Struct("".join(fmt))
    if layout.size != length:
        return None
    check.append(family)
    return Layout(layout, operator.itemgetter(*check), tuple(headers),
                  operator.itemgetter(segment), tuple(kinds))


_U32 = struct.Struct("=I")
_U16 = struct.Struct("=H2x")
_BE16 = struct.Struct(">H2x")
_U8 = struct.Struct("=B3x")
_PORTS: dict[int, bytes] = {}


def _values(spec: m.RealServerSpec, fwd_num: dict[str, int], tun_type_num: dict[str, int],
            tun_csum_num: dict[str, int]) -> dict[int, bytes] | None:
    """The payload of each compared attribute but address and port, as Linux writes it."""
    fwd = fwd_num.get(spec.forward)
    if fwd is None:
        return None
    tun_type = tun_port = tun_flags = 0
    if spec.forward == "tunnel":
        tunnel = spec.tunnel or m.Tunnel()
        if tunnel.type not in tun_type_num or tunnel.csum not in tun_csum_num:
            return None
        tun_type, tun_port, tun_flags = (tun_type_num[tunnel.type], tunnel.port,
                                         tun_csum_num[tunnel.csum])
    try:
        return {C.DEST_ATTR_FWD_METHOD: _U32.pack(fwd), C.DEST_ATTR_WEIGHT: _U32.pack(spec.weight),
                C.DEST_ATTR_U_THRESH: _U32.pack(spec.upper_threshold),
                C.DEST_ATTR_L_THRESH: _U32.pack(spec.lower_threshold),
                C.DEST_ATTR_TUN_TYPE: _U8.pack(tun_type),
                C.DEST_ATTR_TUN_PORT: _BE16.pack(tun_port),
                C.DEST_ATTR_TUN_FLAGS: _U16.pack(tun_flags)}
    except struct.error:  # out of the kernel's range: it cannot hold this spec
        return None


class Template(NamedTuple):
    """The compared slice of a real server of one spec, but for its address and port:
    head + address + middle + port + tail (or port before address, as the layout has them)."""

    head: bytes
    middle: bytes
    tail: bytes
    address_first: bool


class Templates:
    """The compared slice per spec and family for one layout, each made once; None for a spec
    the reference translation does not read back from its own encoding (never compared)."""

    def __init__(self, layout: Layout, spec_of: Callable[[DestRecord], m.RealServerSpec],
                 fwd_num: dict[str, int], tun_type_num: dict[str, int],
                 tun_csum_num: dict[str, int]) -> None:
        self.layout = layout
        self._spec_of = spec_of
        self._nums = (fwd_num, tun_type_num, tun_csum_num)
        self.by_spec: dict[tuple[m.RealServerSpec, int], Template | None] = {}

    def get(self, spec: m.RealServerSpec, af: int) -> Template | None:
        try:
            return self.by_spec[spec, af]
        except KeyError:
            made = self.by_spec[spec, af] = self._make(spec, af)
            return made

    def _make(self, spec: m.RealServerSpec, af: int) -> Template | None:
        values = _values(spec, *self._nums)
        if values is None:
            return None
        # The reference translation must read this encoding back as the spec itself.
        back = self._spec_of(DestRecord(
            af, b"", 0, _U32.unpack(values[C.DEST_ATTR_FWD_METHOD])[0], spec.weight,
            spec.upper_threshold, spec.lower_threshold, 0, 0, 0,
            values[C.DEST_ATTR_TUN_TYPE][0], _BE16.unpack(values[C.DEST_ATTR_TUN_PORT])[0],
            _U16.unpack(values[C.DEST_ATTR_TUN_FLAGS])[0], None))
        if back != spec:
            return None
        pieces: list[bytes] = []
        order: list[int] = []
        current = b""
        for kind, header in self.layout.kinds:
            current += header
            if kind == C.DEST_ATTR_ADDR:
                pieces.append(current)
                order.append(kind)
                # An IPv4 address is the first 4 bytes of 16; the kernel zeroes the rest.
                current = b"\0" * 12 if af == C.AF_INET else b""
            elif kind == C.DEST_ATTR_PORT:
                pieces.append(current)
                order.append(kind)
                current = b"\0\0"
            else:
                current += values[kind]
        pieces.append(current)
        return Template(pieces[0], pieces[1], pieces[2], order[0] == C.DEST_ATTR_ADDR)


def port_bytes(port: int) -> bytes:
    raw = _PORTS.get(port)
    if raw is None:
        raw = _PORTS[port] = port.to_bytes(2, "big")
    return raw


def expected_slices(real_servers: dict[m.RealServerKey, m.RealServer], templates: Templates,
                    address_text: Callable[[bytes], str]) -> tuple[set[bytes], int] | None:
    """Every real server's compared slice and the family they share; None if any cannot be
    compared (a spec the kernel cannot hold, two families, an address not spelt as the reader
    prints it)."""
    out: set[bytes] = set()
    family = 0
    pton, inet, inet6, af4, af6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6, \
        C.AF_INET, C.AF_INET6
    join, get = b"".join, templates.get
    for (address, port), rs in real_servers.items():
        try:
            if ":" in address:
                af, raw = af6, pton(inet6, address)
                if address_text(raw) != address:
                    return None
            else:  # inet_pton takes exactly the dotted quads inet_ntop prints
                af, raw = af4, pton(inet, address)
            if family != af:
                if family:
                    return None
                family = af
            tpl = get(rs.spec, af)
            if tpl is None:
                return None
            if tpl.address_first:
                out.add(join((tpl.head, raw, tpl.middle, port_bytes(port), tpl.tail)))
            else:
                out.add(join((tpl.head, port_bytes(port), tpl.middle, raw, tpl.tail)))
        except (OSError, OverflowError, ValueError):
            return None
    return out, family


class DumpMatch:
    """One GET_DEST dump compared with a service's expected slices, buffer by buffer."""

    def __init__(self, layouts: dict[int, Layout | None], family: int, af: int) -> None:
        self.layouts = layouts
        self.family = family
        self.af = af
        self.slices: set[bytes] = set()
        self.replies = 0
        self.differs = False
        self.layout: Layout | None = None

    def same(self, count: int) -> bool:
        """Whether the dump held `count` replies, all compared, no two alike (then they are
        the desired ones if their slices are the expected ones)."""
        return not self.differs and self.replies == len(self.slices) == count

    def parse(self, buf: bytes | bytearray, n: int, seq: int) -> tuple[bool, Ack | None]:
        def one(off: int, length: int) -> None:
            self.differs = True

        def run(off: int, length: int) -> int:
            return self._run(buf, off, length, n, seq)

        return walk_dump(buf, n, seq, self.family, one, run)

    def _run(self, buf: bytes | bytearray, off: int, length: int, n: int, seq: int) -> int:
        try:
            layout = self.layouts[length]
        except KeyError:
            layout = self.layouts[length] = learn(buf, off, length)
        if layout is None or self.differs or (self.layout is not None
                                               and layout is not self.layout):
            return 0
        self.layout = layout
        want = (length, self.family, seq, *layout.headers, self.af)
        count = (n - off) // length
        rows = list(layout.struct.iter_unpack(memoryview(buf)[off:off + count * length]))
        checks = list(map(layout.check, rows))
        if checks.count(want) != count:  # a reply of another kind follows, or one differs
            count = 0
            for got in checks:
                if got != want:
                    break
                count += 1
            rows = rows[:count]
        self.slices.update(map(layout.key, rows))
        self.replies += count
        return count
