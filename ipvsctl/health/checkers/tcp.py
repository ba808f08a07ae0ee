"""tcp: up when a connection is established within the timeout."""

from __future__ import annotations

from ipvsctl.health.checkers._base import SocketCheck


class TcpProbe(SocketCheck):
    __slots__ = ()

    def begin(self) -> None:
        self.connect(self._writable)

    def _writable(self, events: int) -> None:
        if self.connected(events):
            self.finish(True, "connected")
