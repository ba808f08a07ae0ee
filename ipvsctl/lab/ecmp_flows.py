"""Long-lived flows: line servers on the real servers, a client holding many connections.

Every socket is created inside its namespace and then served from this process: one selector
thread answers every connection of every real server (each line gets the server's identity
back), and the client asks on all its connections at once, in shuffled order. The order
matters: a round-robin scheduler on a second director would otherwise replay the first
director's choices just because the flows reach it in the order they were opened.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ipvsctl.host.netns import run_in_netns

IP_FREEBIND = 15
CONNECT_TIMEOUT = 5.0


class LineServers:
    """Listeners bound to the VIP on each real server; one thread serves them all."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socks: list[socket.socket] = []

    def listen(self, netns: str, vip: str, port: int, identity: str) -> None:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
            sock.bind((vip, port))
            sock.listen(1024)
            sock.setblocking(False)
            return sock

        sock = run_in_netns(netns, make)
        self._socks.append(sock)
        with self._lock:
            self._sel.register(sock, selectors.EVENT_READ, ("listen", identity.encode()))
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="ecmp-lines", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                events = self._sel.select(0.2) if self._sel.get_map() else []
            for key, _ in events:
                kind, identity = key.data
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if kind == "listen":
                    with contextlib.suppress(OSError):
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        self._sel.register(conn, selectors.EVENT_READ, ("conn", identity))
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._sel.unregister(sock)
                    sock.close()
                    continue
                with contextlib.suppress(OSError):
                    sock.sendall((identity + b"\n") * data.count(b"\n"))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for key in list(self._sel.get_map().values()):
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()


@dataclass(slots=True)
class Round:
    """One round of flows from one fresh client address."""

    source: str
    opened: list[socket.socket] = field(default_factory=list)
    failed: int = 0
    by_server: Counter[str] = field(default_factory=Counter)

    @property
    def ports(self) -> set[int]:
        return {s.getsockname()[1] for s in self.opened}

    def close(self) -> None:
        for sock in self.opened:
            with contextlib.suppress(OSError):
                sock.close()
        self.opened.clear()


def open_round(netns: str, source: str, vip: str, port: int, flows: int) -> Round:
    """Open `flows` connections from `source`, each asking once (so each is established and
    scheduled, and the answer names its real server)."""
    rnd = Round(source)

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        sock.bind((source, 0))
        return sock

    for _ in range(flows):
        sock = run_in_netns(netns, make)
        try:
            sock.connect((vip, port))
            sock.sendall(b"?\n")
            who = _line(sock)
        except OSError:
            who = None
        if who is None:
            rnd.failed += 1
            sock.close()
            continue
        rnd.by_server[who] += 1
        rnd.opened.append(sock)
    return rnd


def _line(sock: socket.socket) -> str | None:
    data = b""
    while not data.endswith(b"\n"):
        piece = sock.recv(256)
        if not piece:
            return None
        data += piece
    return data.decode("ascii", "replace").strip() or None


def probe(rnd: Round, seconds: float) -> int:
    """Ask on every open connection at once, in shuffled order; keep those that answer within
    `seconds` (a rerouted flow gets the whole window for its retransmits). Returns how many
    are alive; the dead ones are closed and dropped."""
    random.shuffle(rnd.opened)
    sel = selectors.DefaultSelector()
    pending: dict[int, tuple[socket.socket, bytearray]] = {}
    for sock in rnd.opened:
        try:
            sock.setblocking(False)
            sock.send(b"?\n")
        except OSError:
            sock.close()
            continue
        pending[sock.fileno()] = (sock, bytearray())
        sel.register(sock, selectors.EVENT_READ)
    alive: list[socket.socket] = []
    deadline = time.monotonic() + seconds
    while pending and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            sock, buf = pending[key.fd]
            try:
                data = sock.recv(256)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                buf += data
                if not buf.endswith(b"\n"):
                    continue
                alive.append(sock)
            else:
                sock.close()
            sel.unregister(sock)
            del pending[key.fd]
    for sock, _ in pending.values():
        sel.unregister(sock)
        sock.close()
    sel.close()
    for sock in alive:
        sock.setblocking(True)
    rnd.opened = alive
    return len(alive)


def established_by(netns: str, source: str, ports: set[int], vip: str) -> int:
    """How many of these client connections the director in netns holds as ESTABLISHED
    (its IPVS connection table, /proc/net/ip_vs_conn, read inside the namespace)."""
    want_src = socket.inet_aton(source).hex().upper()
    want_vip = socket.inet_aton(vip).hex().upper()

    def read() -> int:
        path = Path("/proc/thread-self/net/ip_vs_conn")
        count = 0
        for line in path.read_text().splitlines()[1:]:
            f = line.split()
            # Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires ...
            if (len(f) >= 8 and f[0] == "TCP" and f[1] == want_src and f[3] == want_vip
                    and f[7] == "ESTABLISHED" and int(f[2], 16) in ports):
                count += 1
        return count

    return run_in_netns(netns, read)
