"""bench/metrics.py keeps working: a tiny table, every figure present and sane (the real run,
10,000 services, takes minutes in the VM; docs/bench.md has its figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

BENCH = Path(__file__).resolve().parents[2] / "bench" / "metrics.py"


def test_tiny_scrape_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    run = subprocess.run([sys.executable, str(BENCH), "--sizes", "20", "--per", "3", "--runs",
                          "1", "--json", str(out)], capture_output=True, text=True,
                         timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert result["ipvsadm"]["lines"] >= 20 * 4
    for key in ("scrape_all", "scrape_state", "scrape_none", "daemon_all", "daemon_none"):
        assert result[key]["seconds"] > 0 and result[key]["ratio"] > 0, key
    # every real server's series carry more than the service's alone
    assert result["scrape_all"]["bytes"] > result["scrape_state"]["bytes"] > \
        result["scrape_none"]["bytes"]
    assert result["daemon_all"]["bytes"] > result["scrape_all"]["bytes"]  # + file and health
    assert result["cli_all"]["bytes"] > 0
    assert "| 20 |" in run.stdout
