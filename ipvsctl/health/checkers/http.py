"""http and https: one HTTP/1.1 GET; up when the status is accepted (and the body matches).

The response is parsed by hand, on purpose: a check needs the status line, and only with a
body pattern the body (Content-Length, chunked, or up to the close). h11 would parse the same
correctly, but its per-event state machine cost more CPU per check than all the rest of a
check together (measured: docs/bench.md), and the checker's CPU per check is what must stay
at or below keepalived's. Without a body pattern the check ends at the status line. Responses
are bounded: 16 KiB of head, the first 64 KiB of body.

https wraps the same socket in TLS (the handshake driven by the poller, never blocking), with
SNI and certificate verification as the spec says.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl

from ipvsctl.health.checkers._base import (
    FAILED,
    OUT,
    Context,
    Done,
    SocketCheck,
    describe_error,
)
from ipvsctl.health.poller import IN
from ipvsctl.health.spec import HttpCheck
from ipvsctl.health.target import Probe
from ipvsctl.model import bracket

MAX_HEAD = 16 << 10
MAX_BODY = 64 << 10
_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


@functools.lru_cache(maxsize=1 << 16)
def _request(path: str, host: str | None, address: str, port: int, tls: bool) -> bytes:
    """The request of one target (cached: built once per target, not once per check)."""
    if host is None:
        host = bracket(address)
        if port != (443 if tls else 80):
            host = f"{host}:{port}"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ipvsctl-check\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("latin-1")


@functools.lru_cache(maxsize=256)
def _pattern(body: str) -> re.Pattern[bytes]:
    return re.compile(body.encode())


@functools.lru_cache(maxsize=64)
def _context(verify: bool) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class HttpProbe(SocketCheck):
    __slots__ = ("buf", "code", "request", "spec", "tls")

    def __init__(self, ctx: Context, probe: Probe, done: Done) -> None:
        # As tcp's: the fields of Check and SocketCheck set here (one call less per check).
        target = probe.target
        spec = target.spec
        assert isinstance(spec, HttpCheck)
        self.ctx = ctx
        self.probe = probe
        self.done: Done | None = done
        self.stage = "connecting"
        self.sock = None
        self.fd = -1
        self.spec = spec
        self.buf = b""
        self.code = 0
        self.tls: ssl.SSLSocket | None = None
        self.dest = dest = target.destination
        self.request = _request(spec.path, spec.host, dest[0], target.port, spec.tls)
        try:
            self.connect(self._writable)
        except OSError as exc:
            self.finish(False, describe_error(exc))

    def _writable(self, events: int) -> None:
        if (events & FAILED and not self.connected(events)) or self.sock is None:
            return
        if self.spec.tls:
            self._start_tls()
        else:
            self._send()

    # ---- TLS -----------------------------------------------------------------------------

    def _start_tls(self) -> None:
        spec = self.spec
        assert self.sock is not None
        name = spec.sni or (spec.host if spec.host and not _is_ip(spec.host) else None)
        if spec.verify and name is None:
            name = self.probe.target.destination[0]  # verified against the IP's SAN
        self.stage = "in the TLS handshake"
        raw = self.sock
        plain = socket.socket(raw.family, socket.SOCK_STREAM, raw.proto, fileno=raw.detach())
        plain.setblocking(False)  # wrap_socket copies the object's mode onto the descriptor
        tls = _context(spec.verify).wrap_socket(plain, server_hostname=name,
                                                do_handshake_on_connect=False)
        self.sock = self.tls = tls  # the same descriptor, now speaking TLS
        self._handshake(0)

    def _handshake(self, events: int) -> None:
        assert self.tls is not None
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.ctx.poller.modify(self.fd, IN, self._handshake)
            return
        except ssl.SSLWantWriteError:
            self.ctx.poller.modify(self.fd, OUT, self._handshake)
            return
        except ssl.SSLCertVerificationError as exc:
            self.finish(False, f"certificate not accepted: {exc.verify_message}")
            return
        except (ssl.SSLError, OSError) as exc:
            self.finish(False, f"TLS handshake failed: {exc}")
            return
        self._send()

    # ---- request and response ------------------------------------------------------------

    def _send(self) -> None:
        sock = self.sock
        assert sock is not None
        self.stage = "sending the request"
        try:
            sent = sock.send(self.request)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            sent = 0
        except OSError as exc:
            self.finish(False, f"sending the request: {exc.strerror or exc}")
            return
        if sent < len(self.request):  # a request is a few hundred bytes: rare, but possible
            self.request = self.request[sent:]
            self.ctx.poller.modify(self.fd, OUT, lambda _: self._send())
            return
        self.stage = "waiting for the response"
        self.ctx.poller.modify(self.fd, IN, self._readable)

    def _readable(self, events: int) -> None:
        sock = self.sock
        assert sock is not None
        try:
            data = sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except ssl.SSLWantWriteError:
            self.ctx.poller.modify(self.fd, OUT, self._readable)
            return
        except OSError as exc:
            self.finish(False, f"reading the response: {exc.strerror or exc}")
            return
        if self.tls is not None and self.tls.pending():
            data += self.tls.recv(self.tls.pending())
        if data:
            self.buf += data
            self._parse(eof=False)
        else:
            self._parse(eof=True)

    def _parse(self, eof: bool) -> None:
        buf = self.buf
        spec = self.spec
        if not self.code:
            end = buf.find(b"\r\n")
            if end < 0:
                if eof or len(buf) > MAX_HEAD:
                    self.finish(False, "no HTTP status line in the response")
                return
            match = _STATUS.match(buf, 0, end)
            if match is None:
                self.finish(False, f"not an HTTP response: {buf[:40]!r}")
                return
            self.code = code = int(match.group(1))
            status = spec.status
            if not (status[0][0] <= code <= status[0][1] if len(status) == 1 else
                    spec.accepts(code)):
                self.finish(False, f"HTTP {self.code}, expected {spec.status_text()}")
                return
            if spec.body is None:
                self.finish(True, f"HTTP {self.code}")
                return
            self.stage = "reading the body"
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            if eof or len(buf) > MAX_HEAD:
                self.finish(False, "the response headers never ended")
            return
        body, complete = _body(buf[:head_end], buf[head_end + 4:])
        if complete or eof or len(body) >= MAX_BODY:
            assert spec.body is not None
            if _pattern(spec.body).search(body, 0, MAX_BODY):
                self.finish(True, f"HTTP {self.code}, body matches")
            else:
                self.finish(False, f"HTTP {self.code}, body does not match /{spec.body}/")


def _body(head: bytes, rest: bytes) -> tuple[bytes, bool]:
    """The body received so far, and whether it is complete."""
    fields = head.lower()
    if b"\r\ntransfer-encoding:" in fields and b"chunked" in fields:
        return _dechunk(rest)
    at = fields.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = fields.find(b"\r\n", at + 2)
        value = fields[at + 17:line_end if line_end >= 0 else None].strip()
        if value.isdigit():
            length = int(value)
            return rest[:length], len(rest) >= length
    return rest, False  # until the server closes


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    out: list[bytes] = []
    pos = 0
    size = 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return b"".join(out), False
        size_text = data[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return b"".join(out), True  # malformed: match what there is
        if size == 0:
            return b"".join(out), True
        start = line_end + 2
        out.append(data[start:start + size])
        if len(data) < start + size + 2:
            return b"".join(out), False
        pos = start + size + 2
