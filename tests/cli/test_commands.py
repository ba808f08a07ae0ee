"""The CLI's one error path: project errors become `ipvsctl: ...` lines and their exit code,
never a traceback; a body's ExitCode becomes the process's (no kernel needed)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "examples" / "cluster.yaml"


def test_a_valid_file_says_so_and_exits_0() -> None:
    res = CliRunner().invoke(app, ["validate", str(GOOD)])
    assert res.exit_code == ExitCode.OK, res.output
    assert res.stdout.startswith(f"{GOOD}: valid (") and res.stderr == ""
    data = json.loads(CliRunner().invoke(app, ["validate", "--json", str(GOOD)]).stdout)
    assert data["valid"] is True and data["services"] > 0


def test_every_problem_is_one_line_on_stderr_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  - vip: 192.0.2.10\n    port: 80\n"
                   "    real_servers: [{address: 10.0.0.1, weight: 70000}]\n")
    res = CliRunner().invoke(app, ["validate", str(bad)])
    assert res.exit_code == ExitCode.ERROR
    assert res.stdout == ""
    assert res.stderr.splitlines() == [
        f"ipvsctl: {bad}:4:48: services[0].real_servers[0].weight: must be 0..65535"]
    assert "Traceback" not in res.output


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == ExitCode.ERROR
    assert "nope.yaml: cannot read: No such file or directory" in res.stderr
    assert "Traceback" not in res.output


def test_a_bad_service_reference_fails_before_the_kernel_is_read() -> None:
    res = CliRunner().invoke(app, ["plan", str(GOOD), "--service", "nosuch"])
    assert res.exit_code == ExitCode.ERROR
    assert "--service: no service named 'nosuch'" in res.stderr
