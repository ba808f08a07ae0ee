"""The CLI loads only the module of the command it runs: COMMANDS must name every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ipvsctl.cli import COMMANDS, load_commands

ROOT = Path(__file__).parent.parent


def test_every_registered_command_is_listed_with_its_module() -> None:
    app = load_commands()
    registered = {(c.name or c.callback.__name__.replace("_", "-")): c.callback.__module__  # type: ignore[union-attr]
                  for c in app.registered_commands}
    assert registered == {name: f"ipvsctl.cli.{module}" for name, module in COMMANDS.items()}


def test_a_run_imports_only_its_command_module(tmp_path: Path) -> None:
    probe = ("import sys\n"
             "from ipvsctl.cli import load_commands\n"
             "load_commands(sys.argv[1:])\n"
             "print(sorted(m for m in sys.modules if m.startswith(('ipvsctl.cli.cmd_', "
             "'ipvsctl.realserver', 'ipvsctl.importers', 'ipvsctl.lab'))))\n")
    def loaded(*argv: str) -> str:
        return subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout.strip()
    assert loaded("plan", "x.yaml") == "['ipvsctl.cli.cmd_director']"
    assert loaded("doctor") == "['ipvsctl.cli.cmd_doctor']"
    assert "ipvsctl.cli.cmd_backend" in loaded("--help")


def test_version_and_a_single_command_module_still_parse() -> None:
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ipvsctl", *argv], capture_output=True,
                              text=True, check=False, cwd=ROOT)
    assert run("--version").stdout.startswith("ipvsctl ")
    assert run("doctor", "--help").returncode == 0  # one command loaded: still a group
    assert "No such command" in run("nosuch").stderr
