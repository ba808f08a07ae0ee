"""keepalived.conf as keepalived 2.2.7 reads it, line by line (lib/parser.c read_line).

What comes out is the stream of lines keepalived's keyword parser sees: comments removed
(decomment), conditional lines (`@id`, `@^id`) evaluated, `$NAME=value` definitions (multi-line
ones too) recorded and substituted where used (recursively, at use time), `~SEQ` and `~LST`
lines repeated, `include` files (globs, braces, relative to the including file) read in place,
and every line split before its first unquoted '{' or '}', so braces always stand alone.

keepalived has no general line continuation: a trailing backslash only continues a `$NAME=`
definition (elsewhere it stays a word of the line, as in keepalived), and a blank line or a
line holding only a comment ends one (keepalived parses a copy of the file in which comment
lines are blank). A UTF-8 byte-order mark is
not skipped either: it stays glued to the first word of its file, as keepalived reads it. Bytes
that are not UTF-8 read as U+FFFD, which only matters outside comments.
"""

from __future__ import annotations

import glob
import os
import random
import re
import stat
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ipvsctl.importers._common import Notes, Place

DEF_LINE_END = "\x01"  # keepalived's DEF_LINE_END: separates the lines of a multi-line value
WHITE = " \t"
MAX_INCLUDE_DEPTH = 8  # keepalived has none; a file including itself would never end
MAX_LINES = 2_000_000  # lines after expansion (a ~SEQ can make many); more is an error
MAX_SUBSTITUTIONS = 10_000  # per line: `$A=$A` would loop forever in keepalived itself
MAX_SEQ_VALUES = 1_000_000
MAXBUF = 1024  # keepalived reads lines into 1,024 bytes and substitutes within them
MAX_FILE_BYTES = 16 << 20

_SPECIAL = re.compile(r'[#!"\\]')  # what decomment() has to look at
# What only the full path of read_line handles: decomment's characters, templating, U+FFFD
_NOT_PLAIN = re.compile(r'[#!"\\$@~\ufffd]')
_NUMBER = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
Reader = Callable[[str], bytes]  # reads an included file's bytes
# Place(file, line) and Line(text, place) without their Python-level __new__: one per line
_new_place = _new_line = tuple.__new__


class SourceError(Exception):
    """The source cannot be read as keepalived would (too deep, too long): one message."""


class Line(NamedTuple):
    """One line as keepalived's keyword parser receives it."""

    text: str
    place: Place


@dataclass(slots=True)
class _Def:
    value: str
    multiline: bool = False
    fn: Callable[[str | None], str] | None = None
    max_params: int = 0


@dataclass(slots=True)
class _Seq:
    var: str
    next: int
    step: int
    last: int
    hex: bool
    text: str
    # ~LST: parameter names and the value sets still to give them
    params: list[str] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class _File:
    name: str  # as messages name it: relative to the including file's name, as keepalived does
    real: str  # where it is
    lines: Iterator[tuple[int, str]]
    pending: list[tuple[str, str]]  # further glob matches still to read: (name, real)


def decode(raw: bytes) -> str:
    """A line's text; bytes that are not UTF-8 become U+FFFD (keepalived reads bytes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def decomment(text: str) -> tuple[str, bool]:
    """keepalived's decomment(): leading and trailing blanks and the comment (an unquoted '#'
    or '!') removed, '\\#' and '\\!' unescaped outside quotes. True when the comment held a
    bad byte (so only the comment did)."""
    text = text.lstrip(WHITE)
    if _SPECIAL.search(text) is None:
        return text.rstrip(WHITE), False
    out: list[str] = []
    quote = False
    skip: int | None = None
    cont = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            if skip is None:
                quote = not quote
        elif char == "\\":
            if i + 1 < len(text):
                if not quote and text[i + 1] in "#!":
                    out.append(text[i + 1])
                    i += 2
                    continue
                out.append(text[i:i + 2])
                i += 2
                continue
            cont = True  # the last character: keepalived keeps it, after the comment is cut
            break
        elif not quote and skip is None and char in "!#":
            skip = len(out)
        out.append(char)
        i += 1
    joined = "".join(out)
    body = joined if skip is None else joined[:_cut(out, skip)]
    body = body.rstrip(WHITE)
    if cont:
        body += "\\"
    return body, skip is not None and "\ufffd" in joined[_cut(out, skip):]


def _cut(out: list[str], pieces: int) -> int:
    return sum(len(p) for p in out[:pieces])


class LineReader:
    """Yields the lines keepalived's parser sees, reporting what it cannot follow in `notes`."""

    def __init__(self, notes: Notes, text: str, path: str, *, config_id: str | None = None,
                 read: Reader | None = None, folder: str | None = None) -> None:
        self.notes = notes
        self.config_id = config_id
        self.read_file = read or (lambda name: Path(name).read_bytes())
        real = str(Path(folder) / Path(path).name) if folder is not None else path
        self.files: list[_File] = [_File(path, real, _numbered(text), [])]
        self.defs: dict[str, _Def] = {}
        self.seqs: list[_Seq] = []
        self.multiline_seq_depth = 0
        self.next_lines: list[str] | None = None  # the rest of a multi-line expansion
        self.multiline_stack: list[tuple[list[str], int]] = []
        self.residue: str | None = None
        self.def_in_progress: _Def | None = None
        self.place = Place(path, 0)
        self.produced = 0
        self.conditionals: list[Place] = []
        self._std_definitions()

    def _std_definitions(self) -> None:
        def pwd(_: str | None) -> str:
            real = self.files[-1].real if self.files else ""
            return str(Path(real).parent.resolve()) if "/" in real else os.getcwd()

        def randint(params: str | None) -> str:
            lo, hi = 0, 32767
            numbers = [int(n) for n in (params or "").split()]
            if numbers:
                lo = numbers[0]
            if len(numbers) > 1:
                hi = numbers[1]
            # keepalived's ${_RANDOM}: any number will do, nothing secret
            return str(random.randint(lo, hi)) if hi >= lo else str(lo)  # noqa: S311

        self.defs["_PWD"] = _Def("", fn=pwd)
        self.defs["_INSTANCE"] = _Def("", fn=lambda _: self.config_id or "")
        self.defs["_RANDOM"] = _Def("", fn=randint, max_params=2)
        self.defs["_HASH"] = _Def("#")
        self.defs["_BANG"] = _Def("!")

    # -- the lines ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Line]:
        while True:
            buf: str | None
            if (self.residue is None and self.next_lines is None and not self.seqs
                    and self.def_in_progress is None and self.files):
                got = yield from self._plain()
                buf = got if got is not None else self._fetch()
            else:
                buf = self._fetch()
            if buf is None:
                return
            if self.def_in_progress is not None:
                self._continue_definition(buf)
                continue
            if not buf:
                continue
            buf = self._process(buf)
            if not buf:
                continue
            if self._include(buf):
                continue
            self.produced += 1
            if self.produced > MAX_LINES:
                self._too_many()
            yield Line(self._split_brace(buf), self.place)

    def _too_many(self) -> None:
        raise SourceError(f"{self.place}: more than {MAX_LINES:,} lines after "
                          "expanding definitions and ~SEQ/~LST: not translated")

    def _plain(self) -> Generator[Line, None, str | None]:
        """While nothing is pending (no residue, definition, sequence or multi-line value): the
        file's next lines, each made into its Line here when it needs none of decomment,
        conditionals, definitions, sequences or include (most lines of most files), and so is
        the brace residue of such a line (it starts with a brace and holds none of those
        characters either, so the full path would give it back unchanged). Returns the first
        line that needs the full path, decommented, or None at the end of the file. One loop
        for all of it: these are most lines, and a call per line shows in a large import."""
        current = self.files[-1]
        name = current.name
        not_plain = _NOT_PLAIN.search
        for number, raw in current.lines:
            self.place = place = _new_place(Place, (name, number))
            text = raw.rstrip("\r\n")
            if not_plain(text) is None:
                body = text.strip(WHITE)
                if not body:
                    continue
                if not body.startswith("include"):
                    if "{" in body or "}" in body:
                        body = self._split_brace(body)
                    while True:
                        self.produced += 1
                        if self.produced > MAX_LINES:
                            self._too_many()
                        yield _new_line(Line, (body, place))
                        residue = self.residue
                        if residue is None:
                            break
                        self.residue = None  # before the split, which may leave another
                        body = self._split_brace(residue)
                    continue  # (a plain line starts no definition, sequence or value)
            body = self._decommented(text)
            if body:
                return body
        return None

    def _fetch(self) -> str | None:
        """The next raw line: a brace residue, a sequence step, a multi-line value's next line,
        or the next non-empty line of the files, decommented."""
        if self.residue is not None:
            buf, self.residue = self.residue, None
            return buf
        if self.seqs and len(self.seqs) > self.multiline_seq_depth:
            return self._seq_step()
        if self.next_lines is not None:
            buf = self.next_lines.pop(0)
            if not self.next_lines:
                if self.multiline_stack:
                    self.next_lines, self.multiline_seq_depth = self.multiline_stack.pop()
                else:
                    self.next_lines, self.multiline_seq_depth = None, 0
            return buf
        while self.files:
            current = self.files[-1]
            for number, raw in current.lines:
                self.place = Place(current.name, number)
                body = self._decommented(raw.rstrip("\r\n"))
                if body:
                    return body
            self._next_file()
        return None

    def _decommented(self, text: str) -> str:
        """A line of a file (at self.place) decommented; "" for a line with nothing left,
        which ends a definition in progress."""
        if not text:
            if self.def_in_progress is not None:  # a blank line ends a definition
                self._end_definition()
            return ""
        body, bad_comment = decomment(text)
        if bad_comment:
            self.notes.warn(self.place, "bytes that are not UTF-8 in a comment: "
                            "ignored with the comment, as keepalived does",
                            kind="non-utf8-comment")
        if "\ufffd" in body:
            self.notes.warn(self.place, "bytes that are not UTF-8 outside a comment: "
                            "read as U+FFFD (the line is unlikely to mean anything "
                            "to keepalived either)", kind="non-utf8-text")
        if not body and self.def_in_progress is not None:
            # keepalived parses a copy of the file in which a comment line is blank,
            # and a blank line ends a definition
            self.notes.warn(self.place, "a comment line inside a multi-line "
                            "definition ends it: keepalived 2.2.7 reads its configuration "
                            "through a copy in which comment lines are blank; the lines "
                            "after it are read as lines of their own",
                            kind="comment-ends-definition")
            self._end_definition()
        return body

    def _next_file(self) -> None:
        done = self.files.pop()
        while done.pending:
            name, real = done.pending.pop(0)
            opened = self._open(real)
            if opened is not None:
                self.files.append(_File(name, real, opened, done.pending))
                return

    # -- definitions, conditionals, sequences ------------------------------------------------

    def _process(self, buf: str) -> str:
        """The recheck loop of read_line: conditionals, definitions, sequences, substitution."""
        substitutions = 0
        while True:
            if buf.startswith("@"):
                buf = self._conditional(buf)
                if not buf:
                    return ""
            if buf.startswith("$") and self._definition(buf):
                return ""
            if buf.startswith(("~SEQ", "~LST")):
                ok = self._add_seq(buf) if buf[1] == "S" else self._add_lst(buf)
                if not ok:
                    self.notes.warn(self.place, f"invalid {buf[:4]} specification "
                                    f"'{buf}': keepalived ignores the line", kind="bad-seq")
                return ""
            if buf.startswith("~"):
                return buf
            if not (self.defs and "$" in buf):
                return buf
            replaced = self._replace(buf)
            if replaced is None:
                return buf
            substitutions += 1
            if substitutions > MAX_SUBSTITUTIONS:
                raise SourceError(f"{self.place}: definitions substitute each other without "
                                  "end (keepalived would loop forever here)")
            buf = decomment(replaced)[0]
            if not (buf.startswith("@") or "$" in buf):
                return buf

    def _conditional(self, buf: str) -> str:
        negate = buf.startswith("@^")
        start = 2 if negate else 1
        gap = re.search(r"[ \t]", buf[start:])
        if gap is None:
            return ""
        ident = buf[start:start + gap.start()]
        self.conditionals.append(self.place)
        if (self.config_id is None or ident != self.config_id) != negate:
            return ""
        return buf[start + gap.start():].lstrip(WHITE)

    def _definition(self, buf: str) -> bool:
        """`$NAME=VALUE` (no blank before '='): recorded; True if `buf` is one."""
        match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)=", buf)
        if match is None:
            return False
        name = match[1]
        value = buf[match.end():].lstrip(WHITE)
        definition = self.defs.get(name)
        if definition is None:
            definition = self.defs[name] = _Def("")
        definition.fn, definition.max_params = None, 0
        if value.endswith("\\"):
            value = value[:-1].rstrip(WHITE)
            definition.value = value + DEF_LINE_END if value else ""
            definition.multiline = True
            self.def_in_progress = definition
        else:
            definition.value, definition.multiline = value, False
        return True

    def _continue_definition(self, buf: str) -> None:
        definition = self.def_in_progress
        assert definition is not None
        more = buf.endswith("\\")
        if more:
            buf = buf[:-1].rstrip(WHITE) + DEF_LINE_END
        if len(buf) >= 2 or (buf and not more):
            definition.value += buf
        if not more:
            self._end_definition()

    def _end_definition(self) -> None:
        definition = self.def_in_progress
        assert definition is not None
        if not definition.value:
            definition.multiline = False
        self.def_in_progress = None

    def _replace(self, buf: str, *, multiline: bool = True) -> str | None:
        """keepalived's replace_param(): every `$NAME` (followed by a blank, ',', ')' or the
        end) and `${NAME}` that is defined, rescanned after each replacement. None if nothing
        was replaced. A multi-line value may only stand at the end of the line; its first line
        replaces the reference, the others follow as lines of their own."""
        found = False
        pos = 0
        rounds = 0
        while (pos := buf.find("$", pos)) >= 0 and pos + 1 < len(buf):
            hit = self._find(buf, pos)
            if hit is None or (hit[0].multiline and not multiline):
                pos += 1
                continue
            definition, end, params = hit
            rounds += 1
            if rounds > MAX_SUBSTITUTIONS:
                raise SourceError(f"{self.place}: definitions substitute each other without "
                                  "end (keepalived would loop forever here)")
            value = definition.fn(params) if definition.fn is not None else definition.value
            rest: list[str] = []
            if definition.multiline:
                value, *rest = value.split(DEF_LINE_END)
            replaced = buf[:pos] + value + buf[end:]
            if len(replaced) >= MAXBUF:
                self.notes.warn(self.place, f"substituting definitions makes a line of "
                                f"{len(replaced):,} characters: keepalived stops substituting "
                                f"at {MAXBUF - 1:,} and reads the line as it stands",
                                kind="line-too-long")
                return buf if found else None
            found, buf = True, replaced
            if definition.multiline:
                if rest:
                    if self.next_lines is not None:
                        self.multiline_stack.append((self.next_lines,
                                                     self.multiline_seq_depth))
                    self.next_lines = rest
                self.multiline_seq_depth = len(self.seqs)
            if value.lstrip(WHITE).startswith("~"):
                break
        return buf if found else None

    def _find(self, buf: str, pos: int) -> tuple[_Def, int, str | None] | None:
        braces = buf[pos + 1] == "{"
        start = pos + 2 if braces else pos + 1
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", buf[start:])
        if match is None:
            return None
        name_end = start + match.end()
        params = None
        if braces:
            tail = re.match(r"[ 0-9]*", buf[name_end:])
            spec = tail[0] if tail else ""
            if spec.strip():
                if spec.endswith(" "):
                    return None
                params = spec.strip()
            end = name_end + len(spec)
            if buf[end:end + 1] != "}":
                return None
            end += 1
        else:
            end = name_end
            if end < len(buf) and buf[end] not in " \t,)":
                return None
        definition = self.defs.get(match[0])
        if definition is None:
            return None
        if definition.multiline and end != len(buf):
            return None  # a multi-line value only at the end of a line
        if params is not None and not definition.max_params:
            return None
        return definition, end, params

    def _add_seq(self, buf: str) -> bool:
        """`~SEQ(var, [start,] [step,] end) TEXT` (`~SEQx`: hexadecimal values)."""
        rest = buf[4:]
        hexa = rest.startswith("x")
        if hexa:
            rest = rest[1:]
        rest = rest.lstrip(WHITE)
        if not rest.startswith("("):
            return False
        close = rest.find(")")
        if close < 0:
            return False
        var, _, spec = rest[1:close].partition(",")
        var = var.strip(WHITE)
        if not var or not _ or re.search(r"[ \t]", var):
            return False
        if "$" in spec:
            spec = self._replace(spec, multiline=False) or spec
        numbers = [_strtol(n) for n in spec.split(",")]
        if any(n is None for n in numbers) or not 1 <= len(numbers) <= 3:
            return False
        values = [n for n in numbers if n is not None]
        if len(values) == 1:
            end = values[0]
            start, step = (-1 if end < 0 else 1), (-1 if end < 1 else 1)
        elif len(values) == 2:
            start, end = values
            step = 1 if start <= end else -1
        else:
            start, step, end = values
            if not step or (start < end and step < 0) or (start > end and step > 0):
                return False
        if hexa and (start < 0 or end < 0):
            return False
        if abs((end - start) // step) + 1 > MAX_SEQ_VALUES:
            raise SourceError(f"{self.place}: ~SEQ of more than {MAX_SEQ_VALUES:,} values: "
                              "not translated")
        self.seqs.append(_Seq(var, start, step, end, hexa, rest[close + 1:].lstrip(WHITE)))
        return True

    def _add_lst(self, buf: str) -> bool:
        """`~LST(var, v1, v2...) TEXT` or `~LST({a, b}, {1, 2}, {3, 4}) TEXT`."""
        match = re.match(r"~LST[ \t]*\((.*)", buf)
        if match is None:
            return False
        body = match[1]
        depth, close = 0, -1
        for i, char in enumerate(body):
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            elif char == ")" and depth == 0:
                close = i
                break
        if close < 0:
            return False
        items = _lst_items(body[:close])
        if items is None or len(items) < 2:
            return False
        params, sets = items[0], items[1:]
        if not params or not all(params):
            return False
        values: list[list[str]] = []
        for value_set in sets:
            if len(value_set) > len(params):
                return False
            values.append(value_set + [""] * (len(params) - len(value_set)))
        seq = _Seq("", 0, 0, 0, False, body[close + 1:].lstrip(WHITE), params, values)
        self.seqs.append(seq)
        return True

    def _seq_step(self) -> str:
        seq = self.seqs[-1]
        if seq.params:
            for name, value in zip(seq.params, seq.values.pop(0), strict=True):
                self._set(name, value)
            if not seq.values:
                self.seqs.pop()
            return seq.text
        self._set(seq.var, f"{seq.next:x}" if seq.hex else str(seq.next))
        seq.next += seq.step
        if (seq.step > 0 and seq.next > seq.last) or (seq.step < 0 and seq.next < seq.last):
            self.seqs.pop()
        return seq.text

    def _set(self, name: str, value: str) -> None:
        definition = self.defs.setdefault(name, _Def(""))
        definition.value, definition.fn = value, None

    # -- include -----------------------------------------------------------------------------

    def _include(self, buf: str) -> bool:
        if not buf.startswith("include"):
            return False
        match = re.match(r"include([rmwba]?)[ \t]+", buf)
        if match is None or (match[1] and not buf[8:9].isspace()):
            return False
        pattern = buf[match.end():].lstrip(WHITE)
        if len(self.files) > MAX_INCLUDE_DEPTH:
            raise SourceError(f"{self.place}: includes nest deeper than {MAX_INCLUDE_DEPTH} "
                              "files (does a file include itself?)")
        current = self.files[-1]
        real_folder = os.path.dirname(current.real)
        name_folder = os.path.dirname(current.name)
        relative = not pattern.startswith("/")
        full = os.path.join(real_folder, pattern) if relative else pattern
        found = sorted({n for expanded in _braces(full) for n in glob.glob(expanded)})
        matched = []
        for real in found:
            if self._includable(real):
                name = (os.path.join(name_folder, os.path.relpath(real, real_folder or "."))
                        if relative else real)
                matched.append((name, real))
        if not found:
            self.notes.warn(self.place, f"include {pattern}: no file matches; keepalived "
                            "carries on without it", kind="include-missing")
        for position, (name, real) in enumerate(matched):
            opened = self._open(real)
            if opened is not None:
                self.files.append(_File(name, real, opened, matched[position + 1:]))
                break
        return True

    def _includable(self, name: str) -> bool:
        try:
            st = os.stat(name)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
            self.notes.warn(self.place, f"include: {name} is not a regular non-executable "
                            "file: keepalived skips it", kind="include-skipped")
            return False
        if st.st_size > MAX_FILE_BYTES:
            raise SourceError(f"{self.place}: include: {name} is larger than "
                              f"{MAX_FILE_BYTES >> 20} MiB: not a configuration file?")
        return True

    def _open(self, name: str) -> Iterator[tuple[int, str]] | None:
        try:
            data = self.read_file(name)
        except OSError as exc:
            self.notes.warn(self.place, f"include: cannot read {name}: "
                            f"{exc.strerror or exc}; keepalived skips it", kind="include-error")
            return None
        return _numbered_bytes(data)

    # -- braces ------------------------------------------------------------------------------

    def _split_brace(self, buf: str) -> str:
        """Cut the line before its first '{' or '}' outside quotes; the rest comes next."""
        opening, closing = buf.find("{"), buf.find("}")
        if opening < 0 and closing < 0:
            return buf.rstrip(WHITE)
        if buf[0] in "{}":
            rest = buf[1:].lstrip(WHITE)
            if rest:
                self.residue = rest.rstrip(WHITE)
            return buf[0]
        if '"' not in buf:  # the first brace, without walking the line
            i = opening if closing < 0 or 0 <= opening < closing else closing
            self.residue = buf[i:].rstrip(WHITE)
            return buf[:i].rstrip(WHITE)
        i = 0
        while i < len(buf):
            char = buf[i]
            if char == '"':
                end = buf.find('"', i + 1)
                if end < 0:
                    break
                i = end + 1
                continue
            if char in "{}":
                self.residue = buf[i:].rstrip(WHITE)
                return buf[:i].rstrip(WHITE)
            i += 1
        return buf.rstrip(WHITE)


def _numbered(text: str) -> Iterator[tuple[int, str]]:
    """The main file's lines as _numbered_bytes reads its UTF-8 bytes. An ASCII line shorter
    than keepalived's buffer is its own bytes: it goes as it is (most lines of most files)."""
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) < MAXBUF and line.isascii():
            yield number, line
        else:
            yield from _pieces(number, line.encode("utf-8", "surrogateescape"))


def _numbered_bytes(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) as keepalived's fgets() reads the bytes: a line longer than 1,023
    bytes comes in pieces, each read as a line of its own (with the same number)."""
    for number, raw in enumerate(data.split(b"\n"), 1):
        yield from _pieces(number, raw)


def _pieces(number: int, raw: bytes) -> Iterator[tuple[int, str]]:
    if len(raw) < MAXBUF:
        yield number, decode(raw)
        return
    for start in range(0, len(raw), MAXBUF - 1):
        yield number, decode(raw[start:start + MAXBUF - 1])


def _strtol(text: str) -> int | None:
    """C's strtol(text, &end, 0) over the whole (blank-trimmed) field; an empty field is 0, as
    strtol reads it; None if anything is left over."""
    text = text.strip(WHITE)
    if not text:
        return 0
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    digits = match[2]
    value = (int(digits, 16) if digits[:2].lower() == "0x" else
             int(digits, 8) if digits.startswith("0") else int(digits))
    return -value if match[1] == "-" else value


def _lst_items(body: str) -> list[list[str]] | None:
    """The comma-separated items of a ~LST, each `{a, b}` group as one list."""
    items: list[list[str]] = []
    i = 0
    while i <= len(body):
        while i < len(body) and body[i] in WHITE:
            i += 1
        if i < len(body) and body[i] == "{":
            close = body.find("}", i)
            if close < 0:
                return None
            items.append([v.strip(WHITE) for v in body[i + 1:close].split(",")])
            i = close + 1
            while i < len(body) and body[i] in WHITE:
                i += 1
            if i < len(body) and body[i] != ",":
                return None
            i += 1
        else:
            end = body.find(",", i)
            end = len(body) if end < 0 else end
            items.append([body[i:end].strip(WHITE)])
            i = end + 1
    return items


def _braces(pattern: str) -> list[str]:
    """GLOB_BRACE: `a{b,c}d` -> `abd`, `acd` (nested groups too)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [x for option in match[1].split(",") for x in _braces(head + option + tail)]
