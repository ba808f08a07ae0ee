"""tcp: up when a connection is established within the timeout.

The commonest check at scale, so its path is short: the constructor opens and connects, one
handler ends it.
"""

from __future__ import annotations

from ipvsctl.health.checkers._base import FAILED, Context, Done, SocketCheck, describe_error
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
        self.dest = probe.target.destination
        try:
            self.connect(self._writable)
        except OSError as exc:
            self.finish(False, describe_error(exc))

    def _writable(self, events: int) -> None:
        if events & FAILED and not self.connected(events):
            return
        self.finish(True, "connected")
