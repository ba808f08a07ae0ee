"""The real servers' services: one thread per listener, all in this one process.

Each listening socket is created inside its real server's namespace (a socket keeps the
namespace it was born in) and then served from a thread here, so starting a dozen servers costs
no interpreter start-up. A listener is ready as soon as listen() returns: connections queue in
the backlog until the accept thread picks them up.

TCP services speak just enough HTTP/1.0 for curl: `GET /` answers the server's identity,
`GET /big?bytes=N` answers N bytes. UDP services echo the identity back.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import parse_qs, urlsplit

from ipvsctl.host.netns import run_in_netns

IP_FREEBIND = 15  # bind to the VIP even when it is not (yet) on the host, as a daemon would
POLL = 0.5  # seconds a blocked accept/recv waits before checking for shutdown
MAX_BODY = 64 << 20
_CHUNK = b"x" * (256 << 10)


class LabServers:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._http: dict[tuple[str, int], socket.socket] = {}  # (identity, port) -> listener
        self.listeners: list[str] = []  # "10.10.0.11 tcp/10.10.0.100:80 (http)"

    def _socket(self, netns: str, kind: socket.SocketKind, address: str, port: int,
                freebind: bool) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if freebind:
                    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
                sock.bind((address, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(128)
            except OSError:
                sock.close()
                raise
            sock.settimeout(POLL)
            return sock

        sock = run_in_netns(netns, make)
        self._sockets.append(sock)
        return sock

    def stop_http(self, identity: str, port: int) -> bool:
        """Close that real server's TCP listener on `port`, as a crashed server would: new
        connections are refused (accepted ones finish on their own threads). False: none was
        there. (In DR every real server listens on the same VIP:port, each in its namespace.)"""
        sock = self._http.pop((identity, port), None)
        if sock is None:
            return False
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the accept thread
        sock.close()
        self._sockets.remove(sock)
        return True

    def _spawn(self, name: str, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def start_http(self, netns: str, address: str, port: int, identity: str,
                   freebind: bool) -> None:
        sock = self._socket(netns, socket.SOCK_STREAM, address, port, freebind)
        self._http[(identity, port)] = sock
        self._spawn(f"http-{identity}-{port}", self._accept_loop, sock, identity)
        self.listeners.append(f"{identity} tcp/{address}:{port} (http)")

    def start_echo(self, netns: str, address: str, port: int, identity: str,
                   freebind: bool) -> None:
        sock = self._socket(netns, socket.SOCK_DGRAM, address, port, freebind)
        self._spawn(f"echo-{identity}-{port}", self._echo_loop, sock, identity)
        self.listeners.append(f"{identity} udp/{address}:{port} (echo)")

    def _accept_loop(self, sock: socket.socket, identity: str) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(f"http-conn-{identity}", _serve_http, conn, identity)

    def _echo_loop(self, sock: socket.socket, identity: str) -> None:
        reply = f"{identity}\n".encode()
        while not self._stop.is_set():
            try:
                _, peer = sock.recvfrom(2048)
                sock.sendto(reply, peer)
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=2 * POLL)
        self._sockets.clear()
        self._http.clear()
        self._threads.clear()


def _serve_http(conn: socket.socket, identity: str) -> None:
    with conn:
        try:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            target = urlsplit(parts[1] if len(parts) > 1 else "/")
            size = None
            if target.path == "/big":
                raw = parse_qs(target.query).get("bytes", ["1048576"])[0]
                size = min(int(raw), MAX_BODY) if raw.isdigit() else 1 << 20
            body = f"{identity}\n".encode() if size is None else b""
            length = len(body) if size is None else size
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {length}\r\nX-Real-Server: {identity}\r\n".encode()
                + b"Connection: close\r\n\r\n" + body)
            left = size or 0
            while left > 0:
                piece = _CHUNK[:min(left, len(_CHUNK))]
                conn.sendall(piece)
                left -= len(piece)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            return
