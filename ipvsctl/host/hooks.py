"""Would keepalived run this hook? With `enable_script_security` it refuses, at run time and
silently to `keepalived -t`, a script that non-root users could replace: the file or any
directory on its (resolved) path not owned by root, or writable by group or others."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def hook_problems(program: str) -> list[str]:
    """Why keepalived would not run `program` as root; empty when it would."""
    path = Path(program)
    if not path.is_absolute():
        return [f"{program} is not an absolute path"]
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return [f"{program} does not exist"]
    problems = []
    if not os.access(real, os.X_OK) or not real.is_file():
        problems.append(f"{real} is not an executable file")
    for part in [real, *real.parents]:
        try:
            info = part.lstat()
        except OSError as exc:
            problems.append(f"{part}: {exc.strerror}")
            break
        if info.st_uid != 0:
            problems.append(f"{part} is not owned by root")
        elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(f"{part} is writable by group or others")
    return problems
