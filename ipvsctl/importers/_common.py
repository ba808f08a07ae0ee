"""What both importers share: the result type, file:line notes, the line error, netmasks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster


@dataclass(slots=True)
class ImportResult:
    """An imported cluster, plus one message per kind of construct that could not be translated.

    `health` holds, per service, the checks, min_healthy and sorry server translated from the
    source, as cluster-file values (plain data, the keys docs/health.md names)."""

    cluster: Cluster
    warnings: list[str] = field(default_factory=list)
    health: dict[Any, dict[str, Any]] = field(default_factory=dict)


class Place(NamedTuple):
    """Where a construct was read: a file (an included one, too) and a line of it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


SHOWN_PLACES = 5  # places listed after the first in a grouped warning


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
        if kind is None:
            kind = f"{len(self._groups)}\0{message}"  # a group of its own
        group = self._groups.get(kind)
        if group is None:
            self._groups[kind] = _Group(message, [place])
        elif place not in group.places[-1:]:  # once per place (a group expands one line)
            group.places.append(place)

    @property
    def warnings(self) -> list[str]:
        """One line per kind, in the order of their first places."""
        groups = sorted(self._groups.values(), key=lambda g: self._order(g.places[0]))
        return [_grouped(group) for group in groups]

    def _order(self, place: Place) -> tuple[bool, str, int]:
        return (place.file != self.path, place.file, place.line)

    def error(self, where: int | Place, message: str) -> None:
        self.errors.append(f"{self._place(where)}: {message}")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)


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
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
