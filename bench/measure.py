"""Run one command as a child and measure it: wall time, peak RSS, exit status, output.

Wall time is time.monotonic() around spawn + wait; peak RSS is the child's own ru_maxrss from
os.wait4() (KiB on Linux), so each figure belongs to exactly one process.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    seconds: float
    rss_mb: float
    status: int
    stdout: str
    stderr: str

    def check(self, *ok: int) -> Run:
        if self.status not in (ok or (0,)):
            raise RuntimeError(f"{' '.join(self.argv[:6])} ... exited {self.status}: "
                               f"{self.stderr.strip()[-2000:]}")
        return self


def measure(argv: Sequence[str], *, stdin: Path | None = None, out: Path,
            env: dict[str, str] | None = None) -> Run:
    """Run argv with stdin from a file and stdout/stderr to files under `out` (its stem)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = out.with_suffix(".out"), out.with_suffix(".err")
    with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se, \
            open(stdin or os.devnull, "rb") as si:
        start = time.monotonic()
        proc = subprocess.Popen(list(argv), stdin=si, stdout=so, stderr=se,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
    return Run(tuple(argv), seconds, usage.ru_maxrss / 1024, proc.returncode,
               stdout_path.read_text(errors="replace"), stderr_path.read_text(errors="replace"))


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@contextmanager
def namespaces(*names: str) -> Iterator[tuple[str, ...]]:
    """Fresh network namespaces with lo up (DR real servers need it), always removed."""
    made = []
    try:
        for name in names:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
            sh("ip", "netns", "add", name)
            made.append(name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
