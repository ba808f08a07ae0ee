"""The bounds every import source is held to: the whole-text check (one scan in C) against
the line-by-line one, over seeded random texts of the characters and lengths where they could
part (line ends, CR, controls, separators, byte-order marks, lines around the limit)."""

from __future__ import annotations

import random
import re

import pytest

from ipvsctl.errors import ConfigError
from ipvsctl.importers import _common
from ipvsctl.importers._common import MAX_LINE, checked_text

PIECES = ["virtual_server 10.0.0.1 80 {", "\n", "\r\n", "\r", "\t", " ", "\x00", "\x0b", "\x0c",
          "\x1c", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "caf\u00e9", "x" * MAX_LINE,
          "x" * (MAX_LINE - 1), "}"] + ["  weight 1", "\n", "{"] * 6


def _checked(text: str) -> str:
    try:
        return checked_text(text, "t.conf")
    except ConfigError as exc:
        return f"error: {exc}"


def test_the_whole_text_check_agrees_with_the_line_by_line_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)  # noqa: S311 - repeatable test data
    fast_ones = 0
    for _ in range(2000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 8)))
        if rng.random() < 0.2:
            text = "\ufeff" + text
        fast = _checked(text)
        with monkeypatch.context() as patch:
            patch.setattr(_common, "_CONTROL_IN_TEXT", re.compile("(?s)."))  # line by line
            slow = _checked(text)
        assert fast == slow, repr(text)
        fast_ones += "\n" in text and not fast.startswith("error")
    assert fast_ones > 100


def test_a_file_of_many_lines_takes_the_one_scan() -> None:
    text = "virtual_server 10.0.0.1 80 {\n  lb_algo rr\n}\n" * 1000
    assert checked_text(text, "t.conf") is text  # (the line-by-line path joins a new text)
