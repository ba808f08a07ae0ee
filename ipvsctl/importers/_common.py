"""What both importers share: the result type, file:line notes, the line error, netmasks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster


@dataclass(slots=True)
class ImportResult:
    """An imported cluster, plus one message per construct that could not be translated."""

    cluster: Cluster
    warnings: list[str] = field(default_factory=list)


class Notes:
    """Warnings (translated with a loss) and errors (cannot translate), each naming file:line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(f"{self.path}:{line}: {message}")

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"{self.path}:{line}: {message}")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)


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
