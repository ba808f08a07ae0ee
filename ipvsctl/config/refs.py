"""Small validators for addresses and service / real-server references given on a command line.

They read the same forms that ServiceKey and RealServerKey print, so what `ipvsctl plan` shows can
be pasted back into a command.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from ipvsctl.config.vocabulary import FWMARK, PORT, PROTOCOLS
from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster, RealServerKey, ServiceKey

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\[\]]+)):(?P<port>[0-9]+)$")
_MARK = re.compile(r"^fwmark/(?P<mark>[0-9]+)(?:/(?P<family>ipv4|ipv6))?$")


def parse_address(text: str, what: str) -> str:
    """A compressed IP address, or ConfigError naming `what` (e.g. '--vip')."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        raise ConfigError([f"{what}: '{text}' is not an IP address"]) from None


def _host_port(text: str, what: str, example: str) -> tuple[str, int]:
    match = _HOST_PORT.match(text.strip())
    if not match:
        raise ConfigError([f"{what}: '{text}' is not ADDRESS:PORT (e.g. {example})"])
    port = int(match["port"])
    if not PORT[0] <= port <= PORT[1]:
        raise ConfigError([f"{what}: port {port} must be {PORT[0]}..{PORT[1]}"])
    return parse_address(match["v6"] or match["v4"], what), port


def parse_service_ref(text: str, what: str = "service") -> ServiceKey:
    """'tcp/192.0.2.10:80', 'udp/[2001:db8::1]:53', 'fwmark/7' or 'fwmark/7/ipv6'."""
    mark = _MARK.match(text.strip())
    if mark:
        value = int(mark["mark"])
        if not FWMARK[0] <= value <= FWMARK[1]:
            raise ConfigError([f"{what}: fwmark {value} must be {FWMARK[0]}..{FWMARK[1]}"])
        return ServiceKey.mark(value, 6 if mark["family"] == "ipv6" else 4)
    protocol, sep, rest = text.strip().partition("/")
    if not sep or protocol not in PROTOCOLS:
        raise ConfigError([f"{what}: '{text}' is not PROTOCOL/VIP:PORT or fwmark/MARK "
                           f"(e.g. tcp/192.0.2.10:80, udp/[2001:db8::1]:53, fwmark/7)"])
    address, port = _host_port(rest, what, "tcp/192.0.2.10:80")
    return ServiceKey.vip(protocol, address, port)


def select_services(cluster: Cluster, refs: Sequence[str],
                    what: str = "--service") -> frozenset[ServiceKey]:
    """The services a narrowed run compares: each ref is a service's name in the file, or its
    key as `plan` prints it. A key need not be in the file: naming one the file no longer lists
    removes it (if ipvsctl manages it). Every bad ref is reported, not just the first."""
    by_name = {s.name: k for k, s in cluster.services.items() if s.name}
    keys: set[ServiceKey] = set()
    problems: list[str] = []
    for ref in refs:
        text = ref.strip()
        if text in by_name:
            keys.add(by_name[text])
        elif "/" in text:
            try:
                keys.add(parse_service_ref(text, what))
            except ConfigError as exc:
                problems.extend(exc.problems)
        else:
            problems.append(f"{what}: no service named '{ref}' in "
                            f"{cluster.path or 'the cluster file'} (give a name from the file, "
                            "or PROTOCOL/VIP:PORT or fwmark/MARK)")
    if problems:
        raise ConfigError(problems)
    return frozenset(keys)


def parse_real_server_ref(text: str, default_port: int | None = None,
                          what: str = "real server") -> RealServerKey:
    """'10.0.0.11:80', '[2001:db8::1]:80', or a bare address when `default_port` is given."""
    if default_port is not None and _HOST_PORT.match(text.strip()) is None:
        try:
            return RealServerKey.of(parse_address(text, what), default_port)
        except ConfigError:
            pass
    address, port = _host_port(text, what, "10.0.0.11:80")
    return RealServerKey.of(address, port)
