"""The HA commands end to end on the host: validate --node, ha-render, ha-notify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import ExitCode

PAIR = Path(__file__).parent / "render" / "01-unicast-pair.yaml"


def test_validate_checks_the_node() -> None:
    ok = CliRunner().invoke(app, ["validate", str(PAIR), "--node", "lb2.example.net"])
    assert ok.exit_code == ExitCode.OK, ok.output
    bad = CliRunner().invoke(app, ["validate", str(PAIR), "--node", "d9"])
    assert bad.exit_code == ExitCode.ERROR
    assert bad.stderr.splitlines() == [
        f"ipvsctl: --node d9: no director of {PAIR} has that name or hostname (ha.directors: "
        "d1 (lb1.example.net), d2 (lb2.example.net))"]


def test_ha_render_writes_the_file_with_an_absolute_hook(tmp_path: Path) -> None:
    out = tmp_path / "keepalived.conf"
    res = CliRunner().invoke(app, ["ha-render", str(PAIR), "--node", "d2", "--ipvsctl",
                                   "/usr/sbin/ipvsctl", "-o", str(out)])
    assert res.exit_code == ExitCode.OK, res.output
    text = out.read_text()
    assert "    priority 180\n" in text and "    unicast_src_ip 10.10.0.2\n" in text
    assert 'notify "/usr/sbin/ipvsctl ha-notify --node d2"' in text


def test_ha_render_without_ha_is_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("services: []\n")
    res = CliRunner().invoke(app, ["ha-render", str(plain)])
    assert res.exit_code == ExitCode.ERROR
    assert res.stderr.splitlines() == [
        f"ipvsctl: {plain}: no ha section: there is no keepalived configuration to render "
        "(see docs/ha.md)"]


def test_ha_notify_records_keepalived_s_word(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path))
    res = CliRunner().invoke(app, ["ha-notify", "--node", "d1", "--netns", "lab1",
                                   "INSTANCE", "ipvsctl", "MASTER", "250"])
    assert res.exit_code == ExitCode.OK, res.output
    data = json.loads((tmp_path / "vrrp.lab1").read_text())
    assert {k: data[k] for k in ("node", "state", "priority")} == \
        {"node": "d1", "state": "MASTER", "priority": 250}
    bad = CliRunner().invoke(app, ["ha-notify", "--node", "d1", "INSTANCE", "x", "OOPS", "1"])
    assert bad.exit_code == ExitCode.ERROR and "Traceback" not in bad.output


def test_a_hook_keepalived_would_refuse_is_named(tmp_path: Path) -> None:
    from ipvsctl.host.hooks import hook_problems

    program = tmp_path / "ipvsctl"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o777)
    problems = hook_problems(str(program))
    assert f"{program} is writable by group or others" in problems
    assert hook_problems("/usr/sbin/keepalived") == []
    assert hook_problems("/nonexistent/ipvsctl") == ["/nonexistent/ipvsctl does not exist"]
    res = CliRunner().invoke(app, ["ha-render", str(PAIR), "--node", "d1", "--ipvsctl",
                                   str(program)])
    assert res.exit_code == ExitCode.OK
    assert "keepalived will not run the notify hook here" in res.stderr


@pytest.mark.parametrize("command", ["plan", "apply", "doctor"])
def test_kernel_commands_refuse_an_unknown_node_before_touching_anything(command: str) -> None:
    res = CliRunner().invoke(app, [command, str(PAIR), "--node", "d9"])
    assert res.exit_code == ExitCode.ERROR
    assert res.stderr.startswith("ipvsctl: --node d9: no director of ")
    plain = Path(__file__).resolve().parents[2] / "examples" / "cluster.yaml"
    res = CliRunner().invoke(app, [command, str(plain), "--node", "d1"])
    assert res.exit_code == ExitCode.ERROR
    assert "has no ha or bgp section" in res.stderr
