"""What the operator asked for, validated before anything is observed or touched."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from ipvsctl.errors import ConfigError
from ipvsctl.realserver.facts import IFNAME_RULE, PSEUDO_INTERFACES, valid_ifname

PERSIST_STYLES = ("systemd", "networkd", "ifupdown", "netplan")


@dataclass(frozen=True, slots=True)
class SetupRequest:
    vips: tuple[str, ...]  # compressed host addresses, de-duplicated, in the order given
    interface: str = "lo"  # where the VIPs go: lo, a dummy (created if absent), a NOARP link
    client_interfaces: tuple[str, ...] | None = None  # None: derive from the routes
    global_arp: bool = False  # also set conf/all (off by default: it changes every interface)
    persist: str | None = None  # one of PERSIST_STYLES
    root: str | None = None  # render persisted files under this folder; change nothing live
    warnings: tuple[str, ...] = field(default=())


def parse_vips(values: Sequence[str], option: str = "--vip") -> tuple[str, ...]:
    """Host addresses only: every problem is reported at once, naming the option and value."""
    problems: list[str] = []
    out: list[str] = []
    for raw in values:
        text = raw.strip()
        addr_text, slash, plen = text.partition("/")
        if "%" in addr_text:
            problems.append(f"{option} {_shown(raw)}: a zone index (%...) has no meaning for a "
                            "VIP (the host accepts it on every interface); give the address "
                            "alone")
            continue
        try:
            ip = ipaddress.ip_address(addr_text)
        except ValueError:
            problems.append(f"{option} {_shown(raw)}: not an IP address")
            continue
        if slash:
            host = 32 if ip.version == 4 else 128
            if plen != str(host):
                problems.append(f"{option} {_shown(raw)}: a VIP is one host address, not a "
                                f"network; give {ip.compressed} (it is added as /{host})")
                continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            problems.append(f"{option} {_shown(raw)}: an IPv4-mapped address is never on the "
                            f"wire; give {ip.ipv4_mapped}")
            continue
        bad = _unusable(ip)
        if bad:
            problems.append(f"{option} {_shown(raw)}: {bad} address, cannot be a VIP")
            continue
        if ip.compressed not in out:
            out.append(ip.compressed)
    if problems:
        raise ConfigError(problems)
    return tuple(out)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 64 else repr(text[:64]) + "..."


def _unusable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_multicast:
        return "a multicast"
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast"
    return None


def check_ifname(name: str, option: str) -> str:
    if not valid_ifname(name):
        raise ConfigError([f"{option} {_shown(name)}: not a valid interface name "
                           f"({IFNAME_RULE})"])
    if name == "all" and option == "--client-interface":
        raise ConfigError([f"{option} all: conf/all changes every interface of the host; "
                           "ipvsctl sets it only with --global"])
    if name in PSEUDO_INTERFACES:
        raise ConfigError([f"{option} {name}: conf/{name} is not an interface (conf/default "
                           "is the template for interfaces made later, conf/all applies to "
                           "every one)"])
    return name


def build_request(vips: Sequence[str], *, interface: str = "lo",
                  client_interfaces: Sequence[str] | None = None, global_arp: bool = False,
                  persist: str | None = None, root: str | None = None,
                  netns: str | None = None, warnings: Sequence[str] = (),
                  require_vips: bool = True) -> SetupRequest:
    problems: list[str] = []
    parsed: tuple[str, ...] = ()
    try:
        parsed = parse_vips(vips)
    except ConfigError as exc:
        problems += exc.problems
    for opt, name in [("--interface", interface), *(("--client-interface", c)
                                                    for c in client_interfaces or ())]:
        try:
            check_ifname(name, opt)
        except ConfigError as exc:
            problems += exc.problems
    if require_vips and not parsed and not problems:
        problems.append("no VIP to set up: give --vip ADDRESS (repeatable) or a cluster file")
    if persist is not None and persist not in PERSIST_STYLES:
        problems.append(f"--persist-style {persist!r}: choose one of {', '.join(PERSIST_STYLES)}")
    if root is not None and persist is None:
        problems.append("--root renders persisted files: it needs --persist")
    if root is not None and not root.strip("/"):
        problems.append(f"--root {root}: the live system; use --persist without --root, which "
                        "records what it writes so backend-teardown can undo it")
    if root is not None and not client_interfaces:
        problems.append("--root renders files for another system: name its client-facing "
                        "interfaces with --client-interface")
    if persist is not None and netns is not None and root is None:
        problems.append("--persist writes the host's boot-time files: it cannot describe "
                        "--netns (use --root DIR to render them into a tree)")
    if interface in (client_interfaces or ()):
        problems.append(f"--interface {interface} is also given as --client-interface: "
                        "VIPs must not sit on an interface that faces clients")
    if problems:
        raise ConfigError(problems)
    clients = tuple(dict.fromkeys(client_interfaces)) if client_interfaces else None
    return SetupRequest(parsed, interface, clients, global_arp, persist, root, tuple(warnings))
