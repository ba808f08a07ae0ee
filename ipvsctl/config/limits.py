"""The bounds on what a cluster file may make ipvsctl do, each refused with one placed error.

Documented in docs/cluster-file.md ("Limits"). Each is far above what a real file needs (10,000
services x 10 real servers are 5 MB of YAML, nesting 5 levels deep, values of at most 63
characters) and low enough that no file can make the loader run for long or use much memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipvsctl.config.tree import Pos


class LimitError(Exception):
    """A bound exceeded: the file is refused with this one problem."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass(frozen=True)
class Limits:
    size: int = 64 * 1024 * 1024  # bytes of a file (or of standard input)
    line: int = 1024 * 1024  # characters of one line of YAML (a JSON file has no line limit)
    depth: int = 64  # containers inside containers
    scalar: int = 4096  # characters of one value or key
    integer_digits: int = 32  # characters of an integer (the largest in a cluster file has 10)
    expansion: int = 1_000_000  # values that aliases and merge keys may add

    def check_lines(self, text: str) -> None:
        """LimitError at the first line longer than `line` characters."""
        if len(text) <= self.line or max(map(len, text.split("\n"))) <= self.line:
            return  # (the search below tries every start: slow on a large file)
        found = re.search(rf"[^\n]{{{self.line + 1}}}", text)
        if found is None:
            return
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        length = (len(text) if end < 0 else end) - start
        number = text.count("\n", 0, start) + 1
        raise LimitError((number, self.line + 1),
                         f"line {number} is {length:,} characters long (at most "
                         f"{self.line:,}; see docs/cluster-file.md)")


LIMITS = Limits()
