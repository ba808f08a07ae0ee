"""split_words' str.split() path against keepalived's own rule (white space = " \\t\\f\\n\\r\\v"),
over every line of the keepalived samples and seeded random lines with the characters where
str.split() and keepalived disagree (\\x1c-\\x1f, NBSP, U+2000...)."""

from __future__ import annotations

import random
from pathlib import Path

from ipvsctl.importers.keepalived_syntax import _TO_SPACE, split_words

SAMPLES = Path(__file__).resolve().parent / "samples"


def _keepalived(text: str) -> list[str]:
    return [w for w in text.translate(_TO_SPACE).split(" ") if w]


def test_sample_lines_split_as_keepalived_splits_them() -> None:
    lines = [line for path in sorted(SAMPLES.rglob("*.conf"))
             for line in path.read_bytes().decode("utf-8", "replace").split("\n")]
    assert len(lines) > 300
    for line in lines:
        if '"' not in line:
            assert split_words(line) == _keepalived(line), line


def test_random_lines_split_as_keepalived_splits_them() -> None:
    rng = random.Random(11)  # noqa: S311 - repeatable test data
    alphabet = "ab1{}. \t\f\n\r\v\x1c\x1d\x1e\x1f\x85\xa0\u2000\u3000é"
    for _ in range(20000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        assert split_words(line) == _keepalived(line), repr(line)
    assert split_words("a\x1cb\xa0c\u2000d") == ["a\x1cb\xa0c\u2000d"]
    assert split_words(" real_server\t10.0.0.1  80 ") == ["real_server", "10.0.0.1", "80"]
