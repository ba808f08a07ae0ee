"""Tell the daemon at once when its cluster file was written (Linux inotify, through libc).

The directory is watched, not the file: an editor either writes the file in place (closed
after writing: IN_CLOSE_WRITE) or writes a new one and renames it over the name
(IN_MOVED_TO), and a watch on the old file would not see the second. Only events naming the
file count; a queue overflow counts as a change. The daemon's once-a-second poll stays as the
fallback (a file behind a symlink, a filesystem without inotify, a watch limit reached).

A ctypes binding of three libc calls rather than a dependency: the API is stable, the
events are fixed-size headers followed by a name, and nothing else of a library is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_BUFFER = 64 * 1024


class FileWatch:
    """A non-blocking inotify descriptor watching the directory of `path` for writes of it."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.name = os.fsencode(path.name)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.fd: int = fd
        folder = os.fsencode(path.parent if str(path.parent) else Path("."))
        if libc.inotify_add_watch(fd, folder, IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
            errno = ctypes.get_errno()
            os.close(fd)
            raise OSError(errno, f"inotify_add_watch {path.parent}: {os.strerror(errno)}")

    def fileno(self) -> int:
        return self.fd

    def changed(self) -> bool:
        """Drain the events queued so far: did any of them write the file?"""
        hit = False
        while True:
            try:
                data = os.read(self.fd, _BUFFER)
            except BlockingIOError:
                return hit
            if not data:
                return hit
            at = 0
            while at + _HEADER.size <= len(data):
                _, mask, _, size = _HEADER.unpack_from(data, at)
                name = data[at + _HEADER.size:at + _HEADER.size + size].rstrip(b"\0")
                at += _HEADER.size + size
                if mask & IN_Q_OVERFLOW or name == self.name:
                    hit = True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
