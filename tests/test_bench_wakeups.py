"""bench/wakeups.py keeps working: every kind of loop measured, each figure a CPU time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "wakeups.py"


def test_every_loop_kind_is_measured_in_every_round(tmp_path: Path) -> None:
    out = tmp_path / "wakeups.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--period", "0.001", "--count", "20",
                          "--rounds", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())["results"]
    assert {"asyncio", "epoll", "sleep"} <= set(results)
    for name, rounds in results.items():
        assert len(rounds) == 2, name
        for got in rounds:
            assert got["user_ms"] >= 0 and got["system_ms"] >= 0, (name, got)
    assert run.stdout.count("per wake-up") == 2 * len(results)
