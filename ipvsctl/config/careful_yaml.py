"""The careful reader: any YAML, through PyYAML's event stream, into a document with exact places.

PyYAML parses (with libyaml when it is there, ~10x faster; a syntax error is parsed again by the
pure-Python parser so its message is the same either way); this module composes the events
itself instead of `yaml.compose`, without recursion, so that it can bound what a file may make:
nesting depth and what aliases and merge keys expand to are counted as the events arrive. It
also applies YAML's own rules that PyYAML leaves out: duplicate keys (PyYAML keeps the last
silently) and keys that are not strings. Scalars are resolved by PyYAML's resolver (YAML 1.1:
`yes` is a boolean, `010` octal) and constructed as plain values or `Odd`s (see tree.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from ipvsctl.config.limits import LIMITS, LimitError
from ipvsctl.config.tree import TAG, Odd, Places, Pos, join, kind

_STR, _INT, _BOOL, _NULL, _MERGE = (TAG + t for t in ("str", "int", "bool", "null", "merge"))
_CANONICAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_resolver = Resolver()
_constructor = SafeConstructor()

# One problem: (position, document path, message); the caller's Problems formats it.
Problem = tuple[Pos, str, str]


class YamlError(Exception):
    """The file is not YAML (or not one document): one problem, and nothing to build."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


PURE_AT_MOST = 1024 * 1024  # characters the pure-Python parser reads to word a syntax error


def read(text: str, path: str, *, check_lines: bool = True) -> tuple[Any, Places, list[Problem]]:
    """The document, its places, and the YAML-level problems (duplicate or non-string keys,
    merges of non-mappings). Raises YamlError (not YAML) or LimitError (a bound exceeded).
    `check_lines=False` for text already known to be JSON (which has no line limit)."""
    _check_characters(text)
    if check_lines:
        LIMITS.check_lines(text)
    if getattr(yaml, "CSafeLoader", None) is None:
        return _pure(text, path, None)
    try:
        return _Composer(yaml.parse(text, Loader=yaml.CSafeLoader), path).document()
    except yaml.MarkedYAMLError as exc:
        # Worded by the pure-Python parser: the same message with or without libyaml. It reads
        # only up to the line after the error (and at most PURE_AT_MOST characters): it is
        # about 20 times slower.
        mark = exc.problem_mark or exc.context_mark
        cut = len(text)
        if mark is not None:
            after = text.find("\n", text.find("\n", mark.index) + 1)
            cut = len(text) if after < 0 else after + 1
        if cut > PURE_AT_MOST:
            raise _yaml_error(exc) from None
        return _pure(text[:cut], path, exc)


def _pure(text: str, path: str, libyaml: yaml.MarkedYAMLError | None
          ) -> tuple[Any, Places, list[Problem]]:
    try:
        found = _Composer(yaml.parse(text, Loader=yaml.SafeLoader), path).document()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlError((1, 1), f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if libyaml is not None:  # the cut text parsed: the error is past the cut
        raise _yaml_error(libyaml)
    return found


def _yaml_error(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "cannot parse"
    if exc.context and problem.startswith("but "):  # "expected a single document ..."
        problem = f"{exc.context}, {problem}"
    return YamlError(pos, f"invalid YAML: {problem}")


def _check_characters(text: str) -> None:
    """A character YAML does not allow, named at its place (PyYAML names only an offset)."""
    bad = _NON_PRINTABLE.search(text)
    if bad is None:
        return
    start = text.rfind("\n", 0, bad.start()) + 1
    line = text.count("\n", 0, bad.start()) + 1
    char = bad.group()
    name = "a NUL byte" if char == "\0" else f"control character {ord(char):#06x}"
    raise YamlError((line, bad.start() - start + 1),
                    f"invalid YAML: {name} is not allowed in YAML text")


def _pos(event: Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def scalar(tag: str, text: str) -> Any:
    """A scalar's value as the builder reads it (see tree.Odd)."""
    if tag == _STR:
        return text
    if tag == _INT:
        if len(text) <= LIMITS.integer_digits and _CANONICAL_INT.fullmatch(text):
            return int(text)
        value = None
        if len(text) <= LIMITS.integer_digits:
            try:
                value = _constructor.construct_yaml_int(ScalarNode(tag, text))
            except ValueError:
                value = None
        return Odd(tag, text, value)
    if tag == _BOOL:
        found = _constructor.bool_values.get(text.lower())
        return found if found is not None else Odd(tag, text)
    if tag == _NULL:
        return None
    return Odd(tag, text)


class _Open:
    """A container being composed."""

    __slots__ = ("anchor", "data", "entries", "key", "key_pos", "merges", "path", "pos",
                 "size")

    def __init__(self, data: Any, pos: Pos, path: str, anchor: str | None) -> None:
        self.data = data
        self.pos = pos
        self.path = path
        self.anchor = anchor
        self.entries: dict[Any, tuple[Pos, Pos, str | None]] = {}
        self.key: Any = _NO_KEY  # a mapping waiting for the value of this key
        self.key_pos: Pos = (0, 0)
        self.merges: list[tuple[Any, Pos]] = []
        self.size = 1


_NO_KEY = object()
_MERGE_KEY = object()  # a merge key (<<): its value is merged when the mapping ends
_SKIP = object()  # a key that is not a string: its value is read and dropped


class _Composer:
    def __init__(self, events: Iterator[Event], path: str) -> None:
        self.events = events
        self.path = path
        self.places = Places(exact=True)
        self.problems: list[Problem] = []
        # anchor -> (value, position, style, size); a container's size is its value count
        self.anchors: dict[str, tuple[Any, Pos, str | None, int]] = {}
        self.unfinished: set[str] = set()
        self.expanded = 0  # values that aliases and merge keys added: LIMITS.expansion
        self.stack: list[_Open] = []

    def document(self) -> tuple[Any, Places, list[Problem]]:
        events = self.events
        next(events)  # StreamStart
        event = next(events)
        if isinstance(event, StreamEndEvent):
            return None, self.places, self.problems
        assert isinstance(event, DocumentStartEvent)
        root = self._node(next(events), "")
        next(events)  # DocumentEnd
        event = next(events)
        if not isinstance(event, StreamEndEvent):
            raise YamlError(_pos(event), "invalid YAML: expected a single document in the "
                                         "stream, but found another document")
        return root, self.places, self.problems

    def _node(self, event: Event, path: str) -> Any:
        """Compose the node that starts with `event`; containers from a loop, not recursion."""
        stack = self.stack
        while True:
            value: Any = _NO_KEY
            if isinstance(event, ScalarEvent):
                value, pos, style, size = self._scalar(event)
            elif isinstance(event, AliasEvent):
                value, pos, style, size = self._alias(event)
            elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                self._open(event, path)
            elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                value, pos, style, size = self._close()
            else:  # the parser sends nothing else inside a document
                raise YamlError(_pos(event), f"invalid YAML: unexpected {type(event).__name__}")
            if value is not _NO_KEY:
                if not stack:
                    return value
                self._add(stack[-1], value, pos, style, size)
            event = next(self.events)

    def _expand(self, size: int, pos: Pos) -> None:
        self.expanded += size
        if self.expanded > LIMITS.expansion:
            raise LimitError(pos, f"aliases and merge keys expand to more than "
                                  f"{LIMITS.expansion:,} values (see docs/cluster-file.md)")

    def _scalar(self, event: ScalarEvent) -> tuple[Any, Pos, str | None, int]:
        pos = _pos(event)
        text = event.value
        if len(text) > LIMITS.scalar:
            raise LimitError(pos, f"a value of {len(text):,} characters (at most "
                                  f"{LIMITS.scalar:,}; see docs/cluster-file.md)")
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolver.resolve(ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
        value = scalar(tag, text)
        style = event.style or None
        if event.anchor is not None:
            self._anchor(event, (value, pos, style, 1))
        return value, pos, style, 1

    def _anchor(self, event: Event, found: tuple[Any, Pos, str | None, int]) -> None:
        anchor = event.anchor  # type: ignore[attr-defined]
        if anchor in self.anchors:
            first = self.anchors[anchor][1]
            raise YamlError(_pos(event), f"invalid YAML: found duplicate anchor {anchor!r} "
                                         f"(first at line {first[0]}, column {first[1]})")
        self.anchors[anchor] = found

    def _alias(self, event: AliasEvent) -> tuple[Any, Pos, str | None, int]:
        anchor = event.anchor
        if anchor in self.unfinished:
            raise YamlError(_pos(event), f"invalid YAML: alias *{anchor} is inside its own "
                                         "anchor (a recursive structure)")
        if anchor not in self.anchors:
            raise YamlError(_pos(event), f"invalid YAML: found undefined alias {anchor!r}")
        value, pos, style, size = self.anchors[anchor]
        self._expand(size, _pos(event))
        return value, pos, style, size

    def _open(self, event: Event, path: str) -> None:
        pos = _pos(event)
        if len(self.stack) >= LIMITS.depth:
            raise LimitError(pos, f"nested deeper than {LIMITS.depth} levels "
                                  "(see docs/cluster-file.md)")
        top = self.stack[-1] if self.stack else None
        if top is not None:
            path = self._child_path(top)
        data: Any = {} if isinstance(event, MappingStartEvent) else []
        anchor = event.anchor  # type: ignore[attr-defined]
        if anchor is not None:
            if anchor in self.anchors or anchor in self.unfinished:
                first = self.anchors[anchor][1] if anchor in self.anchors else pos
                raise YamlError(pos, f"invalid YAML: found duplicate anchor {anchor!r} "
                                     f"(first at line {first[0]}, column {first[1]})")
            self.unfinished.add(anchor)
        self.places.at[id(data)] = pos
        self.stack.append(_Open(data, pos, path, anchor))

    def _child_path(self, top: _Open) -> str:
        if type(top.data) is list:
            return f"{top.path}[{len(top.data)}]"
        if top.key is _NO_KEY or top.key is _SKIP or top.key is _MERGE_KEY:
            return top.path
        return join(top.path, top.key)

    def _close(self) -> tuple[Any, Pos, str | None, int]:
        done = self.stack.pop()
        data = done.data
        if type(data) is dict and done.merges:
            self._merge(done)
        self.places.entries[id(data)] = done.entries
        if done.anchor is not None:
            self.unfinished.discard(done.anchor)
            self.anchors[done.anchor] = (data, done.pos, None, done.size)
        return data, done.pos, None, done.size

    def _add(self, top: _Open, value: Any, pos: Pos, style: str | None, size: int) -> None:
        top.size += size
        data = top.data
        if type(data) is list:
            top.entries[len(data)] = (pos, pos, style)
            data.append(value)
            return
        if top.key is _NO_KEY:  # this value is a key
            if isinstance(value, Odd) and value.tag == _MERGE:
                top.key = _MERGE_KEY  # a plain <<
            elif type(value) is not str:
                where = top.path
                self.problems.append((pos, where, f"keys must be strings, not {kind(value)}"))
                top.key = _SKIP
            else:
                top.key = value
            top.key_pos = pos
            return
        key, top.key = top.key, _NO_KEY
        if key is _SKIP:
            return
        if key is _MERGE_KEY:
            top.merges.append((value, pos))
            return
        if key in data:
            first = top.entries[key][0]
            where = join(top.path, key)
            self.problems.append((top.key_pos, where, f"duplicate key, first at "
                                                      f"{self.path}:{first[0]}:{first[1]}"))
            return
        data[key] = value
        top.entries[key] = (top.key_pos, pos, style)

    def _merge(self, done: _Open) -> None:
        """Resolve `<<` keys: explicit keys win, then earlier merge sources (as YAML says)."""
        merged: dict[str, Any] = {}
        entries: dict[Any, tuple[Pos, Pos, str | None]] = {}
        for value, pos in done.merges:
            sources = value if type(value) is list else [value]
            for index, source in enumerate(sources):
                if type(source) is not dict:
                    at = self.places.entries.get(id(value), {}).get(index, (pos, pos, None))[1] \
                        if type(value) is list else pos
                    self.problems.append((at, done.path,
                                          f"'<<' must merge a mapping, not {kind(source)}"))
                    continue
                self._expand(len(source), pos)
                source_entries = self.places.entries.get(id(source), {})
                for name, item in source.items():
                    if name not in merged:
                        merged[name] = item
                        entries[name] = source_entries[name]
        for name in done.data:
            merged.pop(name, None)
            entries.pop(name, None)
        data = done.data
        explicit = dict(data)
        data.clear()
        data.update(merged)
        data.update(explicit)
        entries.update(done.entries)
        done.entries = entries
