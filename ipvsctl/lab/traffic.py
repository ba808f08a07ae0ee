"""Client traffic: sockets created inside a client's namespace, used from this thread."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ipvsctl.host.netns import run_in_netns

TIMEOUT = 3.0  # seconds; a request that gets no answer in time counts as lost


@dataclass(frozen=True, slots=True)
class Answer:
    server: str | None  # the real server's identity; None when nothing came back
    received: int = 0  # bytes the client received (headers and body)
    error: str | None = None  # refused, timed out, ...

    @property
    def ok(self) -> bool:
        return self.server is not None


def _socket(netns: str, kind: socket.SocketKind, timeout: float) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        sock.settimeout(timeout)
        return sock

    return run_in_netns(netns, make)


def _error(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return exc.strerror or type(exc).__name__


def http_get(netns: str, vip: str, port: int, path: str = "/",
             timeout: float = TIMEOUT) -> Answer:
    """One HTTP/1.0 request on a new connection (so the director schedules every request)."""
    received = 0
    head = b""
    try:
        with _socket(netns, socket.SOCK_STREAM, timeout) as sock:
            sock.connect((vip, port))
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {vip}\r\n\r\n".encode())
            while True:
                data = sock.recv(1 << 16)
                if not data:
                    break
                received += len(data)
                if len(head) < 4096:
                    head += data[:4096]
    except OSError as exc:
        return Answer(None, received, _error(exc))
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "x-real-server":
            return Answer(value.strip(), received)
    return Answer(None, received, "no X-Real-Server header in the answer")


def udp_ask(netns: str, vip: str, port: int, timeout: float = TIMEOUT,
            hold: list[socket.socket] | None = None) -> Answer:
    """One datagram from a new socket, so a new source port and a new IPVS connection, as long
    as earlier sockets stay open: a closed one's port may come back, and IPVS (UDP entries live
    for minutes) would send it to the same real server unscheduled. `hold` keeps this socket
    open (the caller closes it)."""
    sock = _socket(netns, socket.SOCK_DGRAM, timeout)
    try:
        sock.connect((vip, port))  # only answers from the VIP itself are accepted
        sock.send(b"who are you?\n")
        data = sock.recv(2048)
    except OSError as exc:
        return Answer(None, 0, _error(exc))
    finally:
        if hold is None:
            sock.close()
        else:
            hold.append(sock)
    return Answer(data.decode("latin-1").strip() or None, len(data))
