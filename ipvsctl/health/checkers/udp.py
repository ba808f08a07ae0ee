"""udp: send the payload; up when a reply arrives (containing the expected bytes, if given).

The socket is connected, so an ICMP port unreachable comes back as ECONNREFUSED: a failure at
once rather than at the timeout.
"""

from __future__ import annotations

import socket

from ipvsctl.health.checkers._base import SocketCheck, describe_error
from ipvsctl.health.poller import IN
from ipvsctl.health.spec import UdpCheck


class UdpProbe(SocketCheck):
    __slots__ = ()
    kind = socket.SOCK_DGRAM

    def begin(self) -> None:
        sock = self.open()
        sock.connect(self.dest)
        sock.send(self.payload())
        self.stage = "waiting for a reply"
        self.ctx.poller.watch(self.fd, IN, self._readable)

    def payload(self) -> bytes:
        spec = self.probe.target.spec
        assert isinstance(spec, UdpCheck)
        return spec.payload

    def _readable(self, events: int) -> None:
        sock = self.sock
        assert sock is not None
        try:
            reply = sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionRefusedError:
            self.finish(False, "port unreachable (ICMP)")
            return
        except OSError as exc:
            self.finish(False, describe_error(exc))
            return
        self.reply(reply)

    def reply(self, data: bytes) -> None:
        spec = self.probe.target.spec
        assert isinstance(spec, UdpCheck)
        if spec.expect is None or spec.expect in data:
            self.finish(True, f"reply of {len(data)} bytes")
        else:
            self.finish(False, f"reply {data[:40]!r} does not contain {spec.expect!r}")
