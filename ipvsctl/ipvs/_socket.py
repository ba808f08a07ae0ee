"""A raw generic-netlink socket speaking to the IPVS family, with batched writes and lean dumps.

The family id is asked of the generic-netlink controller on the same socket when it opens (the
answer pyroute2's GenericNetlinkSocket.bind gets; a kernel test compares the two: importing
pyroute2 just for that costs ~0.15 s natively and ~1.8 s in the emulated test VM). Every message
is packed by _wire and written straight to the socket. Writes are batched: requests go out without
NLM_F_ACK except the last of each batch, so the kernel answers only failures plus one final ack.
The kernel handles a batch synchronously inside send(), in order, so after that final ack every
failure of the batch is already queued.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
from collections.abc import Callable
from typing import TypeVar

from ipvsctl.errors import KernelError
from ipvsctl.host.netns import run_in_netns
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _wire as w

T = TypeVar("T")
AF_NETLINK = 16
NETLINK_GENERIC = 16
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
_RCVBUF = 16 << 20  # room for every failure ack of a batch and a service dump in flight
_SNDBUF = 4 << 20
_RECV_SIZE = 256 << 10


class FamilyMissing(Exception):
    """The IPVS generic-netlink family is not registered: the ip_vs module is not loaded."""


def resolve_family(ctrl: Channel) -> int:
    """The IPVS family id, asked of the generic-netlink controller (CTRL_CMD_GETFAMILY) over a
    channel opened to it; FamilyMissing if ip_vs is not loaded."""
    try:
        replies = ctrl.request(C.CTRL_CMD_GETFAMILY,
                               w.asciiz(C.CTRL_ATTR_FAMILY_NAME, C.GENL_NAME))
    except Refused as exc:
        if exc.errno == errno.ENOENT:
            raise FamilyMissing() from None
        raise KernelError(f"resolving the IPVS netlink family: {exc}") from exc
    for attrs in replies:
        if C.CTRL_ATTR_FAMILY_ID in attrs:
            return int.from_bytes(attrs[C.CTRL_ATTR_FAMILY_ID][:2], sys.byteorder)
    raise KernelError("the generic netlink controller named no IPVS family id")


def _setbuf(sock: socket.socket, force: int, plain: int, size: int) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, size)  # root may exceed rmem_max/wmem_max
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, plain, size)


class Channel:
    def __init__(self, sock: socket.socket, family: int) -> None:
        self.sock = sock
        self.family = family
        self.seq = 0
        self.buf = bytearray(_RECV_SIZE)

    @classmethod
    def open(cls, netns: str | None) -> Channel:
        """Open inside netns: a netlink socket stays bound to the namespace it was created in."""

        def create() -> Channel:
            sock = socket.socket(AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 NETLINK_GENERIC)
            try:
                sock.bind((0, 0))
                sock.setsockopt(C.SOL_NETLINK, C.NETLINK_CAP_ACK, 1)
                # Kernels before 4.12 lack extended acks: errors then come without text.
                with contextlib.suppress(OSError):
                    sock.setsockopt(C.SOL_NETLINK, C.NETLINK_EXT_ACK, 1)
                _setbuf(sock, SO_RCVBUFFORCE, socket.SO_RCVBUF, _RCVBUF)
                _setbuf(sock, SO_SNDBUFFORCE, socket.SO_SNDBUF, _SNDBUF)
                chan = cls(sock, C.GENL_ID_CTRL)  # first, the controller: which id is IPVS?
                chan.family = resolve_family(chan)
            except BaseException:
                sock.close()
                raise
            return chan

        return run_in_netns(netns, create)

    def close(self) -> None:
        self.sock.close()

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF or 1
        return self.seq

    def _recv(self) -> int:
        try:
            return self.sock.recv_into(self.buf)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise KernelError("kernel replies were lost (netlink receive buffer overrun); "
                                  "the outcome of the last batch is unknown: rerun") from exc
            raise KernelError(f"reading from the IPVS netlink socket: {exc.strerror}") from exc

    def _send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError as exc:
            if exc.errno == errno.EPERM:
                raise KernelError("permission denied: IPVS needs root (CAP_NET_ADMIN)") from exc
            raise KernelError(f"writing to the IPVS netlink socket: {exc.strerror}") from exc

    def batch(self, requests: list[bytes], first_seq: int, last_seq: int) -> dict[int, w.Ack]:
        """Send requests (the last one carrying NLM_F_ACK) in one write; return the failures."""
        self._send(b"".join(requests))
        failures: dict[int, w.Ack] = {}
        buf = self.buf
        while True:
            n = self._recv()
            for r in w.replies(buf, n):
                if r.type != C.NLMSG_ERROR:
                    continue
                a = w.ack(buf, r)
                if not first_seq <= a.seq <= last_seq:
                    continue  # a stray answer to something earlier
                if a.error:
                    failures[a.seq] = a
                if a.seq == last_seq:
                    return failures

    def request(self, cmd: int, body: bytes = b"") -> list[dict[int, bytes]]:
        """One non-dump request; returns each reply's top-level attributes (copied out)."""
        seq = self.next_seq()
        self._send(w.message(self.family, cmd, C.NLM_F_REQUEST | C.NLM_F_ACK, seq, body))
        out: list[dict[int, bytes]] = []
        while True:
            n = self._recv()
            buf = self.buf
            for r in w.replies(buf, n):
                if r.seq != seq:
                    continue
                if r.type == C.NLMSG_ERROR:
                    a = w.ack(buf, r)
                    if a.error:
                        raise kernel_error(f"IPVS request {cmd}", a)
                    return out
                if r.type == self.family:
                    out.append({k: bytes(buf[s:e])
                                for k, (s, e) in w.genl_attrs(buf, r.start, r.end).items()})

    def dump(self, cmd: int, body: bytes, each: Callable[[bytearray, int, int], T]) -> list[T]:
        """Run one dump; `each(buf, start, end)` decodes one reply's payload in place (the
        buffer is reused)."""
        out: list[T] = []
        append, family = out.append, self.family

        def parse(buf: bytearray, n: int, seq: int) -> tuple[bool, w.Ack | None]:
            def one(off: int, length: int) -> None:
                append(each(buf, off + 16, off + length))

            return w.walk_dump(buf, n, seq, family, one)

        self.dump_into(cmd, body, parse)
        return out

    def dump_into(self, cmd: int, body: bytes,
                  parse: Callable[[bytearray, int, int], tuple[bool, w.Ack | None]]) -> None:
        """Run one dump; `parse(buf, n, seq)` takes each receive buffer whole and says when the
        dump is done (and with which error, if any)."""
        seq = self.next_seq()
        self._send(w.message(self.family, cmd, C.NLM_F_REQUEST | C.NLM_F_DUMP, seq, body))
        buf = self.buf
        while True:
            done, error = parse(buf, self._recv(), seq)
            if error is not None:
                raise kernel_error(f"IPVS dump {cmd}", error)
            if done:
                return


class Refused(KernelError):
    """The kernel answered a request with an error."""

    def __init__(self, text: str, err: int) -> None:
        super().__init__(text)
        self.errno = err


def kernel_error(what: str, a: w.Ack) -> Refused:
    text = f"{what}: {os.strerror(a.error)}"
    if a.message:
        text += f" ({a.message})"
    return Refused(text, a.error)
