"""Every command that reads a cluster file refuses each file of the bad-input corpus with the
very lines the corpus expects (tests/config/bad, `# expect:`), on stderr, exit 1, no traceback.

The readers' side (the line reader, the JSON reader, the careful reader with and without
libyaml) is proven in tests/config; this is the commands' side: one loader, the same words
whichever command reads the file. All of them fail before anything is read or touched, so this
runs on the host.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipvsctl.cli import app
from ipvsctl.errors import ExitCode
from tests.config.test_bad_corpus import FILES, expected

COMMANDS = {
    "validate": ["validate"],
    "plan": ["plan"],
    "apply": ["apply"],
    "apply --dry-run": ["apply", "--dry-run"],
    "doctor": ["doctor"],
    "lab": ["lab"],
    "backend-setup --dry-run": ["backend-setup", "--dry-run"],
    "ha-render": ["ha-render"],
}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_command_gives_the_corpus_messages(path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)  # the messages name the file as it was given
    want = [f"ipvsctl: {line}" for line in expected(path.read_text())]
    for name, argv in COMMANDS.items():
        res = CliRunner().invoke(app, [argv[0], path.name, *argv[1:]])
        assert (res.exit_code, res.stderr.splitlines()) == (ExitCode.ERROR, want), name
        assert res.stdout == "" and "Traceback" not in res.output, name
