"""The IPVS connection sync daemon on the wire: requests for its threads, and their read-back.

Layout (include/uapi/linux/ip_vs.h, net/netfilter/ipvs/ip_vs_ctl.c, Linux 6.1):
IPVS_CMD_NEW_DAEMON and IPVS_CMD_DEL_DAEMON are plain requests; IPVS_CMD_GET_DAEMON is a dump
with one reply per running thread. The body is one nested IPVS_CMD_ATTR_DAEMON holding:
STATE u32 (MASTER 1, BACKUP 2: one thread per request), MCAST_IFN string (< 16 bytes),
SYNC_ID u32, SYNC_MAXLEN u16, MCAST_GROUP 4 bytes / MCAST_GROUP6 16 bytes (network order),
MCAST_PORT u16 in HOST order (unlike service ports), MCAST_TTL u8. DEL needs only STATE.
"""

from __future__ import annotations

import ipaddress
import struct

from ipvsctl import model as m
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _wire as w

STATE = {"master": C.SYNC_STATE_MASTER, "backup": C.SYNC_STATE_BACKUP}
STATE_NAME = {number: name for name, number in STATE.items()}


def start_body(daemon: m.SyncDaemon) -> bytes:
    """IPVS_CMD_NEW_DAEMON's body: every setting spelled out, so the kernel's defaults never
    decide what the file said."""
    body = (w.u32(C.DAEMON_ATTR_STATE, STATE[daemon.state])
            + w.asciiz(C.DAEMON_ATTR_MCAST_IFN, daemon.interface)
            + w.u32(C.DAEMON_ATTR_SYNC_ID, daemon.syncid)
            + w.u16(C.DAEMON_ATTR_MCAST_PORT, daemon.port)
            + w.u8(C.DAEMON_ATTR_MCAST_TTL, daemon.ttl))
    if daemon.maxlen is not None:
        body += w.u16(C.DAEMON_ATTR_SYNC_MAXLEN, daemon.maxlen)
    group = ipaddress.ip_address(daemon.group)
    kind = C.DAEMON_ATTR_MCAST_GROUP6 if group.version == 6 else C.DAEMON_ATTR_MCAST_GROUP
    body += w.attr(kind, group.packed)
    return w.nested(C.CMD_ATTR_DAEMON, body)


def stop_body(state: str) -> bytes:
    return w.nested(C.CMD_ATTR_DAEMON, w.u32(C.DAEMON_ATTR_STATE, STATE[state]))


def daemon_of(buf: bytearray, start: int, end: int) -> m.SyncDaemon | None:
    """One GET_DAEMON reply as a SyncDaemon (None for a state this module does not know)."""
    top = w.genl_attrs(buf, start, end)
    span = top.get(C.CMD_ATTR_DAEMON)
    if span is None:
        return None
    a = w.attrs(buf, *span)
    state = STATE_NAME.get(w.get_u32(buf, a.get(C.DAEMON_ATTR_STATE)))
    if state is None:
        return None

    def u16(kind: int, default: int) -> int:
        at = a.get(kind)
        return default if at is None else int(struct.unpack_from("=H", buf, at[0])[0])

    group = m.DEFAULT_SYNC_GROUP
    if (at := a.get(C.DAEMON_ATTR_MCAST_GROUP6)) is not None:
        group = ipaddress.IPv6Address(bytes(buf[at[0]:at[0] + 16])).compressed
    elif (at := a.get(C.DAEMON_ATTR_MCAST_GROUP)) is not None:
        group = str(ipaddress.IPv4Address(bytes(buf[at[0]:at[0] + 4])))
    ttl = a.get(C.DAEMON_ATTR_MCAST_TTL)
    maxlen = a.get(C.DAEMON_ATTR_SYNC_MAXLEN)
    return m.SyncDaemon(
        state=state, interface=w.get_text(buf, a.get(C.DAEMON_ATTR_MCAST_IFN)) or "",
        syncid=w.get_u32(buf, a.get(C.DAEMON_ATTR_SYNC_ID)),
        maxlen=None if maxlen is None else u16(C.DAEMON_ATTR_SYNC_MAXLEN, 0),
        port=u16(C.DAEMON_ATTR_MCAST_PORT, m.DEFAULT_SYNC_PORT),
        ttl=m.DEFAULT_SYNC_TTL if ttl is None else buf[ttl[0]], group=group)
