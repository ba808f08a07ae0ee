"""Folders and files ipvsctl acts on as root: trusted only if root alone could have written them.

A state record tells teardown what to remove and which files to put back; a lock file is
truncated and written. So the folders that hold them, and every folder above those, must be
owned by root (or by the user running ipvsctl) and writable by nobody else: a folder anyone
can write lets anyone plant a record or swap a lock for a link to /etc/shadow. A world-writable
folder above them is accepted only with the sticky bit (/tmp), where nobody else can rename or
replace what root made. Files there are opened without following links (ipvsctl never makes
one) and must be regular files with the same owner rule.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from ipvsctl.errors import HostError

MAX_RECORD_BYTES = 64 << 20  # a 100,000-service ownership record is about 5 MB


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _writers(mode: int) -> str:
    both = mode & 0o020 and mode & 0o002
    return "group and others" if both else "its group" if mode & 0o020 else "others"


def _check_folder(path: Path, st: os.stat_result, last: bool) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise HostError(f"{path}: not a folder; ipvsctl keeps its state in a folder there")
    if not _trusted_owner(st.st_uid):
        raise HostError(f"{path}: owned by uid {st.st_uid}, not root: whoever owns it could "
                        f"plant what ipvsctl then acts on as root; fix: chown root: {path}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 and (last or not mode & stat.S_ISVTX):
        raise HostError(f"{path}: writable by {_writers(mode)} (mode {mode:04o}): they could "
                        "plant what ipvsctl then acts on as root; fix: chmod go-w "
                        f"{path}")


def trusted_folder(path: Path, *, create: bool, mode: int = 0o700) -> Path | None:
    """The folder, links resolved, after checking it and every folder above it.

    create: make what is missing (the folder `mode`, folders above it 0755, whatever the
    umask). Without create, a missing folder is None: there is nothing to read in it.
    """
    real = Path(os.path.realpath(os.path.abspath(path)))
    parts = real.parts
    current = Path(parts[0])
    for i, part in enumerate(parts):
        current = current / part if i else current
        last = i == len(parts) - 1
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if not create:
                return None
            _make_folder(current, mode if last else 0o755)
            st = os.lstat(current)
        except OSError as exc:
            raise HostError(f"{current}: cannot inspect ({exc.strerror})") from exc
        _check_folder(current, st, last)
    return real


def _make_folder(path: Path, mode: int) -> None:
    try:
        os.mkdir(path, mode & 0o700)  # never looser than meant, whatever the umask
    except FileExistsError:
        return  # made by a concurrent run; checked like any other
    except OSError as exc:
        raise HostError(f"cannot create {path}: {exc.strerror}") from exc
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _link_error(path: Path) -> HostError:
    return HostError(f"{path}: a symbolic link; ipvsctl never makes one there, so it does not "
                     "follow it: inspect it and remove it")


def open_trusted(path: Path, flags: int, mode: int = 0o600) -> int:
    """An fd of the regular file at path (created with `mode` if flags say so), never through a
    link, owned by root (or this user) and writable by nobody else."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_error(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise HostError(f"{path}: not a regular file; move it aside")
        if not _trusted_owner(st.st_uid):
            raise HostError(f"{path}: owned by uid {st.st_uid}, not root; it cannot be "
                            f"trusted: inspect it, then chown root: {path} or move it aside")
        bits = stat.S_IMODE(st.st_mode)
        if bits & 0o022:
            raise HostError(f"{path}: writable by {_writers(bits)} (mode {bits:04o}); it cannot "
                            f"be trusted: inspect it, then chmod go-w {path} or move it aside")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_trusted(path: Path, limit: int = MAX_RECORD_BYTES) -> bytes | None:
    """The content of a trusted file; None when it does not exist."""
    try:
        fd = open_trusted(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise HostError(f"{path}: larger than {limit >> 20} MiB, not a record ipvsctl "
                                "wrote; move it aside")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_atomic(folder: Path, name: str, data: bytes, mode: int = 0o600) -> Path:
    """Replace folder/name with data, so readers see the old or the new content, never a mix.

    The temporary file is made exclusively (O_EXCL: a planted link is never followed) with the
    final mode set before it gets the name; the rename replaces a link at the name rather than
    following it.
    """
    path = folder / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path
