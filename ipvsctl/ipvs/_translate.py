"""Model objects <-> IPVS wire attributes: the one private translator behind the adapter.

Normalisation happens here and only here: the kernel's HASHED flag is stripped, scheduler flag
bits get their scheduler's names, persistence netmasks become prefix lengths, and the settings a
non-persistent service must still send (netmask all-ones, timeout 0) are filled in.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from ipvsctl import model as m
from ipvsctl.config.vocabulary import GENERIC_FLAGS, SCHEDULER_FLAG_BITS, scheduler_flag
from ipvsctl.errors import KernelError
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _decode as d
from ipvsctl.ipvs import _wire as w

PROTO_NUM = {"tcp": C.IPPROTO_TCP, "udp": C.IPPROTO_UDP, "sctp": C.IPPROTO_SCTP}
PROTO_NAME = {v: k for k, v in PROTO_NUM.items()}
AF_OF_FAMILY = {4: C.AF_INET, 6: C.AF_INET6}
FAMILY_OF_AF = {C.AF_INET: 4, C.AF_INET6: 6}
FWD_NUM = {"nat": C.CONN_F_MASQ, "tunnel": C.CONN_F_TUNNEL, "dr": C.CONN_F_DROUTE,
           "local": C.CONN_F_LOCALNODE}
FWD_NAME = {v: k for k, v in FWD_NUM.items()}
TUN_TYPE_NUM = {"ipip": C.TUNNEL_TYPE_IPIP, "gue": C.TUNNEL_TYPE_GUE, "gre": C.TUNNEL_TYPE_GRE}
TUN_TYPE_NAME = {v: k for k, v in TUN_TYPE_NUM.items()}
TUN_CSUM_NUM = {"nocsum": C.TUNNEL_FLAG_NOCSUM, "csum": C.TUNNEL_FLAG_CSUM,
                "remcsum": C.TUNNEL_FLAG_REMCSUM}
_SCHED_BITS = (C.SVC_F_SCHED1, C.SVC_F_SCHED2, C.SVC_F_SCHED3)  # scheduler flag bits 1..3


# ---- addresses -------------------------------------------------------------------------------

def pack_address(address: str) -> tuple[int, bytes]:
    """(AF_INET|AF_INET6, packed bytes) for an address string."""
    if ":" in address:
        return C.AF_INET6, socket.inet_pton(socket.AF_INET6, address)
    return C.AF_INET, socket.inet_pton(socket.AF_INET, address)


_TEXT_CACHE: dict[bytes, str] = {}


def address_text(raw: bytes) -> str:
    """Compressed text of a packed address, spelt exactly like ipaddress (the config's form)."""
    text = _TEXT_CACHE.get(raw)
    if text is None:
        if len(raw) == 4:
            text = socket.inet_ntop(socket.AF_INET, raw)
        else:
            text = ipaddress.IPv6Address(raw).compressed
        if len(_TEXT_CACHE) < 1_000_000:
            _TEXT_CACHE[raw] = text
    return text


# ---- services --------------------------------------------------------------------------------

def service_ident(key: m.ServiceKey) -> bytes:
    af = AF_OF_FAMILY[key.family]
    if key.is_fwmark:
        return w.service_id(af, 0, b"", 0, key.fwmark)
    proto = PROTO_NUM.get(key.protocol)
    if proto is None:
        raise KernelError(f"service {key}: protocol {key.protocol!r} is not one IPVS knows")
    return w.service_id(af, proto, pack_address(key.address)[1], key.port, 0)


def scheduler_flag_bits(spec: m.ServiceSpec) -> int:
    bits = 0
    for name in spec.scheduler_flags:
        if name in GENERIC_FLAGS:
            number = GENERIC_FLAGS.index(name) + 1
        else:
            owner, number = SCHEDULER_FLAG_BITS.get(name, ("", 0))
            number = number if owner == spec.scheduler else 0
        if not number:
            raise KernelError(f"scheduler flag {name!r} does not apply to scheduler "
                              f"{spec.scheduler!r}")
        bits |= _SCHED_BITS[number - 1]
    return bits


def scheduler_flag_names(scheduler: str, flags: int) -> frozenset[str]:
    names = []
    for number, bit in enumerate(_SCHED_BITS, start=1):
        if flags & bit:
            names.append(scheduler_flag(scheduler, number) or GENERIC_FLAGS[number - 1])
    return frozenset(names)


def netmask_bytes(family: int, prefix_len: int) -> bytes:
    """The kernel's persistence netmask: an IPv4 mask, or an IPv6 prefix length (host order)."""
    if family == 6:
        return prefix_len.to_bytes(4, "little")
    return ((0xFFFFFFFF << (32 - prefix_len)) & 0xFFFFFFFF).to_bytes(4, "big")


def prefix_len_of(family: int, raw: bytes) -> int:
    if family == 6:
        return int.from_bytes(raw, "little")
    mask = int.from_bytes(raw, "big")
    return 32 - ((~mask & 0xFFFFFFFF).bit_length())


def service_body(key: m.ServiceKey, spec: m.ServiceSpec, ident: bytes | None = None) -> bytes:
    """Full service attributes, as ipvsadm sends them."""
    flags = scheduler_flag_bits(spec)
    if spec.one_packet:
        flags |= C.SVC_F_ONEPACKET
    full_prefix = 128 if key.family == 6 else 32
    timeout, prefix, engine = 0, full_prefix, None
    if spec.persistence is not None:
        flags |= C.SVC_F_PERSISTENT
        timeout = spec.persistence.timeout
        prefix = spec.persistence.prefix_len
        engine = spec.persistence.engine
    return w.service_full(ident if ident is not None else service_ident(key), spec.scheduler,
                          flags, timeout, netmask_bytes(key.family, prefix), engine)


def stats_of(values: tuple[int, ...] | None) -> m.Stats | None:
    return m.Stats(*values) if values is not None else None


_SERVICE_SPECS: dict[tuple[int, d.ServiceSettings], m.ServiceSpec] = {}


def service_from(entry: d.ServiceEntry, counters: tuple[int, ...] | None = None) -> m.Service:
    """A Service (no real servers yet) from a dump's entry, with its counters if read."""
    family = FAMILY_OF_AF.get(entry.af, 0)
    if entry.fwmark:
        key = m.ServiceKey.mark(entry.fwmark, family)
    else:
        proto = PROTO_NAME.get(entry.protocol, str(entry.protocol))
        key = m.ServiceKey(family, proto, address_text(entry.addr), entry.port, 0)
    # A table of 10,000 services has a handful of distinct settings: decode each once.
    cache_key = (family, entry.settings)
    spec = _SERVICE_SPECS.get(cache_key)
    if spec is None:
        spec = _service_spec(family, entry.settings)
        if len(_SERVICE_SPECS) < 10_000:
            _SERVICE_SPECS[cache_key] = spec
    return m.Service(key, spec, {}, None, None, stats_of(counters))


def _service_spec(family: int, settings: d.ServiceSettings) -> m.ServiceSpec:
    persistence = None
    if settings.flags & C.SVC_F_PERSISTENT:
        persistence = m.Persistence(settings.timeout, prefix_len_of(family, settings.netmask),
                                    settings.pe_name or None)
    return m.ServiceSpec(
        scheduler=settings.sched,
        scheduler_flags=scheduler_flag_names(settings.sched, settings.flags),
        persistence=persistence,
        one_packet=bool(settings.flags & C.SVC_F_ONEPACKET),
    )


# ---- real servers ----------------------------------------------------------------------------

def dest_ident(rs: m.RealServerKey) -> bytes:
    af, raw = pack_address(rs.address)
    return w.dest_id(af, raw, rs.port)


def dest_body(rs: m.RealServer) -> bytes:
    spec = rs.spec
    fwd = FWD_NUM.get(spec.forward)
    if fwd is None:
        raise KernelError(f"real server {rs.key}: forwarding method {spec.forward!r} is unknown")
    key = rs.key
    if ":" not in key.address and spec.forward != "tunnel":
        return w.dest4_full(socket.inet_pton(socket.AF_INET, key.address), key.port, fwd,
                            spec.weight, spec.upper_threshold, spec.lower_threshold)
    tunnel = None
    if spec.forward == "tunnel":
        t = spec.tunnel or m.Tunnel()
        tunnel = (TUN_TYPE_NUM[t.type], t.port, TUN_CSUM_NUM[t.csum])
    return w.dest_full(dest_ident(rs.key), fwd, spec.weight, spec.upper_threshold,
                       spec.lower_threshold, tunnel)


# Settings as RAW_ORDER[2:9] (tunnel port still in network order) -> the one shared spec.
_SPEC_CACHE: dict[tuple[Any, ...], m.RealServerSpec] = {}


def real_server_of(rec: tuple[Any, ...]) -> m.RealServer:
    """A RealServer from a DestRecord-shaped tuple (the per-message decoder's), counters too;
    the same translation as a full read's, through the same cache."""
    out: dict[m.RealServerKey, m.RealServer] = {}
    _add_real_server(out, d.raw_order(rec))
    (rs,) = out.values()
    if rec[13] is not None:
        rs.stats = m.Stats(*rec[13])
    return rs


_IDLE = m.Connections()  # most real servers have no connections: one shared (frozen) object
_NONE = (0, 0, 0)


def _add_real_server(out: dict[m.RealServerKey, m.RealServer], v: tuple[Any, ...],
                     specs: dict[tuple[Any, ...], m.RealServerSpec] = _SPEC_CACHE,
                     new_tuple: Callable[..., Any] = tuple.__new__,
                     new_key: type[m.RealServerKey] = m.RealServerKey,
                     new_rs: type[m.RealServer] = m.RealServer,
                     conns: type[m.Connections] = m.Connections,
                     ntop: Callable[[int, bytes], str] = socket.inet_ntop,
                     af_inet: int = socket.AF_INET, inet: int = C.AF_INET,
                     swap: Callable[[int], int] = w.swap16) -> None:
    # Constants are bound as defaults: this runs once per real server on every full read.
    settings = v[2:9]  # fwd, weight, thresholds, tunnel type/port/flags (ports raw)
    spec = specs.get(settings)
    if spec is None:
        spec = spec_of(d.DestRecord(
            v[12], b"", 0, v[2], v[3], v[4], v[5], 0, 0, 0, v[6], swap(v[7]), v[8], None))
        if len(specs) < 100_000:
            specs[settings] = spec
    addr = v[0]
    key = new_tuple(new_key, (ntop(af_inet, addr[:4]) if v[12] == inet else address_text(addr),
                              swap(v[1])))
    counts = v[9:12]
    out[key] = new_rs(key, spec, False, None, None, _IDLE if counts == _NONE else conns(*counts))


def real_servers_into(out: dict[m.RealServerKey, m.RealServer]
                      ) -> Callable[[tuple[Any, ...]], None]:
    """A sink for DestDecoder.decode_buffer: each RAW_ORDER tuple becomes a RealServer in `out`
    (the hot loop of a full read: 110,000 calls for 10,000 services)."""
    return functools.partial(_add_real_server, out)


def spec_of(rec: d.DestRecord) -> m.RealServerSpec:
    forward = FWD_NAME.get(rec.fwd & C.CONN_F_FWD_MASK, f"fwd-{rec.fwd}")
    tunnel = None
    if forward == "tunnel":
        csum = ("remcsum" if rec.tun_flags & C.TUNNEL_FLAG_REMCSUM else
                "csum" if rec.tun_flags & C.TUNNEL_FLAG_CSUM else "nocsum")
        tunnel = m.Tunnel(TUN_TYPE_NAME.get(rec.tun_type, str(rec.tun_type)), rec.tun_port,
                          csum)
    return m.RealServerSpec(rec.weight, forward, rec.u_thresh, rec.l_thresh, tunnel)


# ---- counters (metrics) ----------------------------------------------------------------------

_NO_STATS = (0,) * 10


def counter_rows_into(out: list[m.RealServerCounters]) -> Callable[[tuple[Any, ...]], None]:
    """A sink for CounterDecoder.decode_buffer: each tuple becomes a RealServerCounters."""
    append, new_key, new_row = out.append, m.RealServerKey, m.RealServerCounters
    ntop, af_inet, inet, swap = socket.inet_ntop, socket.AF_INET, C.AF_INET, w.swap16
    new_tuple = tuple.__new__

    def add(v: tuple[Any, ...]) -> None:
        addr = v[0]
        key = new_tuple(new_key, (ntop(af_inet, addr[:4]) if v[5] == inet
                                  else address_text(addr), swap(v[1])))
        append(new_tuple(new_row, (key, v[2], v[3], v[4], *v[6:16])))

    return add


def service_counters(entry: d.ServiceEntry, stats: tuple[int, ...] | None,
                     real_servers: list[m.RealServerCounters]) -> m.ServiceCounters:
    key = service_from(entry).key
    values = stats if stats is not None and len(stats) == 10 else _NO_STATS
    return m.ServiceCounters(key, values, real_servers)  # type: ignore[arg-type]
