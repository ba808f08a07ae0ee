"""bench/checks.py keeps working: both checkers at a tiny size, every figure present and sane."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

BENCH = Path(__file__).resolve().parent.parent.parent / "bench" / "checks.py"


def test_tiny_check_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "checks.json"
    run = subprocess.run([sys.executable, str(BENCH), "--sizes", "20", "--types", "tcp,http",
                          "--warmup", "3", "--window", "4", "--json", str(out)],
                         capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    runs = json.loads(out.read_text())["runs"]
    assert [(r["n"], r["type"]) for r in runs] == [(20, "tcp"), (20, "http")]
    for r in runs:
        for tool in ("ipvsctl", "keepalived"):
            figures = r[tool]
            assert figures["checks"] > 0 and figures["cpu_per_1000"] > 0, (tool, figures)
            assert 10 <= figures["rate"] <= 30, (tool, figures)  # 20 targets at 1 s
        assert r["cpu_ratio"] > 0
        worker = r["ipvsctl"]["worker"]
        assert worker["failed"] == 0 and worker["timed_out"] == 0 and worker["transitions"] == 20
