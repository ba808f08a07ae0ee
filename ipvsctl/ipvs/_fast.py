"""The fast decoders a full read uses: whole runs of same-length replies unpacked at once.

The kernel fills a receive buffer with replies of one length and layout. The first reply of each
length is read attribute by attribute and its layout compiled into one struct; a run of such
replies is then unpacked by one struct.iter_unpack call, each reply's headers checked before its
values are used. Anything else goes to the reference decoders (_decode), which the host tests
compare with these on the same bytes.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs._decode import (
    RAW_ORDER,
    DestRecord,
    ServiceEntry,
    ServiceSettings,
    dest_record,
    raw_order,
    service_entry,
    service_record,
    service_settings,
)
from ipvsctl.ipvs._wire import (
    GENLHDR,
    NLA,
    NLMSGHDR,
    SWAP,
    Ack,
    attrs,
    genl_attrs,
    stats,
    walk_dump,
)

# ---- service dumps ---------------------------------------------------------------------------

_SERVICE_IDENTITY = (C.SVC_ATTR_AF, C.SVC_ATTR_PROTOCOL, C.SVC_ATTR_ADDR, C.SVC_ATTR_PORT)
_SERVICE_SETTINGS = frozenset({C.SVC_ATTR_SCHED_NAME, C.SVC_ATTR_FLAGS, C.SVC_ATTR_TIMEOUT,
                               C.SVC_ATTR_NETMASK, C.SVC_ATTR_PE_NAME})
_SERVICE_STATS = frozenset({C.SVC_ATTR_STATS, C.SVC_ATTR_STATS64})


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
    start = off + NLMSGHDR.size + GENLHDR.size + 4
    end = off + length
    kinds: list[tuple[int, int, int]] = []  # (type, header offset, padded length)
    at = start
    while at + 4 <= end:
        alen, kind = NLA.unpack_from(buf, at)
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
        self.service_settings: dict[bytes, ServiceSettings | None] = {}

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
        pack, known, entry = run.ident.pack, self.service_settings, ServiceEntry
        want = (length, family, seq, *run.headers)
        inet6, swap = C.AF_INET6, SWAP
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
        alen, kind = NLA.unpack_from(raw, at)
        if alen < 4 or (kind & C.NLA_TYPE_MASK) not in _SERVICE_SETTINGS:
            return None
        at += (alen + 3) & ~3
    if at != len(raw) or C.SVC_ATTR_SCHED_NAME not in a:
        return None
    return service_settings(raw, a)


# ---- destination dumps -----------------------------------------------------------------------
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
        length, kind = NLA.unpack_from(buf, off)
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


def _emit_run(run: _Run, buf: bytearray, off: int, length: int, n: int, seq: int, family: int,
              emit: Callable[[tuple[Any, ...]], None]) -> int:
    """Emit the replies of the run starting at off while their headers are what run expects;
    how many were taken."""
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


def _learn_run(buf: bytes | bytearray | memoryview, off: int, length: int) -> _Run | None:
    """The whole-message layout of the reply at buf[off:off+length], or None."""
    if length % 4:
        return None  # runs step by the length: only for lengths already aligned
    start = off + NLMSGHDR.size + GENLHDR.size + 4  # the attributes inside IPVS_CMD_ATTR_DEST
    end = off + length
    fmt = ["=IHHII4x4s"]  # nlmsghdr, genlmsghdr (skipped), the IPVS_CMD_ATTR_DEST header
    headers: list[bytes] = [bytes(buf[start - 4:start])]
    check = [0, 1, 3, 5]  # length, type, seq, the nest header
    values: dict[str, int] = {}
    index = 6
    at = start
    while at + 4 <= end:
        alen, kind = NLA.unpack_from(buf, at)
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
        return 0 if run is None else _emit_run(run, buf, off, length, n, seq, family, emit)

    def decode(self, buf: bytes | bytearray | memoryview, payload: int, end: int,
               service_af: int, with_stats: bool = False) -> tuple[Any, ...]:
        """Decode a GET_DEST reply whose payload (after the nlmsghdr) is buf[payload:end],
        into a tuple shaped like DestRecord (a DestRecord when the careful parser ran)."""
        start = payload + GENLHDR.size + 4  # past genlmsghdr and the IPVS_CMD_ATTR_DEST header
        try:
            layout = self._layouts[end - start]
        except KeyError:
            layout = self._layouts[end - start] = _learn(buf, start, end)
        if layout is None or layout.headers.unpack_from(buf, start) != layout.expected:
            span = attrs(buf, payload + GENLHDR.size, end)[C.CMD_ATTR_DEST]
            return dest_record(buf, span, service_af, with_stats)
        (af, addr, port, fwd, weight, u_thresh, l_thresh, active, inactive, persistent,
         tun_type, tun_port, tun_flags) = layout.pick(layout.values.unpack_from(buf, start))
        if SWAP:
            port = (port & 0xFF) << 8 | port >> 8
            tun_port = (tun_port & 0xFF) << 8 | tun_port >> 8
        st = None
        if with_stats and layout.stats_at is not None:
            at = start + layout.stats_at
            st = stats(buf, (at + 4, at + NLA.unpack_from(buf, at)[0]))
        # A plain tuple in DestRecord's order: a NamedTuple's constructor costs a Python call.
        return (af, addr if af == C.AF_INET6 else addr[:4], port, fwd, weight, u_thresh,
                l_thresh, active, inactive, persistent, tun_type, tun_port, tun_flags, st)


# ---- destination dumps with counters (metrics) -----------------------------------------------
# What a scrape needs of a real server: its address, port, weight, connection counts and the 64-bit
# counters of its IPVS_DEST_ATTR_STATS64 nest. A run of same-length replies is unpacked as above,
# the nest's inner attribute headers checked like every other header; the 32-bit nest (whose
# counters wrap at 4 G) is skipped whole.

COUNTER_ORDER = ("addr", "port", "weight", "active", "inactive", "af")  # then the 10 counters
_STATS_KINDS = range(C.STATS_ATTR_CONNS, C.STATS_ATTR_OUTBPS + 1)


# A counter reply's run has a GET_DEST run's shape; its pick gives COUNTER_ORDER, then the
# counters in attribute order.
_CounterRun = _Run


def _learn_counter_run(buf: bytes | bytearray | memoryview, off: int,
                       length: int) -> _CounterRun | None:
    """The whole-message layout of a GET_DEST reply with its STATS64 nest opened, or None."""
    if length % 4:
        return None
    start = off + NLMSGHDR.size + GENLHDR.size + 4
    end = off + length
    fmt = ["=IHHII4x4s"]
    headers: list[bytes] = [bytes(buf[start - 4:start])]
    check = [0, 1, 3, 5]
    values: dict[str, int] = {}
    stat_at: dict[int, int] = {}
    index = 6

    def header(at: int) -> None:
        nonlocal index
        headers.append(bytes(buf[at:at + 4]))
        check.append(index)
        fmt.append("4s")
        index += 1

    at = start
    while at + 4 <= end:
        alen, kind = NLA.unpack_from(buf, at)
        padded = (alen + 3) & ~3
        kind &= C.NLA_TYPE_MASK
        if alen < 4 or at + alen > end:
            return None
        header(at)
        known = _DEST_FIELDS.get(kind)
        if kind == C.DEST_ATTR_STATS64:
            inner, inner_end = at + 4, at + alen
            while inner + 4 <= inner_end:
                ilen, ikind = NLA.unpack_from(buf, inner)
                ikind &= C.NLA_TYPE_MASK
                if ilen < 4 or inner + ilen > inner_end or ilen % 4:
                    return None
                header(inner)
                if ikind in _STATS_KINDS and ilen == 12 and ikind not in stat_at:
                    stat_at[ikind] = index
                    fmt.append("Q")
                    index += 1
                elif ilen > 4:
                    fmt.append(f"{ilen - 4}x")
                inner += ilen
            if inner != inner_end or padded != alen:
                return None
        elif known is not None:
            if padded - 4 != _PAYLOAD_SIZE[known[1]] or known[0] in values:
                return None
            values[known[0]] = index
            fmt.append(known[1])
            index += 1
        elif padded > 4:
            fmt.append(f"{padded - 4}x")
        at += padded
    layout = struct.Struct("".join(fmt))
    if (at != end or layout.size != length or not set(COUNTER_ORDER) <= set(values)
            or len(stat_at) != len(_STATS_KINDS)):
        return None
    return _CounterRun(layout, operator.itemgetter(*check), tuple(headers),
                       operator.itemgetter(*(values[f] for f in COUNTER_ORDER),
                                           *(stat_at[k] for k in _STATS_KINDS)))


class CounterDecoder:
    """Decodes GET_DEST dump replies into COUNTER_ORDER tuples plus the ten 64-bit counters
    (the address is 16 bytes, the port in network order read as a host integer)."""

    def __init__(self) -> None:
        self._runs: dict[int, _CounterRun | None] = {}

    def decode_buffer(self, buf: bytearray, n: int, seq: int, family: int, service_af: int,
                      emit: Callable[[tuple[Any, ...]], None]) -> tuple[bool, Ack | None]:
        def one(off: int, length: int) -> None:
            emit(counter_tuple(buf, off + 16, off + length, service_af))

        def run(off: int, length: int) -> int:
            try:
                layout = self._runs[length]
            except KeyError:
                layout = self._runs[length] = _learn_counter_run(buf, off, length)
            if layout is None:
                return 0
            return _emit_run(layout, buf, off, length, n, seq, family, emit)

        return walk_dump(buf, n, seq, family, one, run)


def counter_tuple(buf: bytes | bytearray | memoryview, payload: int, end: int,
                  service_af: int) -> tuple[Any, ...]:
    """The reference decoder's answer in CounterDecoder's shape, for any reply."""
    span = attrs(buf, payload + GENLHDR.size, end)[C.CMD_ATTR_DEST]
    r = dest_record(buf, span, service_af, with_stats=True)
    port = (r.port & 0xFF) << 8 | r.port >> 8 if SWAP else r.port
    return (r.addr.ljust(16, b"\0"), port, r.weight, r.active, r.inactive, r.af,
            *(r.stats or (0,) * 10))
