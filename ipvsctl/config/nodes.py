"""Typed reading of a composed YAML node tree, collecting every problem with file:line:col.

PyYAML's `compose()` keeps each node's start mark; this module turns nodes into Python values
itself (instead of `yaml.safe_load`) so that every value, and every complaint about it, knows
where it came from. Duplicate mapping keys, which PyYAML silently collapses, are reported here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ipvsctl.errors import ConfigError

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
_LEADING_ZERO = re.compile(r"0[0-9]+$")
_DIGITS = re.compile(r"[-+]?[0-9]+$")

Pairs = dict[str, tuple[ScalarNode, Node]]


def kind(node: Node) -> str:
    """How a node reads in a message: 'a string', 'a list', ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _TYPE_NAMES.get(node.tag, f"a value tagged {node.tag}")


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == TAG + "null"


def suggest(word: str, choices: Sequence[str]) -> str:
    """A difflib 'did you mean' hint, or the list of valid choices."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(choices)


class Problems:
    """Every problem found in one file, reported together and in document order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._items: list[tuple[int, int, int, str]] = []

    def where(self, node: Node) -> str:
        mark = node.start_mark
        return f"{self.path}:{mark.line + 1}:{mark.column + 1}"

    def add(self, node: Node, where: str, message: str) -> None:
        mark = node.start_mark
        self.add_at(mark.line + 1, mark.column + 1, where, message)

    def add_at(self, line: int, col: int, where: str, message: str) -> None:
        text = f"{where}: {message}" if where else message
        self._items.append((line, col, len(self._items), f"{self.path}:{line}:{col}: {text}"))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise ConfigError([item[3] for item in sorted(self._items)])


class Reader:
    """Typed getters over nodes; each returns None (and records a problem) on bad input."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        # Only used to construct scalars with YAML's own rules (ints in hex, booleans as yes/no).
        self._constructor = yaml.SafeLoader("")

    def error(self, node: Node, where: str, message: str) -> None:
        self.problems.add(node, where, message)

    # -- containers -----------------------------------------------------------------------------

    def mapping(self, node: Node, where: str, keys: Sequence[str]) -> Pairs | None:
        """The mapping's key -> (key node, value node), with unknown keys reported.

        A null value (a section whose contents are all commented out) reads as an empty mapping.
        """
        pairs = self.pairs(node, where)
        if pairs is None:
            return None
        for name, (key_node, _value) in pairs.items():
            if name not in keys:
                self.error(key_node, join(where, name), "unknown key (" + suggest(name, keys) + ")")
        return {name: pair for name, pair in pairs.items() if name in keys}

    def pairs(self, node: Node, where: str) -> Pairs | None:
        """Every key of a mapping (merge keys `<<` resolved), duplicates reported."""
        if is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.error(node, where, f"must be a mapping, not {kind(node)}")
            return None
        explicit: Pairs = {}
        merged: Pairs = {}
        for key_node, value_node in node.value:
            if key_node.tag == TAG + "merge":
                for name, pair in self._merged(value_node, where).items():
                    merged.setdefault(name, pair)  # earlier merge sources win, as in YAML
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != TAG + "str":
                self.error(key_node, where, f"keys must be strings, not {kind(key_node)}")
                continue
            name = key_node.value
            if name in explicit:
                first = self.problems.where(explicit[name][0])
                self.error(key_node, join(where, name), f"duplicate key, first at {first}")
                continue
            explicit[name] = (key_node, value_node)
        return {**merged, **explicit}

    def _merged(self, node: Node, where: str) -> Pairs:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        out: Pairs = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.error(source, where, f"'<<' must merge a mapping, not {kind(source)}")
                continue
            for name, pair in (self.pairs(source, where) or {}).items():
                out.setdefault(name, pair)
        return out

    def seq(self, node: Node, where: str) -> list[Node] | None:
        """A list's item nodes; null reads as an empty list."""
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, where, f"must be a list, not {kind(node)}")
            return None
        return list(node.value)

    # -- scalars --------------------------------------------------------------------------------

    def integer(self, node: Node, where: str, lo: int, hi: int) -> int | None:
        if isinstance(node, ScalarNode) and node.tag in (TAG + "int", TAG + "str") \
                and not node.style and _LEADING_ZERO.match(node.value):
            # YAML 1.1 reads 010 as octal 8 and 080 as a string: neither is what was meant.
            reads = "an octal number" if node.tag == TAG + "int" else "text"
            self.error(node, where, f"write {node.value.lstrip('0') or '0'} without the "
                                    f"leading zero (YAML reads {node.value} as {reads})")
            return None
        if not isinstance(node, ScalarNode) or node.tag != TAG + "int":
            quoted = isinstance(node, ScalarNode) and node.style in ("'", '"') \
                and _DIGITS.match(node.value)
            hint = " (remove the quotes)" if quoted else ""
            self.error(node, where, f"must be an integer, not {kind(node)}{hint}")
            return None
        value = self._constructor.construct_yaml_int(node)
        if not lo <= value <= hi:
            self.error(node, where, f"must be {lo}..{hi}")
            return None
        return int(value)

    def boolean(self, node: Node, where: str) -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != TAG + "bool":
            self.error(node, where, f"must be true or false, not {kind(node)}")
            return None
        return bool(self._constructor.construct_yaml_bool(node))

    def string(self, node: Node, where: str, hint: str = "") -> str | None:
        if not isinstance(node, ScalarNode) or node.tag != TAG + "str":
            self.error(node, where, f"must be a string{hint}, not {kind(node)}")
            return None
        return str(node.value)

    def choice(self, node: Node, where: str, choices: Sequence[str], what: str) -> str | None:
        value = self.string(node, where)
        if value is None:
            return None
        if value not in choices:
            self.error(node, where, f"unknown {what} '{value}' ({suggest(value, choices)})")
            return None
        return value


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def compose(text: str, problems: Problems) -> Node | None:
    """The document's root node, or None with a problem recorded (syntax error, empty file)."""
    fast = getattr(yaml, "CSafeLoader", None)  # libyaml: same nodes and marks, ~10x faster
    try:
        root = yaml.compose(text, Loader=fast) if fast else None
    except yaml.YAMLError:
        fast = None  # report with the pure-Python parser: same messages with or without libyaml
    try:
        if not fast:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "cannot parse"
        if exc.context and problem.startswith("but "):  # "expected a single document ..."
            problem = f"{exc.context}, {problem}"
        problems.add_at(line, col, "", f"invalid YAML: {problem}")
        return None
    except yaml.YAMLError as exc:  # e.g. a ReaderError for a control character
        problems.add_at(1, 1, "", f"invalid YAML: {exc}")
        return None
    if root is None:
        problems.add_at(1, 1, "", "empty file: expected a mapping with a 'services' list")
    return root
