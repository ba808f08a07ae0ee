"""Real listeners for the checkers, each created inside a network namespace.

A socket keeps the namespace it was born in, so each listening socket is made inside the
server's namespace and then served by a thread of this process. dnsmasq is a real DNS server,
started in the namespace as its own process. Nothing here is a fake of the protocol: the
checkers talk to the kernel's TCP/UDP and to Python's TLS and HTTP servers as they would to a
real server.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.message

from ipvsctl.host.netns import run_in_netns
from tests.helpers import run

DIRECTOR_IP, SERVER_IP, NOBODY_IP = "10.77.0.1", "10.77.0.2", "10.77.0.9"


class FirstAtOnce(random.Random):
    """A runner's jitter that puts every first check at once (tests wait less)."""

    def random(self) -> float:
        return 0.0


@dataclass
class Pair:
    director: str
    server: str


def make_pair(netns_factory: Callable[[], str]) -> Pair:
    """Two namespaces joined by a veth: director 10.77.0.1/24, server 10.77.0.2/24.
    10.77.0.9 is on the link but nobody has it (ARP goes unanswered)."""
    director, server = netns_factory(), netns_factory()
    run(["ip", "-n", director, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
         "netns", server])
    for ns, ip in ((director, DIRECTOR_IP), (server, SERVER_IP)):
        run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    return Pair(director, server)


@dataclass
class Http:
    """What the HTTP listener answers, and what it saw."""

    status: int = 200
    body: bytes = b"ok\n"
    chunked: bool = False
    silent: bool = False  # accept and never answer (a hung application)
    pause: float = 0.0  # send the response in two parts, this far apart
    requests: list[bytes] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    def response(self) -> bytes:
        head = f"HTTP/1.1 {self.status} X\r\nContent-Type: text/plain\r\n"
        if self.chunked:
            half = len(self.body) // 2
            parts = [self.body[:half], self.body[half:]]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
            return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + body
        return (head + f"Content-Length: {len(self.body)}\r\n\r\n").encode() + self.body


class Listeners:
    def __init__(self) -> None:
        self._socks: list[socket.socket] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()

    def _bound(self, netns: str, kind: socket.SocketKind, address: str, port: int
               ) -> socket.socket:
        def make() -> socket.socket:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND: a VIP may come later
            sock.bind((address, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(512)
            sock.settimeout(0.2)
            return sock

        sock = run_in_netns(netns, make)
        self._socks.append(sock)
        return sock

    def _thread(self, fn: Callable[..., None], *args: object) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    def tcp(self, netns: str, address: str, port: int) -> socket.socket:
        """Accepts and closes (connections are also accepted by the kernel's backlog)."""
        sock = self._bound(netns, socket.SOCK_STREAM, address, port)
        self._thread(self._accept, sock, None, None)
        return sock

    def http(self, netns: str, address: str, port: int, http: Http,
             tls: ssl.SSLContext | None = None) -> socket.socket:
        sock = self._bound(netns, socket.SOCK_STREAM, address, port)
        self._thread(self._accept, sock, http, tls)
        return sock

    def udp(self, netns: str, address: str, port: int, reply: Callable[[bytes], bytes]
            ) -> socket.socket:
        sock = self._bound(netns, socket.SOCK_DGRAM, address, port)
        self._thread(self._echo, sock, reply)
        return sock

    def dnsmasq(self, netns: str, address: str, tmp: Path) -> None:
        """A real DNS server: up.example.test A 192.0.2.1; the rest of example.test NXDOMAIN."""
        argv = ["ip", "netns", "exec", netns, "/usr/sbin/dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                f"--listen-address={address}", "--port=53", "--user=root",
                f"--pid-file={tmp / 'dnsmasq.pid'}", "--address=/up.example.test/192.0.2.1",
                "--local=/example.test/", "--log-facility=-"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(proc)
        until_udp_answers(netns, address, 53)

    def _accept(self, sock: socket.socket, http: Http | None, tls: ssl.SSLContext | None
                ) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if http is None:
                conn.close()
                continue
            self._thread(self._serve, conn, http, tls)

    def _serve(self, conn: socket.socket, http: Http, tls: ssl.SSLContext | None) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(5)
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                piece = conn.recv(4096)
                if not piece:
                    return
                data += piece
            http.requests.append(data)
            if http.silent:
                time.sleep(5)
                return
            response = http.response()
            if http.pause:
                half = len(response) // 2
                conn.sendall(response[:half])
                time.sleep(http.pause)
                response = response[half:]
            conn.sendall(response)

    def _echo(self, sock: socket.socket, reply: Callable[[bytes], bytes]) -> None:
        while not self._stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            sock.sendto(reply(data), peer)

    def close(self) -> None:
        self._stop.set()
        for sock in self._socks:
            sock.close()
        for proc in self._procs:
            proc.terminate()
            proc.wait(10)


def until_udp_answers(netns: str, address: str, port: int, timeout: float = 20) -> None:
    """Wait until something answers a DNS-shaped datagram (a server starting up)."""
    query = dns.message.make_query("up.example.test", "A").to_wire()

    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(query, (address, port))
                s.recv(512)
            except OSError:
                return False
            return True

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if run_in_netns(netns, probe):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing answers DNS on {address}:{port} in {netns}")


def self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and the server's IP), made by openssl."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name},IP:{SERVER_IP}"])
    return cert, key


def server_tls(cert: Path, key: Path, sni: list[str | None]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def seen(sslobj: object, name: str | None, ctx: object) -> None:
        sni.append(name)

    context.sni_callback = seen  # type: ignore[assignment]
    return context


@contextlib.contextmanager
def listeners() -> Iterator[Listeners]:
    made = Listeners()
    try:
        yield made
    finally:
        made.close()
