"""tcp: up when a connection is established within the timeout.

The commonest check at scale, so its path is flat: the constructor opens and connects, one
handler ends it, with no call that is not a system call or the report.
"""

from __future__ import annotations

from ipvsctl.health.checkers._base import (
    EINPROGRESS,
    FAILED,
    OUT,
    Context,
    Done,
    SocketCheck,
    describe_error,
    strerror,
)
from ipvsctl.health.target import Probe


class TcpProbe(SocketCheck):
    __slots__ = ()

    def __init__(self, ctx: Context, probe: Probe, done: Done) -> None:
        self.ctx = ctx
        self.probe = probe
        self.done: Done | None = done
        self.stage = "connecting"
        self.sock = None
        self.fd = -1
        self.dest = dest = probe.target.destination
        try:
            err = self.open().connect_ex(dest)
        except OSError as exc:
            self.finish(False, describe_error(exc))
            return
        if err == 0 or err == EINPROGRESS:
            ctx.poller.watch(self.fd, OUT, self._writable)
        else:
            self.finish(False, strerror(err))

    def _writable(self, events: int) -> None:
        if events & FAILED:
            if self.connected(events):
                self.finish(True, "connected")
            return
        sock, done = self.sock, self.done
        if sock is None:
            return
        self.sock = self.done = None
        self.ctx.poller.forget(self.fd)
        sock.close()
        if done is not None:
            done(True, "connected")
