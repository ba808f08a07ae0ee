"""Helpers for the hardening tests: the real CLI as an operator (or an attacker) runs it.

Everything goes through the `ipvsctl` program and the filesystem and namespaces it touches,
never through ipvsctl's internal modules, so the tests keep meaning the same thing whatever the
code's layout. Commands are argv lists, never shell strings.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (f"{self.argv[-8:]} exited {self.returncode} in {self.seconds:.1f}s\n"
                f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def ipvsctl(*args: str, netns_exec: str | None = None, env: Mapping[str, str] | None = None,
            umask: int = -1, stdin: str | bytes | int | None = None, timeout: float = 60.0,
            memory_mb: int | None = None) -> Ran:
    """Run the ipvsctl program (optionally under `ip netns exec NS`); never a traceback.

    stdin: text or bytes to send, or an open file descriptor to read from. memory_mb caps the
    process's address space (a MemoryError then shows as a traceback)."""
    argv = [sys.executable, "-m", "ipvsctl", *args]
    if netns_exec is not None:
        argv = ["ip", "netns", "exec", netns_exec, *argv]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("IPVSCTL_DEBUG", None)
    data = stdin.encode() if isinstance(stdin, str) else stdin

    def limit() -> None:
        if memory_mb is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))

    t0 = time.monotonic()
    if isinstance(data, int):
        proc = subprocess.run(argv, stdin=data, capture_output=True, env=full_env, umask=umask,
                              timeout=timeout, check=False, preexec_fn=limit)
    else:
        proc = subprocess.run(argv, input=data, capture_output=True, env=full_env, umask=umask,
                              timeout=timeout, check=False, preexec_fn=limit)
    ran = Ran(argv, proc.returncode, proc.stdout.decode(errors="replace"),
              proc.stderr.decode(errors="replace"), time.monotonic() - t0)
    assert "Traceback" not in ran.stdout + ran.stderr, str(ran)
    return ran


def cli(*args: str, stdin: str | None = None) -> Ran:
    """The same program in this process (typer's runner): no interpreter start-up per call.
    Anything but ipvsctl's own exit (a traceback) fails the test."""
    from typer.testing import CliRunner

    from ipvsctl.cli import app

    t0 = time.monotonic()
    res = CliRunner().invoke(app, list(args), input=stdin)
    ran = Ran(["ipvsctl", *args], res.exit_code, res.stdout, res.stderr, time.monotonic() - t0)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"{ran}\nraised {res.exception!r}") from res.exception
    return ran


def refused(ran: Ran, *expected: str, code: int = 1) -> None:
    """Exit `code` with ipvsctl's own one-line error(s), each containing the expected text."""
    assert ran.returncode == code, str(ran)
    lines = ran.error_lines
    assert lines and all(line.startswith("ipvsctl: ") for line in lines), str(ran)
    text = "\n".join(lines)
    for part in expected:
        assert part in text, f"{part!r} not in the error\n{ran}"


def sh(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{list(argv)} exited {proc.returncode}: {proc.stderr}")
    return proc


def addresses(netns: str) -> set[tuple[str, str, int]]:
    data = json.loads(sh(["ip", "-n", netns, "-j", "addr"]).stdout)
    return {(link["ifname"], a["local"], a["prefixlen"])
            for link in data for a in link.get("addr_info", [])}


def sysctls(netns: str) -> dict[str, str]:
    """Every net.ipv4.conf.* and net.ipv6.conf.* value of the namespace."""
    out = sh(["ip", "netns", "exec", netns, "sysctl", "-a", "-r", r"^net\.ipv[46]\.conf\."])
    return dict(line.split(" = ", 1) for line in out.stdout.splitlines() if " = " in line)


def links(netns: str) -> set[str]:
    return {link["ifname"] for link in json.loads(sh(["ip", "-n", netns, "-j", "link"]).stdout)}


@dataclass
class HostState:
    """What a refused command must leave as it was: the namespace and the state folders."""

    addresses: set[tuple[str, str, int]]
    sysctls: dict[str, str]
    links: set[str]
    files: dict[str, tuple[int, bytes | str]]


def tree(*folders: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every path under the folders with its mode and content (or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for folder in folders:
        if not folder.exists() and not folder.is_symlink():
            continue
        for path in [folder, *sorted(folder.rglob("*"))]:
            st = path.lstat()
            if path.is_symlink():
                out[str(path)] = (st.st_mode, os.readlink(path))
            elif path.is_file():
                out[str(path)] = (st.st_mode, path.read_bytes())
            else:
                out[str(path)] = (st.st_mode, b"")
    return out


def host_state(netns: str, *folders: Path) -> HostState:
    return HostState(addresses(netns), sysctls(netns), links(netns), tree(*folders))


def plant_record(state: Path, kind: str, netns: str | None, data: Any) -> Path:
    """A record as a careless operator or an attacker would leave it, at the name that
    ipvsctl releases before 0.2 used (kind[.NETNS].json); current releases read it too while
    no record of their own exists for that namespace."""
    path = state / (f"{kind}.{netns}.json" if netns else f"{kind}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def records(state: Path, kind: str) -> list[Path]:
    return sorted(p for p in state.glob(f"{kind}*.json") if p.is_file() or p.is_symlink())


def lock_files(run_dir: Path, kind: str) -> list[Path]:
    return sorted(run_dir.glob(f"{kind}*.lock"))


def hold_lock(kind: str, netns: str | None) -> Any:
    """ipvsctl's own per-namespace lock, held by this process (a context manager)."""
    try:
        from ipvsctl.host import locks  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from ipvsctl import statefile as locks  # type: ignore[no-redef,unused-ignore]
    return locks.exclusive_lock(kind, netns)
