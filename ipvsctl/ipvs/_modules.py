"""Loading IPVS kernel modules. Modules are global, so modprobe runs in the host namespace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def module_loaded(name: str) -> bool:
    return Path("/sys/module", name).exists()


def modprobe(name: str) -> str | None:
    """Load a module; None on success, else modprobe's own complaint."""
    exe = shutil.which("modprobe") or next(
        (p for p in ("/usr/sbin/modprobe", "/sbin/modprobe") if Path(p).exists()), None)
    if exe is None:
        return "modprobe not found"
    try:
        done = subprocess.run([exe, name], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return done.stderr.strip() or f"exit status {done.returncode}"
