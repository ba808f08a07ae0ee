"""systemd's notify protocol, by hand: one datagram per message to $NOTIFY_SOCKET.

The protocol is a few lines (sd_notify(3)): KEY=VALUE lines in one datagram to a Unix socket
whose path (or abstract name, written with a leading '@') systemd puts in NOTIFY_SOCKET. A
library would add a dependency for less code than this. Outside systemd (no NOTIFY_SOCKET)
every call is a no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    __slots__ = ("_address", "_sock")

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        self._sock: socket.socket | None = None
        if path.startswith("@"):
            self._address = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self._address = path
        if self._address is not None:
            # Non-blocking: a unix datagram socket whose reader lags blocks the sender once
            # its queue (10 datagrams by default) is full, and the director must never wait.
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                                       | socket.SOCK_NONBLOCK)

    @property
    def active(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> bool:
        """READY="1", STATUS="...", WATCHDOG="1", STOPPING="1", RELOADING="1"..."""
        if self._sock is None or self._address is None:
            return False
        message = "\n".join(f"{k}={v.replace(chr(10), ' ')}" for k, v in fields.items())
        try:
            self._sock.sendto(message.encode(), self._address)
        except OSError:
            return False  # systemd gone or the socket full: never fatal to the director
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when not asked for."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6 / 2
