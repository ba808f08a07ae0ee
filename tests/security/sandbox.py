"""Run commands as if on a whole host, without touching this one.

    unshare --mount --net --pid --fork --mount-proc -- python -m tests.security.sandbox SPEC

The commands get their own network namespace (which is the "host" for them: PID 1 of their
PID namespace lives in it), their own mounts, and folders of the test bind-mounted over the
host paths ipvsctl writes (/etc/sysctl.d, ...). A fake `kmod` can be bound over /usr/bin/kmod,
so every `modprobe`, found through $PATH or not, is logged instead of run.

SPEC is a JSON file: {"binds": [[src, dst]], "fake_kmod_log": path or null,
"commands": [argv, ...], "result": path}. The result file gets one
{"argv", "returncode", "stdout", "stderr", "seconds"} per command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.security.helpers import REPO, Ran

FAKE_KMOD = """#!/usr/bin/python3
import sys
with open({log!r}, "a") as fh:
    fh.write(" ".join(sys.argv) + "\\n")
sys.exit(1)
"""


def run(spec: dict[str, Any], tmp: Path, timeout: float = 120.0) -> list[Ran]:
    """Run spec's commands in a fresh sandbox; their results, in order."""
    spec = {**spec, "result": str(tmp / "sandbox-result.json")}
    path = tmp / "sandbox-spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IPVSCTL_DEBUG", None)
    proc = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                           "--propagation", "private", "--", sys.executable, "-m",
                           "tests.security.sandbox", str(path)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, f"sandbox failed: {proc.stdout}{proc.stderr}"
    out = [Ran(**r) for r in json.loads(Path(spec["result"]).read_text())]
    for ran in out:
        assert "Traceback" not in ran.stdout + ran.stderr, str(ran)
    return out


def _inside(spec: dict[str, Any]) -> None:
    for src, dst in spec.get("binds", []):
        subprocess.run(["mount", "--bind", src, dst], check=True)
    if spec.get("fake_kmod_log"):
        fake = Path(spec["result"]).with_name("fake-kmod")
        fake.write_text(FAKE_KMOD.format(log=spec["fake_kmod_log"]))
        fake.chmod(0o755)
        subprocess.run(["mount", "--bind", str(fake), "/usr/bin/kmod"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    results = []
    for argv in spec["commands"]:
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=100, check=False)
        results.append({"argv": argv, "returncode": proc.returncode, "stdout": proc.stdout,
                        "stderr": proc.stderr, "seconds": time.monotonic() - t0})
    Path(spec["result"]).write_text(json.dumps(results))


if __name__ == "__main__":
    _inside(json.loads(Path(sys.argv[1]).read_text()))
