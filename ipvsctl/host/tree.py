"""Files read and written inside one folder tree, never through a link ipvsctl did not make.

Persisted files go to fixed paths under a root: the live system's `/`, or an image's tree
(`--root DIR`). An image belongs to its author, who may not be root, so every component below
the root is opened relative to its parent with O_NOFOLLOW (openat-style): a link anywhere on
the way is refused with its path instead of carrying a write out of the tree. The final
component may be a link only where ipvsctl itself makes one (systemd's enablement link): such
links are read as `-> target` and replaced, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ipvsctl.errors import HostError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_FILE_BYTES = 1 << 20  # ipvsctl's boot files are a few KiB; a larger one is not ours


@dataclass(frozen=True, slots=True)
class Meta:
    """What teardown must put back besides the content."""

    mode: int
    uid: int
    gid: int


class Tree:
    """A folder tree that reads and writes stay inside of."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.realpath(root))

    def shown(self, path: str) -> str:
        return str(self.root / path.lstrip("/")) if str(self.root) != "/" else path

    def _parts(self, path: str) -> tuple[list[str], str]:
        parts = [p for p in PurePosixPath(path).parts if p != "/"]
        if not parts or any(p in (".", "..") for p in parts):
            raise HostError(f"{path}: not a plain absolute path")
        return parts[:-1], parts[-1]

    def _open_parent(self, path: str, create: bool) -> tuple[int, str]:
        """An fd of path's folder (made 0755 where missing, with create) and the last name."""
        folders, name = self._parts(path)
        fd = self._open_root()
        walked = self.root
        try:
            for part in folders:
                walked = walked / part
                try:
                    nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                    nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
                    os.fchmod(nfd, 0o755)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise self._not_followed(walked, fd, part) from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def _open_root(self) -> int:
        """The root folder, reached from / one component at a time without following links:
        the path was resolved once, and a link swapped in since (by whoever owns a folder on
        the way) must not redirect the writes."""
        fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        walked = Path("/")
        try:
            for part in self.root.parts[1:]:
                walked = walked / part
                try:
                    nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise HostError(f"{walked}: changed into a link or file while ipvsctl "
                                        "ran; not followed") from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _not_followed(self, walked: Path, fd: int, part: str) -> HostError:
        try:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            link = stat.S_ISLNK(st.st_mode)
        except OSError:
            link = False
        if link:
            return HostError(f"{walked}: a symbolic link inside {self.root}; ipvsctl does not "
                             "follow links there (they could lead out of the tree): replace it "
                             "with a real folder")
        return HostError(f"{walked}: not a folder")

    def read(self, path: str) -> tuple[str | None, Meta | None]:
        """(content, meta): '-> target' for a link, (None, None) when absent."""
        try:
            fd, name = self._open_parent(path, create=False)
        except FileNotFoundError:
            return None, None
        try:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return None, None
            meta = Meta(stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                return f"-> {os.readlink(name, dir_fd=fd)}", meta
            if not stat.S_ISREG(st.st_mode):
                raise HostError(f"{self.shown(path)}: not a regular file; move it aside")
            if st.st_size > MAX_FILE_BYTES:
                raise HostError(f"{self.shown(path)}: larger than 1 MiB, not a file ipvsctl "
                                "wrote; move it aside")
            ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                          dir_fd=fd)
            with os.fdopen(ffd, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
            try:
                return raw.decode(), meta
            except UnicodeDecodeError:
                raise HostError(f"{self.shown(path)}: not UTF-8 text, not a file ipvsctl "
                                "wrote; move it aside") from None
        finally:
            os.close(fd)

    def write(self, path: str, content: str, mode: int, owner: tuple[int, int] | None = None
              ) -> None:
        """Replace path atomically (temporary file, fsync, rename) with mode and owner set
        before the file gets its name."""
        fd, name = self._open_parent(path, create=True)
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            ffd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600, dir_fd=fd)
            try:
                with os.fdopen(ffd, "wb") as fh:
                    if owner is not None:
                        os.fchown(fh.fileno(), *owner)
                    os.fchmod(fh.fileno(), mode)
                    fh.write(content.encode())
                    fh.flush()
                    os.fsync(fh.fileno())
                os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                raise
            with contextlib.suppress(OSError):
                os.fsync(fd)
        finally:
            os.close(fd)

    def symlink(self, path: str, target: str, owner: tuple[int, int] | None = None) -> None:
        fd, name = self._open_parent(path, create=True)
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.symlink(target, tmp, dir_fd=fd)
            try:
                if owner is not None:
                    os.chown(tmp, *owner, dir_fd=fd, follow_symlinks=False)
                os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                raise
        finally:
            os.close(fd)

    def remove(self, path: str) -> None:
        try:
            fd, name = self._open_parent(path, create=False)
        except FileNotFoundError:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
