"""The document every reader of a cluster file produces and the builder reads: plain values,
and where each one is.

The values are what YAML means by them, as plain Python data: dict (string keys, duplicates
and merge keys already resolved), list, str, int, bool and None. Anything else a YAML file can
hold (a number with a fraction, a date, an integer written in octal or hex, an explicit tag) is
an `Odd`, which carries its tag and text so that messages can name it. Where each value is
lives beside the data, in `Places`, keyed by the containers: the builder asks for a position
only to name a service or a real server (its `source`) or a problem.

A fast reader knows where its containers are but not every scalar (`exact` is False); when the
builder finds a problem in such a document, the loader reads the file again with the careful
reader, whose places are exact, so every message has the same place on every path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

TAG = "tag:yaml.org,2002:"
_TYPE_NAMES = {
    TAG + "str": "a string",
    TAG + "int": "an integer",
    TAG + "float": "a number with a fraction",
    TAG + "bool": "a boolean",
    TAG + "null": "null",
    TAG + "timestamp": "a date",
    TAG + "binary": "binary data",
    TAG + "map": "a mapping",
    TAG + "seq": "a list",
}

Pos = tuple[int, int]  # line, column; both from 1, as editors count them
SHOWN = 60  # characters of a value quoted in a message; a longer one is cut


def shown(text: str) -> str:
    """A value or key as a message quotes it: one line (anything unprintable escaped, as repr
    writes it) of at most SHOWN characters."""
    cut = text if len(text) <= SHOWN else text[:SHOWN]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    return cut if len(text) <= SHOWN else f"{cut}... ({len(text):,} characters)"


def join(where: str, key: str) -> str:
    """The document path of a key (shown: keys come from the file), cut in the middle when a
    deep path would make a long line."""
    path = f"{where}.{shown(key)}" if where else shown(key)
    return path if len(path) <= 240 else f"{path[:100]}...{path[-100:]}"




class Odd(NamedTuple):
    """A scalar that is not a plain string, integer, boolean or null."""

    tag: str
    text: str
    value: Any = None  # an integer written another way (0x1F, 1_000): its value, else None


def kind(value: Any) -> str:
    """How a value reads in a message: 'a string', 'a list', ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, Odd):
        return _TYPE_NAMES.get(value.tag, f"a value tagged {value.tag}")
    return "a value"


class Places:
    """Where each container, key and value of one document is.

    Containers are keyed by identity: the document's dicts and lists live as long as it does.
    A container the reader recorded no position for is at the document's start.
    """

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self.at: dict[int, Pos] = {}  # id(container) -> its position
        # Exact readers only: id(container) -> key or index -> (key position, value position,
        # style of the value: None for plain, else ' " | >).
        self.entries: dict[int, dict[Any, tuple[Pos, Pos, str | None]]] = {}

    def node(self, container: object) -> Pos:
        return self.at.get(id(container), (1, 1))

    def key(self, mapping: object, name: str) -> Pos:
        entry = self.entries.get(id(mapping), {}).get(name)
        return entry[0] if entry else self.node(mapping)

    def value(self, container: object, key: Any) -> Pos:
        """Where container[key] starts (a mapping's value or a list's item)."""
        entry = self.entries.get(id(container), {}).get(key)
        if entry:
            return entry[1]
        item = container[key] if isinstance(container, (dict, list)) else None
        return self.node(item) if isinstance(item, (dict, list)) else self.node(container)

    def style(self, container: object, key: Any) -> str | None:
        entry = self.entries.get(id(container), {}).get(key)
        return entry[2] if entry else None
