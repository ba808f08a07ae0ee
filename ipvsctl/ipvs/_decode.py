"""The reference decoders: one for a service, one for a destination, attribute by attribute.

Plain and obviously right (moby/ipvs's assembleService and assembleDestination are the model):
every attribute is looked up by type, a missing one takes its default. They decode `show`'s
replies with counters, narrowed reads, and every reply the fast decoders (_fast) do not take;
the host tests prove the fast decoders agree with these on the same bytes.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs._wire import attrs, get_text, get_u32, service_id, stats, swap16


def _u16(buf: bytes | bytearray | memoryview, span: tuple[int, int]) -> int:
    return int.from_bytes(buf[span[0]:span[0] + 2], sys.byteorder)


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


def service_settings(buf: bytes | bytearray | memoryview,
                     a: dict[int, tuple[int, int]]) -> ServiceSettings:
    """The settings attributes of a service (found by type in `a`)."""
    netmask_span = a.get(C.SVC_ATTR_NETMASK)
    return ServiceSettings(
        sched=get_text(buf, a.get(C.SVC_ATTR_SCHED_NAME)) or "",
        flags=get_u32(buf, a.get(C.SVC_ATTR_FLAGS)),
        timeout=get_u32(buf, a.get(C.SVC_ATTR_TIMEOUT)),
        netmask=bytes(buf[netmask_span[0]:netmask_span[0] + 4]) if netmask_span else b"",
        pe_name=get_text(buf, a.get(C.SVC_ATTR_PE_NAME)) or None,
    )


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
        *service_settings(buf, a),
        st,
    )


def service_entry(rec: ServiceRecord) -> ServiceEntry:
    """The entry of a service decoded attribute by attribute."""
    return ServiceEntry(rec.af, rec.protocol, rec.addr, rec.port, rec.fwmark,
                        ServiceSettings(rec.sched, rec.flags, rec.timeout, rec.netmask,
                                        rec.pe_name),
                        service_id(rec.af, rec.protocol, rec.addr, rec.port, rec.fwmark))


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


# What _fast.DestDecoder.decode_buffer emits, ordered for its one consumer (_translate): [2:9] are
# the settings (a cache key), [9:12] the connection counts. The address is 16 bytes (the first
# 4 for IPv4) and both ports are in network byte order, read as host integers: `swap16` them.
RAW_ORDER = ("addr", "port", "fwd", "weight", "u_thresh", "l_thresh", "tun_type", "tun_port",
             "tun_flags", "active", "inactive", "persistent", "af")


def raw_order(rec: tuple[Any, ...]) -> tuple[Any, ...]:
    """A DestRecord-shaped tuple (from the per-message decoder) in RAW_ORDER."""
    r = DestRecord._make((*rec[:13], None))
    return (r.addr.ljust(16, b"\0"), swap16(r.port), r.fwd, r.weight, r.u_thresh, r.l_thresh,
            r.tun_type, swap16(r.tun_port), r.tun_flags, r.active, r.inactive, r.persistent,
            r.af)
