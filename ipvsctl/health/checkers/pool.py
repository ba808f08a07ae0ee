"""Idle TCP check sockets, kept for the next check instead of closed.

A fresh socket per check costs socket(), setsockopt(SO_LINGER), epoll_ctl(ADD) and close()
around its connect(), and the kernel allocates and frees a socket each time. A kept one costs
one connect() to an AF_UNSPEC address instead: Linux's disconnect. It resets an established
connection (a RST and no TIME_WAIT, as the abortive close did), frees the source port, and
leaves the socket unconnected and still in the poller's epoll set (one-shot, so silent while
idle), ready to connect again. Python's socket API cannot pass an AF_UNSPEC address to an
AF_INET socket, hence libc's connect() through ctypes (the process's own libc: no library
search, no program run).

Only a socket whose check succeeded is kept (its state is known: connected, no pending
error); a failed or aborted check closes its socket. Sockets are kept per (family, mark,
source), so a kept socket carries exactly the settings its next check would give it.
"""

from __future__ import annotations

import _socket
import ctypes
import socket
import struct
from collections.abc import Callable

Key = tuple[int, int, str | None]  # family, SO_MARK, source address
MOST = 1024  # idle sockets kept (descriptors the runner leaves for them)


def _disconnector() -> Callable[[int], bool] | None:
    try:
        connect = ctypes.CDLL(None, use_errno=True).connect
    except (OSError, AttributeError):
        return None
    connect.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
    connect.restype = ctypes.c_int
    unspec = ctypes.create_string_buffer(struct.pack("=H14x", socket.AF_UNSPEC), 16)
    address = ctypes.addressof(unspec)

    def disconnect(fd: int, _keep: object = unspec) -> bool:
        return bool(connect(fd, address, 16) == 0)

    return disconnect


_DISCONNECT = _disconnector()


class SocketPool:
    __slots__ = ("_idle", "_most", "_size")

    def __init__(self, most: int = MOST) -> None:
        self._idle: dict[Key, list[_socket.socket]] = {}
        self._most = most if _DISCONNECT is not None else 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def take(self, key: Key) -> _socket.socket | None:
        """An idle socket for `key` (registered with the poller, disarmed), or None."""
        idle = self._idle.get(key)
        if not idle:
            return None
        self._size -= 1
        return idle.pop()

    def give(self, key: Key, sock: _socket.socket) -> bool:
        """Disconnect and keep `sock`; False when it was not kept (the caller closes it)."""
        if self._size >= self._most or _DISCONNECT is None or not _DISCONNECT(sock.fileno()):
            return False
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle[key] = []
        idle.append(sock)
        self._size += 1
        return True

    def close(self) -> None:
        for idle in self._idle.values():
            for sock in idle:
                sock.close()
        self._idle.clear()
        self._size = 0
