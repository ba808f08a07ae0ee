"""`ipvsctl metrics` refuses bad input before it reads the kernel (no kernel needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import ExitCode


def test_an_unknown_detail_level_is_one_line_and_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "ipvsctl.prom"
    res = CliRunner().invoke(app, ["metrics", "--real-servers", "some", "-o", str(out)])
    assert res.exit_code == ExitCode.ERROR
    assert res.stderr.splitlines() == [
        "ipvsctl: --real-servers: must be one of all, state, none, not 'some'"]
    assert not out.exists()


def test_a_bad_cluster_file_names_its_place_and_writes_nothing(tmp_path: Path) -> None:
    bad, out = tmp_path / "bad.yaml", tmp_path / "ipvsctl.prom"
    bad.write_text("services:\n  - vip: 192.0.2.10\n    port: 99999\n    real_servers: []\n")
    res = CliRunner().invoke(app, ["metrics", str(bad), "-o", str(out)])
    assert res.exit_code == ExitCode.ERROR and res.stdout == ""
    assert res.stderr.startswith(f"ipvsctl: {bad}:3:11: services[0].port")
    assert len(res.stderr.splitlines()) == 1 and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == [bad]


def test_a_missing_namespace_is_one_line_and_leaves_the_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "ipvsctl.prom"
    out.write_text("# the last good scrape\n")
    res = CliRunner().invoke(app, ["metrics", "--netns", "no-such-ns", "-o", str(out)])
    assert res.exit_code == ExitCode.ERROR and res.stdout == ""
    assert res.stderr.splitlines() == [
        "ipvsctl: network namespace 'no-such-ns' does not exist (no /run/netns/no-such-ns); "
        "create it with `ip netns add no-such-ns`"]
    assert out.read_text() == "# the last good scrape\n"
