"""Finding 7 for the cluster file, through the commands that read it (validate, plan, apply).

The loader's own bounds are cases of tests/config (the bad corpus, test_limits.py); these make
sure each command reports them as one placed line, reads `-` as standard input and never
shows typer's usage box for a file it cannot read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.helpers import Ran, cli, ipvsctl, refused

COMMANDS = ["validate", "plan", "apply"]
DIGITS = ("services:\n  - vip: 192.0.2.10\n    port: " + "9" * 5000 + "\n"
          "    real_servers: [{address: 10.0.0.1}]\n")
BAD_ADDRESS = ("services:\n  - vip: 192.0.2.10\n    port: 80\n"
               "    real_servers: [{address: x}]\n")


def _one_line(ran: Ran, start: str) -> None:
    refused(ran)
    assert len(ran.error_lines) == 1 and ran.error_lines[0].startswith(start), ran
    assert len(ran.error_lines[0]) < 300, ran


@pytest.mark.usefixtures("dirs")
@pytest.mark.parametrize("command", COMMANDS)
def test_standard_input_is_read_and_placed(command: str) -> None:
    ran = cli(command, "-", stdin=BAD_ADDRESS)
    _one_line(ran, "ipvsctl: <stdin>:4:30: services[0].real_servers[0].address:")


@pytest.mark.usefixtures("dirs")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_that_cannot_be_read_is_one_line(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    _one_line(cli(command, str(missing)), f"ipvsctl: {missing}: cannot read")
    _one_line(cli(command, str(tmp_path)), f"ipvsctl: {tmp_path}: cannot read")


@pytest.mark.usefixtures("dirs")
@pytest.mark.parametrize("command", COMMANDS)
def test_an_integer_of_5000_digits_is_one_placed_line(command: str, tmp_path: Path) -> None:
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS)
    ran = ipvsctl(command, str(path))  # the real program: Python's own digit limit applies
    _one_line(ran, f"ipvsctl: {path}:3:11:")
    assert "Traceback" not in ran.stderr and "ValueError" not in ran.stderr
