"""What both importers share: the result type, file:line notes, the line error, netmasks,
and the bounds every source is held to before either parser sees it."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster

# The bounds of an import source (docs/import.md). A 10,000-service x 10 `ipvsadm -Sn` save is
# about 6 MB with lines under 100 characters.
MAX_BYTES = 16 << 20
MAX_LINE = 4096
MAX_DIGITS = 20  # every number in either format fits in 64 bits
MAX_LISTED = 100  # problems (and warnings) listed; the rest are counted
SHOWN = 64  # a longer word of the input is cut to this in messages
# Characters no configuration line holds: C0 and C1 controls but tab, line and paragraph
# separators, and a byte-order mark past the start. Each would split or corrupt a message line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
# The same but '\n', for the whole text at once (a CR, to be dropped, still sends it line by line)
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_LONG_WORD = re.compile(rf"\S{{{SHOWN + 4},}}")


@dataclass(slots=True)
class ImportResult:
    """An imported cluster, plus one message per kind of construct that could not be translated.

    `health` holds, per service, the checks, min_healthy and sorry server translated from the
    source, as cluster-file values (plain data, the keys docs/health.md names)."""

    cluster: Cluster
    warnings: list[str] = field(default_factory=list)
    health: dict[Any, dict[str, Any]] = field(default_factory=dict)
    unlisted: int = 0  # warnings beyond MAX_LISTED, counted (in a last line) but not listed

    @property
    def warning_count(self) -> int:
        return len(self.warnings) - (1 if self.unlisted else 0) + self.unlisted


def clip(message: str) -> str:
    """The message with every word of more than SHOWN characters cut: a 100 MB token from the
    input must not come back whole."""
    return _LONG_WORD.sub(lambda m: f"{m[0][:SHOWN]}...", message)


def listed(messages: list[str], path: str, what: str) -> tuple[list[str], int]:
    """The first MAX_LISTED messages, a line counting the rest, and how many were cut."""
    if len(messages) <= MAX_LISTED:
        return messages, 0
    more = len(messages) - MAX_LISTED
    return [*messages[:MAX_LISTED], f"{path}: {more} more {what} not listed"], more


class Place(NamedTuple):
    """Where a construct was read: a file (an included one, too) and a line of it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


SHOWN_PLACES = 5  # places listed after the first in a grouped warning
NOTHING_SHOWN = 3  # warnings listed with the error of an import that has nothing to write
ERROR_WIDTH = 250  # characters of one of those warnings in that error


@dataclass(slots=True)
class _Group:
    message: str
    places: list[Place]


class Notes:
    """Warnings (translated with a loss) and errors (cannot translate), each naming file:line.

    Warnings given a `kind` are grouped: however often a kind occurs, it is one line, with the
    first place, a count and the next few places, so a 5,000-service file that repeats one
    construct gives one line, not 5,000."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._groups: dict[str, _Group] = {}
        self.errors: list[str] = []

    def _place(self, where: int | Place) -> Place:
        return where if isinstance(where, Place) else Place(self.path, where)

    def warn(self, where: int | Place, message: str, kind: str | None = None) -> None:
        place = self._place(where)
        group = self._groups.get(kind) if kind is not None else None
        if group is not None:  # only a group's first message is shown (and clipped)
            if place not in group.places[-1:]:  # once per place (a group expands one line)
                group.places.append(place)
            return
        message = clip(message)
        if kind is None:
            kind = f"{len(self._groups)}\0{message}"  # a group of its own
        self._groups[kind] = _Group(message, [place])

    @property
    def warnings(self) -> list[str]:
        """One line per kind, in the order of their first places."""
        groups = sorted(self._groups.values(), key=lambda g: self._order(g.places[0]))
        return [_grouped(group) for group in groups]

    def _order(self, place: Place) -> tuple[bool, str, int]:
        return (place.file != self.path, place.file, place.line)

    def error(self, where: int | Place, message: str) -> None:
        self.errors.append(f"{self._place(where)}: {clip(message)}")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(listed(self.errors, self.path, "problem(s)")[0])

    def nothing_to_write(self, what: str) -> ConfigError:
        """The error of an input with rules of which no service comes, and after it the first
        warnings, which say why: the import writes nothing, so they have no file header to go
        into. Each is a line of its own, as several problems are."""
        warnings = self.warnings
        # an error line stays short (a grouped warning lists places; the file header has room)
        shown = [w if len(w) <= ERROR_WIDTH else f"{w[:ERROR_WIDTH - 3]}..."
                 for w in warnings[:NOTHING_SHOWN]]
        if len(warnings) > len(shown):
            shown.append(f"{self.path}: {len(warnings) - len(shown)} more warning(s) not listed")
        return ConfigError([f"{self.path}: {what}; nothing to write", *shown])

    def result(self, cluster: Cluster) -> ImportResult:
        shown, more = listed(self.warnings, self.path, "warning(s)")
        return ImportResult(cluster, shown, unlisted=more)


def checked_text(text: str, path: str) -> str:
    """The source with CRLF line ends and a leading byte-order mark dropped, after refusing
    lines longer than MAX_LINE and characters no configuration holds (ConfigError, every bad
    line at once). What the parsers then see splits into lines only at '\\n'."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if _CONTROL_IN_TEXT.search(text) is None and max(map(len, lines)) <= MAX_LINE:
        return text  # nothing to refuse, no CR to drop (the common case: one scan in C)
    problems = []
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = lines[number - 1] = line[:-1]
        if len(line) > MAX_LINE:
            problems.append(f"{path}:{number}: longer than {MAX_LINE} characters (the import "
                            "limit): not a configuration file?")
        elif match := _CONTROL.search(line):
            problems.append(f"{path}:{number}:{match.start() + 1}: control character "
                            f"U+{ord(match[0]):04X}: not a text configuration file?")
    if problems:
        raise ConfigError(listed(problems, path, "problem(s)")[0])
    return "\n".join(lines)


def small_int(text: str) -> int | None:
    """The value of a plain decimal number of at most MAX_DIGITS digits, else None (Python's
    int() refuses 4,300 digits with a ValueError, and accepts forms no config file means)."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _grouped(group: _Group) -> str:
    first, *more = group.places
    if not more:
        return f"{first}: {group.message}"
    shown = ", ".join(str(p.line) if p.file == first.file else str(p)
                      for p in more[:SHOWN_PLACES])
    rest = ", ..." if len(more) > SHOWN_PLACES else ""
    return (f"{first}: {group.message} ({len(more) + 1:,} in all; also at line(s) "
            f"{shown}{rest})")


class LineError(Exception):
    """One line (or statement) cannot be translated: the importer records it as an error at that
    line and carries on, so every bad line is reported at once."""


def prefix_of_netmask(text: str) -> int | None:
    """The prefix length of a dotted IPv4 netmask ("255.255.255.0" -> 24); None if not one."""
    try:
        mask = int(ipaddress.IPv4Address(text))
    except ValueError:
        return None
    host_bits = ~mask & 0xFFFFFFFF
    if mask == 0 or host_bits & (host_bits + 1):  # zero, or ones not contiguous
        return None
    return 32 - host_bits.bit_length()


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address, or None; zone-indexed ones (fe80::1%eth0) are refused by zone_index()."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def zone_index(text: str) -> str | None:
    """The complaint for an address with a zone index, None if it has none."""
    if "%" not in text:
        return None
    return (f"'{text}' carries a zone index (%...): IPVS addresses have none; give the "
            "address alone")
