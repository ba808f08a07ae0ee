"""What every check shares: the runner's context, and the life of a non-blocking socket."""

from __future__ import annotations

import _socket
import asyncio
import errno
import os
import select
import socket
import struct
from collections.abc import Callable
from typing import ClassVar

from ipvsctl.health.checkers.pool import Key, SocketPool
from ipvsctl.health.poller import Poller
from ipvsctl.health.target import Probe

Done = Callable[[bool, str], None]
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect(), per 4-tuple
# Close with a reset: no TIME_WAIT per check on the director (tens of thousands a minute
# towards one VIP:port would exhaust the source ports), as HAProxy's checks do.
_ABORTIVE = struct.pack("ii", 1, 0)
_FLAGS = socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
_STREAM = socket.SOCK_STREAM
_STREAM_FLAGS = _STREAM | _FLAGS
_INET, _INET6 = socket.AF_INET, socket.AF_INET6
_SOL_SOCKET, _SO_LINGER = socket.SOL_SOCKET, socket.SO_LINGER


class Context:
    """The runner's loop, poller and kept sockets, handed to every check."""

    __slots__ = ("loop", "poller", "pool")

    def __init__(self, loop: asyncio.AbstractEventLoop, poller: Poller,
                 pool: SocketPool) -> None:
        self.loop = loop
        self.poller = poller
        self.pool = pool


class Check:
    """Starts in __init__; reports through `done` once, unless aborted first."""

    __slots__ = ("ctx", "done", "probe", "stage")

    def __init__(self, ctx: Context, probe: Probe, done: Done) -> None:
        self.ctx = ctx
        self.probe = probe
        self.done: Done | None = done
        self.stage = "starting"

    def abort(self) -> str:
        """Stop without reporting; returns what the check was waiting for."""
        self.done = None
        self.release()
        return self.stage

    def release(self) -> None:
        """Free what the check holds (sockets, processes)."""

    def finish(self, ok: bool, detail: str) -> None:
        done, self.done = self.done, None
        self.release()
        if done is not None:
            done(ok, detail)


class SocketCheck(Check):
    """A check over one socket, from the director's source address and mark when given.

    The socket is the C-level _socket.socket: socket.socket's Python __init__ and close()
    wrappers were a tenth of a TCP check's cost, for nothing a check uses. A TCP socket comes
    from the context's pool when one is idle and goes back to it when its check succeeded
    (pool.py); otherwise it is closed with a reset."""

    __slots__ = ("dest", "fd", "keep", "kept", "sock")
    kind: ClassVar[int] = socket.SOCK_STREAM

    def __init__(self, ctx: Context, probe: Probe, done: Done) -> None:
        # Check.__init__'s fields set here: one call less per check.
        self.ctx = ctx
        self.probe = probe
        self.done: Done | None = done
        self.stage = "starting"
        self.sock: _socket.socket | None = None
        self.keep: Key | None = None  # the pool's key, for a stream socket
        self.fd = -1
        self.dest = probe.target.destination
        try:
            self.begin()
        except OSError as exc:
            self.finish(False, describe_error(exc))

    def begin(self) -> None:
        raise NotImplementedError

    def open(self) -> _socket.socket:
        probe = self.probe
        family = _INET6 if ":" in self.dest[0] else _INET
        stream = self.kind == _STREAM
        self.kept = False
        if stream:
            key = self.keep = (family, probe.mark, probe.source)
            kept = self.ctx.pool.take(key)
            if kept is not None:
                self.kept = True
                self.sock = kept
                self.fd = kept.fileno()
                return kept
        sock = _socket.socket(family, _STREAM_FLAGS if stream else self.kind | _FLAGS)
        self.sock = sock
        self.fd = sock.fileno()
        if stream:
            sock.setsockopt(_SOL_SOCKET, _SO_LINGER, _ABORTIVE)
        if probe.mark:
            sock.setsockopt(_SOL_SOCKET, socket.SO_MARK, probe.mark)
        if probe.source:
            if self.kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((probe.source, 0))
        return sock

    def release(self) -> None:
        sock = self.sock
        if sock is not None:
            self.sock = None
            self.ctx.poller.forget(self.fd)
            sock.close()

    def finish(self, ok: bool, detail: str) -> None:
        done, self.done = self.done, None
        sock, keep = self.sock, self.keep
        # Kept only after a success, and only the plain socket (not one wrapped in TLS);
        # release() closes whatever was not kept.
        if ok and keep is not None and sock is not None and sock.__class__ is _socket.socket:
            self.ctx.poller.forget(self.fd)
            if self.ctx.pool.give(keep, sock):
                self.sock = None
        self.release()
        if done is not None:
            done(ok, detail)

    def connect(self, then: Callable[[int], None]) -> None:
        """Connect without blocking; `then` runs once the socket is writable."""
        sock = self.open()
        self.stage = "connecting"
        err = sock.connect_ex(self.dest)
        if err == 0 or err == EINPROGRESS:
            self.ctx.poller.watch_once(self.fd, OUT, then, self.kept)
        else:
            self.finish(False, strerror(err))

    def connected(self, events: int) -> bool:
        """After the socket became writable: did the connection succeed? (reports if not)
        A refused or unreachable connect also sets EPOLLERR: only then is the socket asked
        for its error, so a connect that succeeded costs no system call here."""
        sock = self.sock
        if sock is None:
            return False
        if events & FAILED:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err or not events & OUT:
                self.finish(False, strerror(err or errno.ECONNRESET))
                return False
        return True


EINPROGRESS = errno.EINPROGRESS
OUT = select.EPOLLOUT
FAILED = select.EPOLLERR | select.EPOLLHUP


def strerror(err: int) -> str:
    return os.strerror(err).lower()


def describe_error(exc: OSError) -> str:
    if exc.errno:
        return strerror(exc.errno)
    return str(exc) or type(exc).__name__
