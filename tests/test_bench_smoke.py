"""`make bench` keeps working: bench/bench.py at a tiny size, every figure present and sane.

The full run (1,000, 2,000 and 10,000 services) takes long in the VM; this one a few CLI runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"
N, PER = 20, 3


def test_tiny_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out, host = tmp_path / "results.json", tmp_path / "host.json"
    common = [sys.executable, str(BENCH), "--sizes", str(N), "--per", str(PER), "--repeats", "1"]
    # bench/run calibrates on the host; here the "host" is this same machine.
    calibrated = subprocess.run([*common, "--calibrate-only", str(host)], capture_output=True,
                                text=True, timeout=300, check=False)
    assert calibrated.returncode == 0, calibrated.stderr[-3000:]
    run = subprocess.run([*common, "--vips", "5", "--json", str(out), "--host", str(host)],
                         capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())
    (size,) = results["sizes"]
    assert size["correct"] == {"ipvsadm_lines": N * (PER + 1), "ipvsctl_lines": N * (PER + 1),
                               "expected_lines": N * (PER + 1), "identical": True}
    for figure in (size["apply"]["ipvsadm_R"], size["apply"]["ipvsctl"],
                   size["noop_plan"]["ipvsadm_Sn"], size["noop_plan"]["ipvsctl"],
                   size["noop_plan"]["ipvsctl_json"], size["apply"]["ipvsctl_json"],
                   size["one_weight_change"]["ipvsctl"],
                   size["one_weight_change"]["ipvsadm_e"]):
        assert figure["seconds"] > 0 and figure["rss_mb"] > 0
    assert size["apply"]["ratio"] > 0 and size["noop_plan"]["ratio"] > 0
    assert size["noop_plan"]["ratio_json"] > 0 and size["one_weight_change"]["ratio_Sn"] > 0
    assert results["startup"]["version_ratio"] > 0 and size["validate_json"] > 0
    edit = size["one_weight_change"]
    assert edit["netlink_writes"] == 1 and edit["changes"] == 1
    assert edit["change_text"] == [
        "edit real server 10.128.0.30:80 in tcp/10.0.0.10:80 in place: weight 101 -> 1"]
    assert edit["applied_line"].startswith("Applied 1 change(s).")
    narrow = size["one_weight_change_service"]
    assert narrow["ipvsctl"]["seconds"] > 0 and narrow["service"] == "tcp/10.0.0.10:80"
    assert narrow["netlink_writes"] == 1 and narrow["change_text"] == edit["change_text"]
    assert narrow["applied_line"].startswith("Applied 1 change(s).")
    assert narrow["applied_line"].endswith("(--service); other services and director settings "
                                           "were not read.")
    assert size["peak_rss_mb"] >= size["apply"]["ipvsctl"]["rss_mb"]
    backend = results["backend_setup"]
    assert backend["vips_on_lo"] == 5 and backend["address_dumps_per_plan"] == 1
    assert backend["pending_after"] == 0
    assert "1 apply from empty / -R" in run.stdout
    assert size["validate"] > 0 and results["host"]["validate"][str(N)] > 0
    assert "3s same, apply --service / -Sn" in run.stdout and "2j same, JSON file" in run.stdout
    assert run.stdout.count("  native estimate") == 2 and "emulation, 20 services" in run.stdout


def test_the_no_op_read_with_and_without_the_desired_table() -> None:
    ab = BENCH.parent / "observe_ab.py"
    run = subprocess.run([sys.executable, str(ab), str(N), "--per", str(PER), "--rounds", "1"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "given the desired table:" in run.stdout and "ipvsadm -Sn:" in run.stdout
