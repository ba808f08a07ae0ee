"""bench/observe_sim.py keeps working (host, no IPVS): a tiny table, every service named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "bench" / "observe_sim.py"


def test_the_simulated_no_op_read_names_every_service_and_plans_nothing() -> None:
    run = subprocess.run([sys.executable, str(SIM), "20", "--per", "3", "--rounds", "1"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "(20 services only named)" in run.stdout
    assert "ratio (given/plain):" in run.stdout
