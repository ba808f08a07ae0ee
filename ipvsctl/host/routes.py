"""The director's routes towards real servers, as the kernel decides them (`ip route get`).

A `via: vip` check must leave from the director's own address on the interface towards the real
server (its source would otherwise be the VIP itself, when the director holds it), and the
reply, sourced from the VIP, arrives on that interface. One RTM_GETROUTE per address, sent in
batches on one rtnetlink socket: 100,000 real servers cost well under a second, and the answer
is the kernel's own (policy rules, metrics and all), not a copy of its logic.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable

from ipvsctl.errors import HostError
from ipvsctl.health.target import Route

NETLINK_ROUTE = 0
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST = 1
RTA_DST, RTA_OIF, RTA_PREFSRC = 1, 4, 7
BATCH = 128
_HEADER = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_ATTR = struct.Struct("=HH")


def routes_to(addresses: Iterable[str]) -> dict[str, Route | None]:
    """The route to each address in this thread's namespace; None where there is none."""
    wanted = sorted(set(addresses))
    out: dict[str, Route | None] = {}
    if not wanted:
        return out
    names: dict[int, str] = {}
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
    except OSError as exc:
        raise HostError(f"cannot open an rtnetlink socket: {exc.strerror}") from exc
    with sock:
        sock.bind((0, 0))
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            sock.send(b"".join(_request(seq, a) for seq, a in enumerate(batch, start + 1)))
            for seq, oif, source in _replies(sock, len(batch)):
                address = wanted[seq - 1]
                if oif is None:
                    out[address] = None
                    continue
                name = names.get(oif)
                if name is None:
                    try:
                        name = names[oif] = socket.if_indextoname(oif)
                    except OSError:
                        out[address] = None
                        continue
                out[address] = Route(name, source)
    return out


def _request(seq: int, address: str) -> bytes:
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    data = ip.packed
    attr = _ATTR.pack(_ATTR.size + len(data), RTA_DST) + data
    body = _RTMSG.pack(family, len(data) * 8, 0, 0, 0, 0, 0, 0, 0) + attr
    return _HEADER.pack(_HEADER.size + len(body), RTM_GETROUTE, NLM_F_REQUEST, seq, 0) + body


def _replies(sock: socket.socket, count: int) -> Iterable[tuple[int, int | None, str | None]]:
    """(seq, output interface index or None, preferred source or None) per request."""
    seen = 0
    while seen < count:
        buf = sock.recv(1 << 20)
        pos = 0
        while pos + _HEADER.size <= len(buf):
            length, kind, _, seq, _ = _HEADER.unpack_from(buf, pos)
            if length < _HEADER.size:
                break
            end = pos + length
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", buf, pos + _HEADER.size)
                if code:
                    if -code not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EINVAL):
                        raise HostError(f"route lookup failed: {os.strerror(-code)}")
                    seen += 1
                    yield seq, None, None
            elif kind == RTM_NEWROUTE:
                seen += 1
                yield (seq, *_route(buf, pos + _HEADER.size, end))
            pos = (end + 3) & ~3


def _route(buf: bytes, pos: int, end: int) -> tuple[int | None, str | None]:
    family = buf[pos]
    pos += _RTMSG.size
    oif: int | None = None
    source: str | None = None
    while pos + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(buf, pos)
        if length < _ATTR.size:
            break
        data = buf[pos + _ATTR.size:pos + length]
        if kind == RTA_OIF and len(data) >= 4:
            (oif,) = struct.unpack_from("=I", data)
        elif kind == RTA_PREFSRC:
            source = socket.inet_ntop(socket.AF_INET if family == socket.AF_INET
                                      else socket.AF_INET6, data)
        pos += (length + 3) & ~3
    return oif, source
