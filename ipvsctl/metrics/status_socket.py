"""The status API: a root-only unix socket in the run directory, one per network namespace.

`ipvsctl run` serves it; `ipvsctl status` asks. A request is one JSON line (`{}` or
`{"service": "web"}`), the answer one JSON document (metrics/status.py), then the daemon closes.
Root only, both ways: the socket is created 0600 (under a umask, so never more open), the daemon
answers only peers whose SO_PEERCRED uid is 0, and the client talks only to a socket (never a
link) that root owns, served by a process running as root. A socket left by a daemon that died
is replaced; anything else at that path is refused, never removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipvsctl.errors import DaemonRunning, DaemonUnreachable, HostError, IpvsctlError
from ipvsctl.host.locks import run_dir
from ipvsctl.host.records import scoped_name

MAX_REQUEST = 4096
MAX_ANSWER = 256 << 20  # a table of 110,000 real servers answers in about 30 MB
TIMEOUT = 10.0
_UCRED = struct.Struct("=iII")  # pid, uid, gid

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def socket_path(netns: str | None) -> Path:
    return run_dir() / f"{scoped_name('status', netns)}.sock"


def peer(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end."""
    pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                   _UCRED.size))
    return pid, uid


class StatusServer:
    """Bound at construction (refusing a path it did not make); `start` serves from a thread."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = path
        self._answer = answer
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _clear_stale(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(path))
        except OSError as exc:
            self._sock.close()
            raise HostError(f"status socket {path}: {exc.strerror}") from None
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._stat = os.lstat(path)
        self._sock.listen(16)
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="ipvsctl-status", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            now = os.lstat(self.path)
            if (now.st_dev, now.st_ino) == (self._stat.st_dev, self._stat.st_ino):
                os.unlink(self.path)  # ours still: a successor may have replaced it

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed:
                    return
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                if peer(conn)[1] != 0:
                    conn.sendall(_line({"error": "the status API answers root only"}))
                    return
                request = _read_request(conn)
                try:
                    answer = self._answer(request)
                except IpvsctlError as exc:  # e.g. --service naming no service
                    answer = {"error": str(exc)}
                conn.sendall(_line(answer))
            except (OSError, ValueError) as exc:
                with contextlib.suppress(OSError):
                    conn.sendall(_line({"error": f"bad request: {exc}"}))


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def _read_request(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError(f"longer than {MAX_REQUEST} bytes")
    request = json.loads(data.split(b"\n", 1)[0] or b"{}")
    if not isinstance(request, dict):
        raise ValueError("not a JSON object")
    return request


def _clear_stale(path: Path) -> None:
    """Remove a socket nobody listens on (its daemon died); refuse anything else there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != 0:
        raise HostError(f"status socket {path}: something else is there (not a socket root "
                        "made); refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(str(path))
        pid, _ = peer(probe)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError as exc:
        raise HostError(f"status socket {path}: {exc.strerror}") from None
    finally:
        probe.close()
    raise DaemonRunning(f"status socket {path}: another ipvsctl run answers there (pid {pid});"
                        " it owns this table: stop it first")


def ask(netns: str | None, request: dict[str, Any] | None = None,
        timeout: float = TIMEOUT) -> dict[str, Any]:
    """The daemon's answer; DaemonUnreachable (one line) when none can be had."""
    path = socket_path(netns)
    where = f"namespace {netns}" if netns else "this namespace"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise DaemonUnreachable(f"no ipvsctl run is answering for {where} (no {path})") from None
    except PermissionError:
        raise DaemonUnreachable(f"cannot read {path}: the status API is for root") from None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != 0:
        raise DaemonUnreachable(f"{path} is not a socket root made; not asking it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except ConnectionRefusedError:
            raise DaemonUnreachable(f"no ipvsctl run is answering for {where} ({path} is "
                                    "left from one that stopped)") from None
        except PermissionError:
            raise DaemonUnreachable(f"permission denied on {path}: the status API is for "
                                    "root") from None
        if peer(sock)[1] != 0:
            raise DaemonUnreachable(f"{path} is served by a process not running as root; "
                                    "not trusting it")
        sock.sendall(_line(request or {}))
        data = bytearray()
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if len(data) > MAX_ANSWER:
                raise DaemonUnreachable(f"the answer from {path} is larger than "
                                        f"{MAX_ANSWER >> 20} MiB; not reading it")
    except TimeoutError:
        raise DaemonUnreachable(f"ipvsctl run at {path} did not answer within "
                                f"{timeout:g} s") from None
    except OSError as exc:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            raise DaemonUnreachable(f"ipvsctl run at {path} closed the connection") from None
        raise DaemonUnreachable(f"asking {path}: {exc.strerror}") from None
    finally:
        sock.close()
    try:
        doc = json.loads(data)
    except ValueError:
        raise DaemonUnreachable(f"the answer from {path} is not JSON") from None
    if not isinstance(doc, dict):
        raise DaemonUnreachable(f"the answer from {path} is not a status document")
    if "error" in doc:
        raise DaemonUnreachable(str(doc["error"]))
    return doc
