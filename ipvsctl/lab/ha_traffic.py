"""The failover lab's traffic: real servers, the client and the ARP prober, each on one
selectors loop in a thread that entered its namespace (under emulation a Python start costs
seconds, so none of this is a process of its own).

- A real server answers each line with its name. A connection whose first line is `hold`
  stays open and answers every later line; any other first line gets one answer and a close.
- The client holds N long-lived connections (a line each every `ping` s, staggered), starts a
  new request every `every` s timed from the real start (a loop that falls behind skips
  slots), and counts a request lost after `timeout` s.
- The prober broadcasts an ARP request for the VIP every `arp` s and records every answer's
  MAC: two MACs answering one probe is split brain (two directors holding the VIP).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ipvsctl.host.netns import netns_path

CLONE_NEWNET = 0x40000000
SIOCGIFHWADDR = 0x8927
ETH_P_ARP = 0x0806
_libc = ctypes.CDLL(None, use_errno=True)


def enter_for_good(netns: str) -> None:
    """Move the calling thread into netns (threads made for that namespace only)."""
    import os

    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    finally:
        os.close(fd)


def _name(code: int) -> str:
    return errno.errorcode.get(code, str(code))


class Server(threading.Thread):
    """One real server's listener on 0.0.0.0:port (the VIP is on its lo: DR)."""

    def __init__(self, netns: str, name: str, port: int) -> None:
        super().__init__(daemon=True, name=f"lab-server-{name}")
        self.netns, self.reply, self.port = netns, (name + "\n").encode(), port
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            enter_for_good(self.netns)
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("0.0.0.0", self.port))  # noqa: S104 (a lab namespace)
            listener.listen(1024)
            listener.setblocking(False)
        except OSError as exc:
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, None)
        while not self.stop.is_set():
            for key, _ in sel.select(0.2):
                if key.data is None:
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, [b"", False])
                    continue
                self._serve(sel, key.fileobj, key.data)  # type: ignore[arg-type]
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def _serve(self, sel: selectors.BaseSelector, conn: socket.socket, st: list[Any]) -> None:
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            conn.close()
            return
        st[0] += data
        while b"\n" in st[0]:
            line, st[0] = st[0].split(b"\n", 1)
            with contextlib.suppress(OSError):
                conn.send(self.reply)
            if line != b"hold" and not st[1]:
                sel.unregister(conn)
                conn.close()
                return
            st[1] = True


@dataclass(slots=True)
class Held:
    index: int
    sock: socket.socket
    server: str
    next_ping: float
    answers: int = 1
    sent: int = 0
    dead: str | None = None
    dead_at: float | None = None
    final_before: int = 0
    alive_at_end: bool = False

    def die(self, why: str, now: float) -> None:
        if self.dead is None:
            self.dead, self.dead_at = why, now


@dataclass(frozen=True, slots=True)
class ClientOptions:
    connections: int = 100
    ping: float = 2.0  # seconds between lines on each held connection
    every: float = 0.1  # seconds between new requests
    timeout: float = 2.0  # a new request not answered by then is lost (a SYN resent once)
    arp: float = 0.1  # seconds between ARP probes
    final: float = 8.0  # at the end, how long every live connection has to answer once more


@dataclass(slots=True)
class Traffic:
    """What the client saw (times from time.time())."""

    requests: list[tuple[float, float, str]] = field(default_factory=list)  # start, took, who
    probes: list[float] = field(default_factory=list)
    answers: list[tuple[float, str]] = field(default_factory=list)  # ARP reply time, MAC
    garps: list[tuple[float, str]] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


class Client(threading.Thread):
    def __init__(self, netns: str, address: str, vip: str, port: int,
                 options: ClientOptions) -> None:
        super().__init__(daemon=True, name="lab-client")
        self.netns, self.address, self.vip, self.port = netns, address, vip, port
        self.o = options
        self.seen = Traffic()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            enter_for_good(self.netns)
            self._open_held()
        except OSError as exc:
            self.error = exc
            self.ready.set()
            return
        self._loop()

    def _open_held(self) -> None:
        now = time.time()
        for i in range(self.o.connections):
            sock = socket.create_connection((self.vip, self.port), timeout=20)
            sock.sendall(b"hold\n")
            name = sock.recv(64).decode(errors="replace").strip()
            sock.setblocking(False)
            stagger = self.o.ping * i / max(self.o.connections, 1)
            self.seen.held.append(Held(i, sock, name, now + stagger))

    def _arp_socket(self) -> tuple[socket.socket, bytes, bytes]:
        arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        arp.bind(("eth0", 0))
        mac = fcntl.ioctl(arp.fileno(), SIOCGIFHWADDR, struct.pack("256s", b"eth0"))[18:24]
        request = (b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
                   + mac + socket.inet_aton(self.address) + b"\0" * 6
                   + socket.inet_aton(self.vip))
        arp.setblocking(False)
        return arp, mac, request

    def _loop(self) -> None:
        o, seen = self.o, self.seen
        sel = selectors.DefaultSelector()
        for h in seen.held:
            sel.register(h.sock, selectors.EVENT_READ, ("held", h))
        arp, mac, probe = self._arp_socket()
        sel.register(arp, selectors.EVENT_READ, ("arp", None))
        inflight: dict[socket.socket, float] = {}
        next_req = next_arp = time.time()
        self.ready.set()
        while not self.stop.is_set():
            now = time.time()
            if now >= next_req:
                self._start_request(sel, inflight, now)
                next_req = max(next_req + o.every, now)
            if now >= next_arp:
                with contextlib.suppress(OSError):
                    arp.send(probe)
                seen.probes.append(now)
                next_arp += o.arp
            for h in seen.held:
                if h.dead is None and now >= h.next_ping:
                    try:
                        h.sock.send(b"x\n")
                        h.sent += 1
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError as exc:
                        h.die(_name(exc.errno or 0), now)
                    h.next_ping = now + o.ping
            for sock, started in list(inflight.items()):
                if now - started > o.timeout:
                    seen.requests.append((started, now - started, "error:timeout"))
                    self._drop(sel, inflight, sock)
            for key, events in sel.select(0.01):
                kind, data = key.data
                sock = key.fileobj  # type: ignore[assignment]
                if kind == "arp":
                    self._arp_answers(sock, mac)
                elif kind == "held":
                    self._held_answer(sel, sock, data)
                else:
                    self._request_event(sel, inflight, sock, data, events)
        for sock in list(inflight):
            self._drop(sel, inflight, sock)
        self._final(sel)
        arp.close()

    def _start_request(self, sel: selectors.BaseSelector, inflight: dict[socket.socket, float],
                       now: float) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        err = sock.connect_ex((self.vip, self.port))
        if err not in (0, errno.EINPROGRESS):
            self.seen.requests.append((now, 0.0, f"error:{_name(err)}"))
            sock.close()
            return
        inflight[sock] = now
        sel.register(sock, selectors.EVENT_WRITE, ("req", now))

    @staticmethod
    def _drop(sel: selectors.BaseSelector, inflight: dict[socket.socket, float],
              sock: socket.socket) -> None:
        sel.unregister(sock)
        sock.close()
        del inflight[sock]

    def _request_event(self, sel: selectors.BaseSelector,
                       inflight: dict[socket.socket, float], sock: socket.socket,
                       started: float, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.seen.requests.append((started, time.time() - started,
                                           f"error:{_name(err)}"))
                self._drop(sel, inflight, sock)
                return
            try:
                sock.send(b"GET\n")
            except OSError as exc:
                self.seen.requests.append((started, time.time() - started,
                                           f"error:{_name(exc.errno or 0)}"))
                self._drop(sel, inflight, sock)
                return
            sel.modify(sock, selectors.EVENT_READ, ("req", started))
            return
        try:
            answer = sock.recv(64).decode(errors="replace").strip() or "error:empty"
        except OSError as exc:
            answer = f"error:{_name(exc.errno or 0)}"
        self.seen.requests.append((started, time.time() - started, answer))
        self._drop(sel, inflight, sock)

    def _held_answer(self, sel: selectors.BaseSelector, sock: socket.socket, h: Held) -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError as exc:
            h.die(_name(exc.errno or 0), time.time())
            sel.unregister(sock)
            return
        if not data:
            h.die("EOF", time.time())
            sel.unregister(sock)
            return
        h.answers += data.count(b"\n")

    def _arp_answers(self, arp: socket.socket, mac: bytes) -> None:
        vip = socket.inet_aton(self.vip)
        while True:
            try:
                pkt = arp.recv(128)
            except BlockingIOError:
                return
            if len(pkt) < 42:
                continue
            op = struct.unpack("!H", pkt[20:22])[0]
            sha, spa, tpa = pkt[22:28], pkt[28:32], pkt[38:42]
            if spa != vip or sha == mac:
                continue
            if spa == tpa:  # gratuitous: a director announcing it took the VIP
                self.seen.garps.append((time.time(), sha.hex(":")))
            elif op == 2:
                self.seen.answers.append((time.time(), sha.hex(":")))

    def _final(self, sel: selectors.BaseSelector) -> None:
        """Every connection still open must answer once more: survived means it still works."""
        held = self.seen.held
        for h in held:
            h.final_before = h.answers
            if h.dead is None:
                try:
                    h.sock.send(b"x\n")
                except OSError as exc:
                    h.die(_name(exc.errno or 0), time.time())
        deadline = time.time() + self.o.final
        while time.time() < deadline and any(h.dead is None and h.answers == h.final_before
                                             for h in held):
            for key, _ in sel.select(0.05):
                kind, h = key.data
                if kind == "held":
                    self._held_answer(sel, key.fileobj, h)  # type: ignore[arg-type]
        for h in held:
            h.alive_at_end = h.dead is None and h.answers > h.final_before
            h.sock.close()

