"""The JSON reader: a file written as JSON (JSON is YAML), read by `json.loads` in C.

It produces the document the careful reader would, with the place of every container (what
`source` needs); scalars have no place of their own (`Places.exact` is False), so when the
builder finds a problem the loader reads the file carefully to place it. It reads only text
where JSON and YAML agree, and returns None for anything else (the careful reader then reads
it): printable ASCII with '\\n' line breaks, no backslash (no escapes) or tab, no number with a
fraction or exponent (YAML 1.1 reads `1e5` as a string), no NaN or Infinity, no repeated key.

Repeated keys are found without a Python call per JSON object (json.loads keeps the last value
silently): the key/value pairs written in the text are counted with str.count and compared
with the entries of every dict read (see _pairs_written).
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from typing import Any, NoReturn

from ipvsctl.config.limits import LIMITS
from ipvsctl.config.tree import TAG, Odd, Places

_JSON_START = re.compile(r"\s*[{\[]")
_ONE_OPENER = bytes.maketrans(b"[", b"{")  # '[' -> '{': one split finds every opener
# Characters where JSON and YAML could disagree, or where YAML counts lines differently.
_UNSURE = ("\\", "\t", "\r", "\x7f")
_FLOAT = TAG + "float"
_SECONDS = re.compile(r"(?:0|[1-9][0-9]{0,5})\.[0-9]{1,6}")  # as fast_yaml reads them
_SPACED = re.compile(r'"\s+:')
_KEY_END = re.compile(r'"\s*:(?!:)')
# A string longer than LIMITS.scalar (or a long run between strings: then the careful reader
# reads the file, which is right either way).
_LONG = re.compile(rf'"[^"]{{{LIMITS.scalar + 1}}}')


class _GiveUp(Exception):
    pass


def _no_number(_text: str) -> NoReturn:  # exponents, NaN, Infinity
    raise _GiveUp()


def _fraction(text: str) -> Odd:
    """A short decimal fraction (a check's seconds) as YAML reads it: a float, kept as text."""
    if not _SECONDS.fullmatch(text):
        raise _GiveUp()
    return Odd(_FLOAT, text)


def _integer(text: str) -> int:
    """An integer as json.loads reads it, if YAML reads it the same (not too many digits)."""
    if len(text) > LIMITS.integer_digits:
        raise _GiveUp()
    return int(text)


def _pairs_written(text: str) -> int:
    """How many key/value pairs the JSON text writes, counted as '":' (a closing quote and the
    key's colon), at least as many as it holds and exactly as many when no string value starts
    with ':'. With backslashes excluded no string holds '"', so every '"' opens or closes a
    string; a key's ':' is never followed by another ':' (no JSON value starts with one), so
    '"::' always opens a string that starts with ':' (an IPv6 text) and is subtracted. A string
    that starts with ': ' would be counted as a pair: the count is then too high and the file
    goes to the careful reader, which is right either way. When some quote is followed by
    whitespace and then ':' (a key spaced from its colon), a regular expression counts."""
    if ('" ' in text or '"\n' in text) and _SPACED.search(text):
        return len(_KEY_END.findall(text))
    return text.count('":') - text.count('"::')


def looks_like_json(text: str) -> bool:
    return _JSON_START.match(text) is not None


def read(text: str) -> tuple[Any, Places] | None:
    """The document and its container places, or None to read it carefully."""
    if not _JSON_START.match(text) or not text.isascii() or any(c in text for c in _UNSURE) \
            or _LONG.search(text):
        return None
    try:
        data = json.loads(text, parse_float=_fraction, parse_int=_integer,
                          parse_constant=_no_number)
    except (_GiveUp, ValueError, RecursionError):
        return None
    places = Places(exact=False)
    walk = _Walk(text, places)
    try:
        walk.container(data, 0)
    except _GiveUp:
        return None
    if walk.at != len(walk.openers) or walk.pairs != _pairs_written(text):
        return None  # a bracket inside a string, or a repeated key: let the careful reader say
    return data, places


class _Walk:
    """Give each container the place of its opener: containers in document order are the
    openers in text order, when no string holds a '[' or '{' (checked by counting them)."""

    def __init__(self, text: str, places: Places) -> None:
        self.text = text
        self.places = places
        pieces = text.encode("ascii").translate(_ONE_OPENER).split(b"{")
        pieces.pop()  # after the last opener
        ends = itertools.accumulate(map(len, pieces))
        self.openers = list(map(operator.add, ends, itertools.count()))
        self.at = 0  # containers seen
        self.pairs = 0  # entries of the dicts seen
        self.line = 1  # the line of text[line_from]
        self.line_from = 0
        self.line_start = -1  # where that line starts, less one

    def container(self, value: Any, depth: int) -> None:
        if depth >= LIMITS.depth or self.at >= len(self.openers):
            raise _GiveUp()
        pos = self.openers[self.at]
        self.at += 1
        text = self.text
        lines = text.count("\n", self.line_from, pos)
        if lines:  # never search back past line_from: a one-line file would be quadratic
            self.line += lines
            self.line_start = text.rfind("\n", self.line_from, pos)
        self.line_from = pos
        self.places.at[id(value)] = (self.line, pos - self.line_start)
        if type(value) is dict:
            self.pairs += len(value)
            value = value.values()
        for item in value:
            if type(item) is dict or type(item) is list:
                self.container(item, depth + 1)
