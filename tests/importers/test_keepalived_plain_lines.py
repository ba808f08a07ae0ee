"""The line reader's plain-line path against its full path (decomment, conditionals,
definitions, sequences, include for every line), over every keepalived sample and seeded
random files built from the constructs where the two could part: the same lines, places and
warnings, or the same error."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ipvsctl.importers import keepalived_lines
from ipvsctl.importers._common import Notes
from ipvsctl.importers.keepalived_lines import LineReader, SourceError

SAMPLES = Path(__file__).resolve().parent / "samples"
PIECES = ["virtual_server 10.0.0.1 80 {", "real_server 10.0.0.2 80 {", "}", "{", "} }",
          "  weight 2  ", "\t", "", " ", "# a comment", "! another", "weight 1 # tail",
          '"quoted { brace"', "x \\# y", "$A=1", "$A", "$M=a \\", "b \\", "c", "${A}",
          "@one weight 3", "@^one weight 4", "~SEQ(i, 1, 3) real_server 10.0.0.$i 80",
          "~LST(p, 1, 2) port $p", "include", "include missing.conf", "included_not",
          "caf\u00e9 1", "bad \ufffd", "# bad \ufffd", "a\rb", "trailing \\", "~", "@",
          "a@b c~d", "{ x }"]


def _read(text: str, name: str, folder: str | None
          ) -> tuple[list[tuple[str, object]], list[str]] | str:
    notes = Notes(name)
    try:
        lines = [(line.text, line.place) for line in
                 LineReader(notes, text, name, config_id="one", folder=folder)]
    except SourceError as exc:
        return str(exc)
    return lines, notes.warnings


def _both(text: str, name: str, monkeypatch: pytest.MonkeyPatch, folder: str | None = None
          ) -> None:
    fast = _read(text, name, folder)
    with monkeypatch.context() as patch:
        patch.setattr(keepalived_lines, "_NOT_PLAIN", re.compile(""))  # every line: full path
        full = _read(text, name, folder)
    assert fast == full, text


def test_samples_read_alike_by_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = sorted(SAMPLES.rglob("*.conf"))
    assert len(samples) > 10
    for path in samples:
        text = path.read_bytes().decode("utf-8", "replace")
        _both(text, str(path), monkeypatch, folder=str(path.parent))


def test_random_files_read_alike_by_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)  # noqa: S311 - repeatable test data
    for _ in range(3000):
        lines = [rng.choice(PIECES) for _ in range(rng.randrange(0, 14))]
        text = rng.choice(["\n", "\r\n"]).join(lines)
        _both(text, "random.conf", monkeypatch)
