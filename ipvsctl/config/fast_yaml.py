"""The line reader: the YAML people write, read a line at a time, for large files.

Cluster files are block mappings and lists with one flow mapping per real server:

    services:
      - vip: 192.0.2.10
        port: 80
        real_servers:
          - {address: 10.0.0.11, weight: 10}

This reader accepts exactly such a subset of YAML (block mappings and lists indented with spaces,
one-line flow collections, plain scalars of a safe alphabet, quoted scalars without escapes,
comments) and produces the document the careful reader would, with the place of every
container. It returns None on anything else (an anchor, a tag, a multi-line scalar, a tab, a
repeated key, a scalar YAML reads as anything but a string, a decimal integer, a boolean or
null, ...): the careful reader then reads the file. tests/config compare the two readers'
documents on every file the line reader accepts, and on mutations of them.

A real-server list repeats one line layout thousands of times: the first line of a layout is
parsed piece by piece, which yields a regular expression for the layout ("skeleton") that reads
every later line of it in one match.
"""

from __future__ import annotations

import re
from typing import Any

from ipvsctl.config.limits import LIMITS, LimitError
from ipvsctl.config.tree import TAG, Odd, Places


class _GiveUp(Exception):
    pass


_STR, _INT, _BOOL, _NULL, _FLOAT = (TAG + t for t in ("str", "int", "bool", "null", "float"))
_SECONDS = re.compile(r"(?:0|[1-9][0-9]{0,5})\.[0-9]{1,6}")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}

# Plain scalars of a safe alphabet: no indicator first, no ': ' or ' #' inside, no ',[]{}'.
_W = r"A-Za-z0-9_./+~=@"
_PLAIN = re.compile(rf"(?:-(?=[{_W}])|[A-Za-z0-9_./+~=])(?:[{_W}-]|:(?=[{_W}:-])| +(?=[{_W}-]))*")
_KEY = r"[A-Za-z_][A-Za-z0-9_-]*"
_ENTRY = re.compile(rf"({_KEY}):(?= |$)")
_END = re.compile(r" *(?:#.*)?")  # after a value: spaces, then a comment or nothing
# A whole `key: plain-value` line of a block mapping (from its indentation), perhaps with a
# comment: what _ENTRY, _skip, _PLAIN and end() accept piece by piece, in one match. The value's
# loop can end only where the piece-by-piece one does (each of its steps starts with a character
# the tail cannot start with), so both read the same key and value.
_SCALAR_ENTRY = re.compile(rf"({_KEY}): +({_PLAIN.pattern})(?: *| +#.*)")
_SPACES = re.compile(r" *")
# Characters this reader never reads (tabs, carriage returns, other controls); it reads ASCII only.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
# Value classes of a skeleton, each read as YAML reads it (tests/config check these against
# PyYAML's resolver): a decimal integer without a leading zero; a dotted quad (three dots: never
# a number or a date); an IPv6-like text with '::' or a hex letter (never a sexagesimal number);
# a lower-case word that is not a YAML 1.1 boolean or null.
_CLASSES = (
    ("int", r"(0|[1-9][0-9]{0,9})"),
    ("str", r"([0-9]{1,3}(?:\.[0-9]{1,3}){3})"),
    ("str", r"((?=[0-9a-fA-F:]*(?:::|[a-fA-F]))[0-9a-fA-F]*:[0-9a-fA-F:]*[0-9a-fA-F])"),
    ("str", r"((?!(?:yes|no|true|false|on|off|null)\b)[a-z][a-z0-9_-]*)"),
)
_CLASS_RE = [(name, re.compile(pattern)) for name, pattern in _CLASSES]
_QUAD = _CLASS_RE[1][1]
MAX_SKELETONS = 32
MAX_KNOWN = 4096


def _skip(line: str, pos: int) -> int:
    """The index after the spaces at line[pos:]."""
    m = _SPACES.match(line, pos)
    return m.end() if m else pos


def plain(text: str) -> Any:
    """A plain scalar's value; _GiveUp unless YAML reads it as a string, a decimal integer
    without a leading zero, a short decimal fraction (a check's seconds: an Odd, as the
    careful reader makes it), a boolean or null."""
    if _QUAD.fullmatch(text):  # a VIP: never a number or a date (see _CLASSES)
        return text
    for name, pattern in _CLASS_RE:  # read as PyYAML reads them, without loading it
        if pattern.fullmatch(text):
            if name == "int":
                return int(text)
            if len(text) > LIMITS.scalar:
                raise _GiveUp()
            return text
    tag = _resolve(text)
    if tag == _STR:
        if len(text) > LIMITS.scalar:
            raise _GiveUp()
        return text
    if tag == _INT and re.fullmatch(r"-?(?:0|[1-9][0-9]{0,9})", text):
        return int(text)
    if tag == _FLOAT and _SECONDS.fullmatch(text):
        return Odd(tag, text)
    if tag == _BOOL and text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if tag == _NULL and text in ("~", "null", "Null", "NULL"):
        return None
    raise _GiveUp()


def _resolve(text: str) -> str:
    """The tag YAML gives a plain scalar: PyYAML's own resolver, imported on first use (a file
    of containers only, and a kept result, need none of PyYAML)."""
    global _resolve
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    resolver = Resolver()

    def resolve(text: str) -> str:
        return resolver.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call,no-any-return]

    _resolve = resolve
    return resolve(text)


_plain_cache: dict[str, Any] = {}


def _plain(text: str) -> Any:
    try:
        return _plain_cache[text]
    except KeyError:
        value = plain(text)
        if len(_plain_cache) < 4096:
            _plain_cache[text] = value
        return value


def read(text: str) -> tuple[Any, Places] | None:
    """The document and its container places, or None to read it carefully."""
    if len(text) > LIMITS.size or not text.isascii() or _CONTROL.search(text) \
            or text.startswith(("---", "...", "%")) or "\n---" in text or "\n..." in text \
            or "\n%" in text:
        return None  # documents, directives, non-ASCII (columns), controls: the careful reader
    try:
        LIMITS.check_lines(text)
    except LimitError:
        return None
    places = Places(exact=False)
    try:
        return _Reader(text, places).document(), places
    except (_GiveUp, IndexError):
        return None


class _Skeleton:
    """One flat flow-mapping line layout: keys and spacing fixed, values of fixed classes."""

    __slots__ = ("ints", "keys", "match")

    def __init__(self, pattern: str, keys: tuple[str, ...], ints: tuple[str, ...]) -> None:
        self.match = re.compile(pattern).fullmatch  # the whole line, indentation included
        self.keys = keys
        self.ints = ints  # the keys whose values are integers


class _Reader:
    def __init__(self, text: str, places: Places) -> None:
        self.lines = text.split("\n")
        self.n = len(self.lines)
        self.i = 0
        self.at = places.at
        self.skeletons: list[_Skeleton] = []  # of list items: `- {...}`
        self.value_skeletons: list[_Skeleton] = []  # of mapping values: `key: {...}`
        # `key: plain` lines of block mappings read so far (their indent, key and value): the
        # lines of a check or a service repeat, thousands of times, character for character
        self.known: dict[str, tuple[int, str, Any]] = {}

    def skip_blank(self) -> int:
        """Index of the next line that is not blank or a comment (from self.i); sets self.i."""
        lines, i, n = self.lines, self.i, self.n
        while i < n:
            s = lines[i].lstrip(" ")
            if s and s[0] != "#":
                break
            i += 1
        self.i = i
        return i

    def indent(self) -> int:
        line = self.lines[self.i]
        if len(line) > LIMITS.line:
            raise _GiveUp()
        return len(line) - len(line.lstrip(" "))

    def document(self) -> Any:
        if self.skip_blank() >= self.n:
            raise _GiveUp()  # empty: the careful reader words it
        node = self.block(self.indent(), 0)
        if self.skip_blank() < self.n:
            raise _GiveUp()
        return node

    def block(self, indent: int, depth: int) -> Any:
        if depth >= LIMITS.depth:
            raise _GiveUp()
        line = self.lines[self.i]
        if line.startswith("- ", indent):
            return self.sequence(indent, depth)
        return self.mapping(indent, depth)

    def sequence(self, indent: int, depth: int) -> list[Any]:
        lines, n, at = self.lines, self.n, self.at
        items: list[Any] = []
        at[id(items)] = (self.i + 1, indent + 1)
        prefix = " " * indent + "- "
        col = indent + 2
        i = self.i
        while True:
            line = lines[i]
            if not line.startswith(prefix) or len(line) > LIMITS.line:
                raise _GiveUp()
            start = col if line[col] != " " else len(line) - len(line[col:].lstrip(" "))
            c = line[start]
            self.i = i
            if c == "{":
                for skeleton in self.skeletons:  # a known layout: one match, C calls only
                    m = skeleton.match(line)
                    if m is not None:
                        out = dict(zip(skeleton.keys, m.groups(), strict=True))
                        for key in skeleton.ints:
                            out[key] = int(out[key])
                        at[id(out)] = (i + 1, start + 1)
                        items.append(out)
                        break
                else:
                    items.append(self.flow_item(line, start))
                i += 1
            else:
                item: Any
                if c == "[":
                    item, end = self.flow_sequence(line, start, depth + 1)
                    self.end(line, end)
                elif _ENTRY.match(line, start):
                    item = self.mapping(start, depth + 1, first=True)
                else:
                    item, end = self.scalar(line, start)
                    self.end(line, end)
                items.append(item)
                i = self.i
            while i < n:  # the next line that is not blank or a comment
                s = lines[i].lstrip(" ")
                if s and s[0] != "#":
                    break
                i += 1
            self.i = i
            if i >= n:
                return items
            got = len(lines[i]) - len(s)
            if got < indent or (got == indent and not s.startswith("- ")):
                return items  # the parent's next key, at the same indent for an indentless list
            if got != indent:
                raise _GiveUp()

    def end(self, line: str, end: int) -> None:
        """The rest of a line after its value must be spaces and perhaps a comment."""
        if end < len(line) and (line[end] != " " or _END.fullmatch(line, end) is None):
            raise _GiveUp()
        self.i += 1

    def mapping(self, indent: int, depth: int, first: bool = False) -> dict[str, Any]:
        lines, n = self.lines, self.n
        out: dict[str, Any] = {}
        self.at[id(out)] = (self.i + 1, indent + 1)
        scalar_entry = _SCALAR_ENTRY.fullmatch
        known = self.known
        while True:
            line = lines[self.i]
            hit = None if first else known.get(line)
            if hit is not None:  # this very line was read before: the same key and value
                if hit[0] != indent:
                    raise _GiveUp()
                key = hit[1]
                if key in out:
                    raise _GiveUp()
                out[key] = hit[2]
                self.i += 1
            else:
                if not first and self.indent() != indent:
                    raise _GiveUp()
                m = scalar_entry(line, indent)
                if m is not None:  # the common line: a plain scalar value
                    key = _plain(m.group(1))
                    if type(key) is not str or key in out:
                        raise _GiveUp()
                    out[key] = value = _plain(m.group(2))
                    self.i += 1
                    if not first and len(known) < MAX_KNOWN:
                        known[line] = (indent, key, value)
                else:
                    self.entry(out, line, indent, depth)
            first = False
            i = self.i
            while i < n:  # the next line that is not blank or a comment
                s = lines[i].lstrip(" ")
                if s and s[0] != "#":
                    break
                i += 1
            self.i = i
            if i >= n:
                return out
            got = len(lines[i]) - len(s)  # its indent (read() bounds every line's length)
            if got < indent:
                return out
            if got > indent:
                raise _GiveUp()

    def entry(self, out: dict[str, Any], line: str, indent: int, depth: int) -> None:
        """One entry of a block mapping read piece by piece, into `out`."""
        lines = self.lines
        value: Any
        m = _ENTRY.match(line, indent)
        if m is None:
            raise _GiveUp()
        key = _plain(m.group(1))
        if type(key) is not str or key in out:
            raise _GiveUp()
        pos = _skip(line, m.end())
        if pos >= len(line) or line[pos] == "#":
            # the value is the block below (null if there is none: the careful reader)
            if pos < len(line) and line[pos - 1] != " ":
                raise _GiveUp()
            self.i += 1
            if self.skip_blank() >= self.n:
                raise _GiveUp()
            got = self.indent()
            if got > indent:
                value = self.block(got, depth + 1)
            elif got == indent and lines[self.i].startswith("- ", indent):
                value = self.sequence(indent, depth + 1)
            else:
                raise _GiveUp()
        else:
            c = line[pos]
            if c == "{":
                if depth + 1 < LIMITS.depth:  # (flow_mapping's own bound)
                    for skeleton in self.value_skeletons:  # the line's layout is known
                        found = skeleton.match(line)
                        if found is not None:
                            value = dict(zip(skeleton.keys, found.groups(), strict=True))
                            for name in skeleton.ints:
                                value[name] = int(value[name])
                            self.at[id(value)] = (self.i + 1, pos + 1)
                            out[key] = value
                            self.i += 1
                            return
                value, end = self.flow_mapping(line, pos, depth + 1)
                self.end(line, end)
                self.learn(line, pos, end, value, self.value_skeletons)
                out[key] = value
                return
            if c == "[":
                value, end = self.flow_sequence(line, pos, depth + 1)
            else:
                value, end = self.scalar(line, pos)
            self.end(line, end)
        out[key] = value

    def scalar(self, line: str, pos: int) -> tuple[Any, int]:
        c = line[pos]
        if c == "'" or c == '"':
            end = line.find(c, pos + 1)
            if end < 0 or line.startswith(c, end + 1):
                raise _GiveUp()
            text = line[pos + 1:end]
            if "\\" in text or len(text) > LIMITS.scalar or (text and text[-1] == " ") \
                    or text.startswith(" "):
                raise _GiveUp()  # escapes; spaces next to quotes fold differently in some cases
            return text, end + 1
        m = _PLAIN.match(line, pos)
        if m is None:
            raise _GiveUp()
        return _plain(m.group()), m.end()

    # -- one-line flow collections --------------------------------------------------------------

    def flow_item(self, line: str, pos: int) -> dict[str, Any]:
        """A list item that is a flow mapping of a layout not seen yet: read piece by piece,
        and its layout learnt."""
        out, end = self.flow_mapping(line, pos, 0)
        self.end_flow(line, end)
        self.learn(line, pos, end, out, self.skeletons)
        return out

    def end_flow(self, line: str, end: int) -> None:
        if end < len(line) and (line[end] != " " or _END.fullmatch(line, end) is None):
            raise _GiveUp()

    def learn(self, line: str, pos: int, end: int, out: dict[str, Any],
              skeletons: list[_Skeleton]) -> None:
        """Remember the layout of this line if it is a flat mapping of plain values of the
        skeleton classes: its text with each value replaced by the value's class."""
        if len(skeletons) >= MAX_SKELETONS or not out:
            return
        pattern: list[str] = []
        ints: list[str] = []
        at = 0  # the text up to here is in the pattern
        scan = pos + 1
        for key, value in out.items():
            if type(value) is not str and type(value) is not int:
                return
            entry = _ENTRY.match(line, _skip(line, scan))
            if entry is None or entry.group(1) != key:
                return
            start = _skip(line, entry.end() + 1)
            found = _PLAIN.match(line, start)
            if found is None:
                return  # quoted: read piece by piece
            text = found.group()
            for name, regex in _CLASS_RE:
                if regex.fullmatch(text) and (name == "int") == (type(value) is int):
                    break
            else:
                return
            pattern += [re.escape(line[at:start]), regex.pattern]
            if name == "int":
                ints.append(key)
            at = found.end()
            scan = _skip(line, at) + 1  # past ',' or '}'
        pattern.append(re.escape(line[at:end]) + r"(?: *| +#.*)")
        skeletons.insert(0, _Skeleton("".join(pattern), tuple(out), tuple(ints)))

    def flow_mapping(self, line: str, pos: int, depth: int) -> tuple[dict[str, Any], int]:
        if depth >= LIMITS.depth:
            raise _GiveUp()
        out: dict[str, Any] = {}
        self.at[id(out)] = (self.i + 1, pos + 1)
        pos = _skip(line, pos + 1)
        if line[pos] == "}":
            return out, pos + 1
        value: Any
        while True:
            m = _ENTRY.match(line, pos)
            if m is None:
                raise _GiveUp()
            key = _plain(m.group(1))
            if type(key) is not str or key in out:
                raise _GiveUp()
            vpos = _skip(line, m.end())
            c = line[vpos]
            if c == "{":
                value, pos = self.flow_mapping(line, vpos, depth + 1)
            elif c == "[":
                value, pos = self.flow_sequence(line, vpos, depth + 1)
            elif c == "," or c == "}":
                raise _GiveUp()  # a null value
            else:
                value, pos = self.scalar(line, vpos)
            out[key] = value
            pos = _skip(line, pos)
            c = line[pos]
            if c == "}":
                return out, pos + 1
            if c != ",":
                raise _GiveUp()
            pos = _skip(line, pos + 1)
            if line[pos] == "}":
                raise _GiveUp()  # a trailing comma

    def flow_sequence(self, line: str, pos: int, depth: int) -> tuple[list[Any], int]:
        if depth >= LIMITS.depth:
            raise _GiveUp()
        items: list[Any] = []
        self.at[id(items)] = (self.i + 1, pos + 1)
        pos = _skip(line, pos + 1)
        if line[pos] == "]":
            return items, pos + 1
        value: Any
        while True:
            c = line[pos]
            if c == "{":
                value, pos = self.flow_mapping(line, pos, depth + 1)
            elif c == "[":
                value, pos = self.flow_sequence(line, pos, depth + 1)
            else:
                value, pos = self.scalar(line, pos)
                if _ENTRY.match(line, pos - 1) is not None or line.startswith(":", pos):
                    raise _GiveUp()  # a single-pair mapping inside a list: rare
            items.append(value)
            pos = _skip(line, pos)
            c = line[pos]
            if c == "]":
                return items, pos + 1
            if c != ",":
                raise _GiveUp()
            pos = _skip(line, pos + 1)
            if line[pos] == "]":
                raise _GiveUp()
