"""Loading IPVS kernel modules. Modules are global, so modprobe runs in the host namespace.

modprobe runs by its absolute path, never found through $PATH (whoever sets the environment
of a root process must not choose the program it runs), and never through a shell.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

MODPROBE = ("/usr/sbin/modprobe", "/sbin/modprobe")


def module_loaded(name: str) -> bool:
    return Path("/sys/module", name).exists()


def modprobe(name: str) -> str | None:
    """Load a module; None on success, else modprobe's own complaint."""
    exe = next((p for p in MODPROBE if Path(p).exists()), None)
    if exe is None:
        return f"modprobe not found at {' or '.join(MODPROBE)} (Debian package kmod)"
    try:
        done = subprocess.run([exe, name], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return done.stderr.strip() or f"exit status {done.returncode}"
