"""The adapter that drives one director's BIRD 2: its files, its process, its control socket.

Everything is argv by absolute path, never a shell. Files go through the one atomic writer in
a folder only root may write (host/trust.py), so BIRD reads the old set or the new one, never
half of one. A new set is checked before it replaces the old: the include files are staged
beside the live ones, `bird -p` parses a bird.conf that includes the staged ones, and only then
are they renamed into place and BIRD told to `configure` (BIRD keeps its old configuration
when a configure fails, so a refused file never withdraws anything by itself).

BIRD runs as a child of `ipvsctl run`, in its own session: a `run` that crashes or is killed
leaves it announcing what it announced, and the next `run` adopts it through its socket, so a
restart changes no route until the first check results (announce.py).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ipvsctl.bgp.render import STATIC, Files, Route, announce_file, announced_in, bird_conf
from ipvsctl.errors import HostError
from ipvsctl.host.trust import read_trusted, trusted_folder, write_atomic
from ipvsctl.model import Bgp, BgpDirector

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
TIMEOUT = 10.0  # seconds for one birdc or bird -p call (they take 10-70 ms)


def folder_for(run_dir: Path, scoped: str) -> Files:
    """The speaker's folder under the run dir, one per network namespace (`scoped`: the
    namespace-scoped name, e.g. bird or bird.NETNS)."""
    return Files(run_dir / scoped)


class Bird:
    """One BIRD and its files."""

    def __init__(self, files: Files) -> None:
        self.files = files
        self.child: subprocess.Popen[bytes] | None = None

    # -- files --------------------------------------------------------------------------------

    def prepare(self, conf: str) -> None:
        """Make the folder and the include files that do not exist yet (empty: nothing is
        announced before the checks speak), then check and write bird.conf."""
        folder = trusted_folder(self.files.folder, create=True, mode=0o700)
        if folder is None:
            raise HostError(f"{self.files.folder}: cannot create it")
        for family in STATIC:
            path = self.files.announce(family)
            if read_trusted(path) is None:
                write_atomic(folder, path.name, announce_file((), family).encode(), 0o644)
        staged = write_atomic(folder, ".bird.conf.next", conf.encode(), 0o644)
        try:
            check(staged)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
        write_atomic(folder, self.files.conf.name, conf.encode(), 0o644)

    def announced(self) -> set[str]:
        """The VIPs the include files announce now (what BIRD has, or gets on its start)."""
        out: set[str] = set()
        for family in STATIC:
            data = read_trusted(self.files.announce(family), 1 << 20)
            if data is not None:
                out |= announced_in(data.decode("utf-8", "replace"))
        return out

    def write(self, routes: Iterable[Route], bgp: Bgp, director: BgpDirector) -> None:
        """Replace the announced set: stage, check (a bird.conf including the staged files),
        rename into place. Raises HostError when BIRD's parser refuses it (nothing changed)."""
        folder = self.files.folder
        routes = list(routes)
        staged = {family: write_atomic(folder, f".announce{family}.conf.next",
                                       announce_file(routes, family).encode(), 0o644)
                  for family in STATIC}
        conf = bird_conf(bgp, director, self.files, announce=staged)
        probe = write_atomic(folder, ".bird.conf.check", conf.encode(), 0o644)
        try:
            check(probe)
            for family, path in staged.items():
                os.replace(path, self.files.announce(family))
        finally:
            for path in (*staged.values(), probe):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    # -- the process ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start BIRD in the foreground as a child in its own session (it outlives a crash of
        this process), logging to this process's stderr (journald under systemd)."""
        argv = [BIRD, "-f", "-c", str(self.files.conf), "-s", str(self.files.socket),
                "-P", str(self.files.pid)]
        try:
            self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          start_new_session=True, close_fds=True)
        except OSError as exc:
            raise HostError(f"{BIRD}: cannot start it ({exc.strerror}); apt-get install "
                            "bird2") from exc

    def exited(self) -> int | None:
        """The exit status of our child BIRD if it has exited (None: running or adopted)."""
        if self.child is None:
            return None
        code = self.child.poll()
        if code is not None:
            self.child = None
        return code

    def answers(self) -> bool:
        """Is a BIRD listening on the socket (ours, or one a previous run left)?"""
        if not self.files.socket.exists():
            return False
        return birdc(self.files.socket, "show", "status")[0] == 0

    def configure(self) -> None:
        """Have BIRD read its files again; HostError when it refuses (it keeps the old)."""
        code, out = birdc(self.files.socket, "configure")
        if code != 0 or ("Reconfigured" not in out and "Reconfiguration in progress" not in out):
            raise HostError(f"birdc configure: {_last(out) or f'exit {code}'}")

    def sessions(self) -> dict[str, str]:
        """Each ipvsctl BGP session's state as BIRD words it (Established, Active, Connect...)."""
        code, out = birdc(self.files.socket, "show", "protocols")
        if code != 0:
            return {}
        states: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[0].startswith("ipvsctl_n") and parts[1] == "BGP":
                # name, proto, table, state, since, info: Established, Active, Connect...
                states[parts[0]] = parts[5] if len(parts) > 5 else parts[3]
        return states

    def stop(self) -> None:
        """Shut BIRD down (it closes its sessions with a Cease) and reap our child."""
        birdc(self.files.socket, "down")
        child, self.child = self.child, None
        if child is not None:
            try:
                child.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(TIMEOUT)


def check(conf: Path) -> None:
    """`bird -p -c CONF`: BIRD's own parser on a file and what it includes."""
    try:
        done = subprocess.run([BIRD, "-p", "-c", str(conf)],
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"{BIRD} -p: {exc}") from exc
    if done.returncode != 0:
        raise HostError(f"bird -p refused {conf}: {_last(done.stderr + done.stdout)}")


def birdc(socket: Path, *command: str) -> tuple[int, str]:
    """(exit status, output) of one birdc command; 255 when it cannot be run."""
    try:
        done = subprocess.run([BIRDC, "-s", str(socket), *command],
                              capture_output=True, text=True, timeout=TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 255, str(exc)
    return done.returncode, done.stdout + done.stderr


def _last(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
