"""/metrics over HTTP: prometheus-client's threading WSGI server, serving metrics.exposition.

The socket is bound when the server is made, before the daemon starts anything else, so a bad
or taken address is one line and a non-zero exit rather than a half-started director. Requests
are served from their own threads; the exposition renders in chunks (families.CHUNK), so a long
scrape never holds the interpreter for long. It listens in the namespace ipvsctl was started
in (where Prometheus reaches it), whatever --netns the table lives in.
"""

from __future__ import annotations

import errno
import gzip
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.exposition import ThreadingWSGIServer, gzip_accepted
from prometheus_client.registry import Collector

from ipvsctl.errors import ConfigError, HostError
from ipvsctl.metrics.exposition import CONTENT_TYPE, exposition

GZIP_LEVEL = 1  # the text repeats every label set: level 1 keeps most of the gain, cheaply
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def parse_listen(text: str, option: str = "--metrics") -> tuple[str, int]:
    """ADDR:PORT, [IPv6]:PORT or :PORT (every address) -> (address, port)."""
    example = "e.g. 127.0.0.1:9595, [::1]:9595 or :9595"
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or len(port_text) > 5:
        raise ConfigError([f"{option} {text!r}: expected ADDR:PORT ({example})"])
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError([f"{option} {text!r}: port must be 1..65535"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            raise ConfigError([f"{option} {text!r}: brackets are for IPv6 addresses only"])
    elif ":" in host:
        raise ConfigError([f"{option} {text!r}: write an IPv6 address in brackets ({example})"])
    if host:
        try:
            host = ipaddress.ip_address(host).compressed
        except ValueError:
            raise ConfigError([f"{option} {text!r}: {host!r} is not an IP address "
                               f"({example})"]) from None
    return host, port


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def metrics_app(registry: Collector) -> Callable[[dict[str, Any], StartResponse],
                                                 Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body = exposition(registry)
            headers = [("Content-Type", CONTENT_TYPE)]
            if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
                body = gzip.compress(body, compresslevel=GZIP_LEVEL)
                headers.append(("Content-Encoding", "gzip"))
        elif path == "/":
            body = b"ipvsctl: the metrics are at /metrics\n"
            headers = [("Content-Type", "text/plain; charset=utf-8")]
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: the metrics are at /metrics\n"]
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


class MetricsServer:
    """Bound at construction; `start` serves from a daemon thread; `close` stops it."""

    def __init__(self, registry: Collector, listen: str) -> None:
        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        bind_host = host or "::"
        if not host and not socket.has_ipv6:
            family, bind_host = socket.AF_INET, "0.0.0.0"  # noqa: S104 (":PORT" asks for it)
        elif not host:
            family = socket.AF_INET6

        class Server(ThreadingWSGIServer):
            address_family = family
            allow_reuse_address = True

            def server_bind(self) -> None:
                if self.address_family == socket.AF_INET6 and not host:
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        try:
            self._httpd = make_server(bind_host, port, metrics_app(registry), Server,
                                      handler_class=_Quiet)
        except OSError as exc:
            raise HostError(f"--metrics {listen}: {_why(exc)}") from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="ipvsctl-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (is another exporter or ipvsctl listening there?)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "cannot listen there: no interface of this host has that address"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)
