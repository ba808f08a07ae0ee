"""The cluster file's rules, once: a document (plain values and their places) becomes a `Cluster`.

Every reader (the line reader for the YAML people write, the JSON reader, the careful YAML
reader) produces the same document, so every file meets these rules and no others. Every
default is filled here, so the planner compares like with like, and every problem is recorded
with its place; `Problems` sorts them into document order.

The common case is kept cheap (a large file has 100,000 real servers): values are checked with
`type(...) is` tests first, equal specs are shared, and an address in the usual dotted-quad form
is checked by one regular expression; anything else takes the careful branch of the same rule.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from ipvsctl.config import vocabulary as R
from ipvsctl.config.checks import CheckRules, Layer
from ipvsctl.config.tree import Odd, Places, Pos, join, kind, shown
from ipvsctl.errors import ConfigError
from ipvsctl.health.policy import MinHealthy, ServiceHealth
from ipvsctl.health.spec import CheckSpec, NoCheck
from ipvsctl.model import (
    DEFAULT_FORWARD,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_RECONCILE_INTERVAL,
    DEFAULT_SCHEDULER,
    DEFAULT_WEIGHT,
    Cluster,
    Director,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Scope,
    Service,
    ServiceKey,
    ServiceSpec,
    Timeouts,
    Tunnel,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_TAG_INT = "tag:yaml.org,2002:int"
_LEADING_ZERO = re.compile(r"0[0-9]+$")
_DIGITS = re.compile(r"[-+]?[0-9]+$")
_NAME = re.compile(R.NAME_PATTERN)
_MARK_RANGE = re.compile(R.FWMARK_RANGE_PATTERN)
# The dotted quads ipaddress accepts (no leading zeros: already compressed), less multicast
# (first octet 224-239); 0.0.0.0 and 255.255.255.255 are checked apart.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_UNICAST_V4 = re.compile(
    rf"(?:25[0-5]|24[0-9]|22[0-3]|2[01][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.{_OCTET}){{3}}")
_UNUSABLE_V4 = ("0.0.0.0", "255.255.255.255")  # noqa: S104 - refused, never bound
_KEYS = {name: frozenset(keys) for name, keys in (
    ("top", R.TOP_KEYS), ("defaults", R.DEFAULTS_KEYS), ("scope", R.SCOPE_KEYS),
    ("director", R.DIRECTOR_KEYS), ("timeouts", R.TIMEOUT_KEYS), ("service", R.SERVICE_KEYS),
    ("persistence", R.PERSISTENCE_KEYS), ("real_server", R.REAL_SERVER_KEYS),
    ("tunnel", R.TUNNEL_KEYS), ("check", R.CHECK_KEYS), ("sorry_server", R.SORRY_SERVER_KEYS),
    ("ha", R.HA_KEYS), ("ha_director", R.HA_DIRECTOR_KEYS), ("sync", R.SYNC_KEYS))}


def suggest(word: str, choices: Sequence[str]) -> str:
    """A difflib 'did you mean' hint, or the list of valid choices."""
    import difflib  # only for a message: not on the way of a valid file

    close = difflib.get_close_matches(word[:100], choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(choices)


class Problems:
    """Every problem found in one file, reported together and in document order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._items: list[tuple[int, int, int, str]] = []

    def add(self, pos: Pos, where: str, message: str) -> None:
        text = f"{where}: {message}" if where else message
        line, col = pos
        self._items.append((line, col, len(self._items), f"{self.path}:{line}:{col}: {text}"))

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def lines(self) -> list[str]:
        return [item[3] for item in sorted(self._items)]

    def raise_if_any(self) -> None:
        if self._items:
            raise ConfigError(self.lines())


@functools.lru_cache(maxsize=65536)
def _parse_ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


class _Context:
    """What a real server needs to know about its service (None where the service was bad)."""

    __slots__ = ("family", "forward", "key", "port", "vip")

    def __init__(self, key: ServiceKey | None, vip: str | None, forward: str) -> None:
        self.key = key
        self.family = key.family if key else None
        self.port = key.port if key else None
        self.vip = vip
        self.forward = forward


def build(root: Any, places: Places, problems: Problems) -> Cluster:
    """The Cluster the document describes; every problem goes to `problems`."""
    builder = _Builder(places, problems)
    try:
        return builder.cluster(root)
    finally:
        # The rules and the builder refer to each other: without this cut the whole document
        # (its places, every check level) waits for the cyclic collector instead of going now.
        del builder.checks


class _Builder:
    def __init__(self, places: Places, problems: Problems) -> None:
        self.places = places
        self.p = problems
        self.path = problems.path
        self.scheduler = DEFAULT_SCHEDULER
        self.forward: str = DEFAULT_FORWARD
        self.weight = DEFAULT_WEIGHT
        self.protocol = "tcp"
        self.service_places: dict[ServiceKey, str] = {}
        self.name_places: dict[str, str] = {}
        self.specs: dict[tuple[int, str, int, int, Tunnel | None], RealServerSpec] = {}
        self.plain_specs: dict[str, dict[int, RealServerSpec]] = {}  # forward: weight: spec
        self.checks = CheckRules(self)
        self.check_default: Layer | None = None  # defaults.check
        self.min_healthy_default: MinHealthy | None = None
        self.check_above: str | None = None  # the check type a real server inherits
        self.rs_checks: dict[RealServerKey, Layer] = {}  # the current service's real servers'
        self.health: dict[ServiceKey, ServiceHealth] = {}

    # -- places and problems --------------------------------------------------------------------

    def where(self, parent: Any, key: Any) -> str:
        """file:line:col of parent[key]."""
        line, col = self.places.value(parent, key)
        return f"{self.path}:{line}:{col}"

    def source(self, items: list[Any], index: int) -> str:
        """file:line:col of a service or real server (a mapping: it has a place of its own)."""
        line, col = self.places.at.get(id(items[index]), (1, 1))
        return f"{self.path}:{line}:{col}"

    def error(self, parent: Any, key: Any, where: str, message: str) -> None:
        """A problem with the value parent[key]."""
        self.p.add(self.places.value(parent, key), where, message)

    def key_error(self, mapping: dict[str, Any], name: str, where: str, message: str) -> None:
        """A problem with a key itself (unknown, or one that does not belong there)."""
        self.p.add(self.places.key(mapping, name), where, message)

    # -- typed getters: each reads parent[key], returns None (a problem recorded) if it is bad --

    def mapping(self, parent: Any, key: Any, where: str, keys: str) -> dict[str, Any] | None:
        """The mapping at parent[key], its unknown keys reported (callers read only known keys);
        null reads as an empty mapping (a section whose contents are all commented out)."""
        value = parent[key]
        allowed = _KEYS[keys]
        if type(value) is dict:
            if value.keys() <= allowed:
                return value
            for name in value:
                if name not in allowed:
                    self.key_error(value, name, join(where, name),
                                   f"unknown key ({suggest(name, sorted_keys(keys))})")
            return value
        if value is None:
            return {}
        self.error(parent, key, where, f"must be a mapping, not {kind(value)}")
        return None

    def seq(self, parent: Any, key: Any, where: str) -> list[Any] | None:
        """The list at parent[key]; null reads as an empty list."""
        value = parent[key]
        if type(value) is list:
            return value
        if value is None:
            return []
        self.error(parent, key, where, f"must be a list, not {kind(value)}")
        return None

    def integer(self, parent: Any, key: Any, where: str, lo: int, hi: int) -> int | None:
        value = parent[key]
        if type(value) is int and lo <= value <= hi:
            return value
        style = self.places.style(parent, key)
        if isinstance(value, Odd) and value.tag == _TAG_INT:
            if style is None and _LEADING_ZERO.match(value.text):
                # YAML 1.1 reads 010 as octal 8 and 080 as a string: neither is what was meant.
                self.error(parent, key, where, f"write {value.text.lstrip('0') or '0'} without "
                                               f"the leading zero (YAML reads {value.text} as "
                                               "an octal number)")
                return None
            if value.value is None:
                self.error(parent, key, where, f"must be {lo}..{hi} (an integer of "
                                               f"{len(value.text):,} characters)")
                return None
            value = value.value
        elif type(value) is str and style is None and _LEADING_ZERO.match(value):
            self.error(parent, key, where, f"write {value.lstrip('0') or '0'} without the "
                                           f"leading zero (YAML reads {value} as text)")
            return None
        if type(value) is not int:
            quoted = style in ("'", '"') and type(value) is str and _DIGITS.match(value)
            hint = " (remove the quotes)" if quoted else ""
            self.error(parent, key, where, f"must be an integer, not {kind(value)}{hint}")
            return None
        if not lo <= value <= hi:
            self.error(parent, key, where, f"must be {lo}..{hi}")
            return None
        return value

    def boolean(self, parent: Any, key: Any, where: str) -> bool | None:
        value = parent[key]
        if type(value) is bool:
            return value
        self.error(parent, key, where, f"must be true or false, not {kind(value)}")
        return None

    def string(self, parent: Any, key: Any, where: str, hint: str = "") -> str | None:
        value = parent[key]
        if type(value) is str:
            return value
        self.error(parent, key, where, f"must be a string{hint}, not {kind(value)}")
        return None

    def choice(self, parent: Any, key: Any, where: str, choices: Sequence[str] | dict[str, Any],
               what: str) -> str | None:
        value = parent[key]
        if type(value) is str and value in choices:
            return value
        if self.string(parent, key, where) is None:
            return None
        self.error(parent, key, where,
                   f"unknown {what} '{shown(value)}' ({suggest(value, list(choices))})")
        return None

    # -- the file -------------------------------------------------------------------------------

    def cluster(self, root: Any) -> Cluster:
        if type(root) is not dict:
            self.p.add((1, 1), "", f"expected a mapping with a 'services' list, not {kind(root)}")
            return Cluster(path=self.path)
        doc = [root]
        top = self.mapping(doc, 0, "", "top") or {}
        if "defaults" in top:
            self._defaults(top)
        scope = self._scope(top) if "scope" in top else Scope()
        director = self._director(top) if "director" in top else Director()
        services: dict[ServiceKey, Service] = {}
        if "services" not in top:
            self.error(doc, 0, "", "missing required key 'services' (a list; write [] for none)")
        elif top["services"] is None:
            self.error(top, "services", "services",
                       "must be a list of services (write [] for none), not null")
        else:
            items = self.seq(top, "services", "services") or []
            for index in range(len(items)):
                service = self._service(items, index)
                if service is not None:
                    services.setdefault(service.key, service)
        ha = None
        if "ha" in top:
            from ipvsctl.config.ha_rules import build_ha, check_vips  # only for a pair

            ha = build_ha(self, top)
            if ha is not None:
                check_vips(self, top, ha, services)
        return Cluster(services=services, director=director, scope=scope, path=self.path,
                       health=self.health, ha=ha)

    def _defaults(self, top: dict[str, Any]) -> None:
        m = self.mapping(top, "defaults", "defaults", "defaults") or {}
        if "scheduler" in m:
            self.scheduler = self.choice(m, "scheduler", "defaults.scheduler", R.SCHEDULERS,
                                         "scheduler") or self.scheduler
        if "forward" in m:
            self.forward = self.choice(m, "forward", "defaults.forward", R.FORWARDS,
                                       "forwarding method") or self.forward
        if "weight" in m:
            weight = self.integer(m, "weight", "defaults.weight", *R.WEIGHT)
            self.weight = self.weight if weight is None else weight
        if "protocol" in m:
            self.protocol = self.choice(m, "protocol", "defaults.protocol", R.PROTOCOLS,
                                        "protocol") or self.protocol
        if "check" in m:
            self.check_default = self.checks.layer(m, "check", "defaults.check", None)
        if "min_healthy" in m:
            self.min_healthy_default = self.checks.min_healthy(m, "min_healthy",
                                                               "defaults.min_healthy")

    def _scope(self, top: dict[str, Any]) -> Scope:
        m = self.mapping(top, "scope", "scope", "scope") or {}
        networks: list[str] = []
        if "vips" in m:
            items = self.seq(m, "vips", "scope.vips") or []
            for index in range(len(items)):
                net = self._network(items, index, f"scope.vips[{index}]")
                if net is not None and net not in networks:
                    networks.append(net)
        marks: list[tuple[int, int]] = []
        if "fwmarks" in m:
            items = self.seq(m, "fwmarks", "scope.fwmarks") or []
            for index in range(len(items)):
                span = self._mark_range(items, index, f"scope.fwmarks[{index}]")
                if span is not None and span not in marks:
                    marks.append(span)
        return Scope(networks=tuple(networks), fwmarks=tuple(marks))

    def _network(self, items: list[Any], index: int, where: str) -> str | None:
        text = self.string(items, index, where, " (a network such as 192.0.2.0/24)")
        if text is None:
            return None
        try:
            return str(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            self.error(items, index, where, f"'{shown(text)}' is not a network (e.g. 192.0.2.0/24)")
            return None
        self.error(items, index, where, f"'{text}' has host bits set (did you mean {loose}?)")
        return None

    def _mark_range(self, items: list[Any], index: int, where: str) -> tuple[int, int] | None:
        value = items[index]
        if type(value) is int or (isinstance(value, Odd) and value.tag == _TAG_INT):
            mark = self.integer(items, index, where, *R.FWMARK)
            return None if mark is None else (mark, mark)
        hint = " or an integer (a mark, or a range such as \"100-199\")"
        text = self.string(items, index, where, hint)
        if text is None:
            return None
        if not _MARK_RANGE.match(text) or len(text) > 40:
            self.error(items, index, where, f"'{shown(text)}' is not a mark range "
                                            "(e.g. \"100-199\")")
            return None
        lo, hi = (int(part) for part in text.split("-"))
        lo_min, hi_max = R.FWMARK
        if not (lo_min <= lo <= hi_max and lo_min <= hi <= hi_max):
            self.error(items, index, where, f"marks must be {lo_min}..{hi_max}")
            return None
        if lo > hi:
            self.error(items, index, where,
                       f"range {shown(text)} is reversed (did you mean {hi}-{lo}?)")
            return None
        return (lo, hi)

    def _director(self, top: dict[str, Any]) -> Director:
        m = self.mapping(top, "director", "director", "director") or {}
        timeouts = Timeouts()
        if "timeouts" in m:
            t = self.mapping(m, "timeouts", "director.timeouts", "timeouts") or {}
            values = {name: self.integer(t, name, f"director.timeouts.{name}", *R.TIMEOUT)
                      for name in R.TIMEOUT_KEYS if name in t}
            timeouts = Timeouts(**values)
        sysctls: dict[str, int] = {}
        if "sysctls" in m:
            given = m["sysctls"]
            if given is not None and type(given) is not dict:
                self.error(m, "sysctls", "director.sysctls",
                           f"must be a mapping, not {kind(given)}")
            for name in given if type(given) is dict else ():
                where = f"director.sysctls.{shown(name)}"
                if name in R.UNMANAGED_SYSCTLS:
                    self.key_error(given, name, where,
                                   f"net.ipv4.vs.{name} {R.UNMANAGED_SYSCTLS[name]}")
                elif name not in R.SYSCTLS:
                    self.key_error(given, name, where, f"unknown sysctl net.ipv4.vs.{shown(name)} "
                                                       f"({suggest(name, R.SYSCTLS)})")
                elif (value := self.integer(given, name, where, *R.SYSCTL_VALUE)) is not None:
                    sysctls[name] = value
        drain_timeout = None
        if "drain_timeout" in m:
            drain_timeout = self.integer(m, "drain_timeout", "director.drain_timeout",
                                         *R.DRAIN_TIMEOUT)
        reconcile = DEFAULT_RECONCILE_INTERVAL
        if "reconcile_interval" in m:
            reconcile = self.checks.seconds(m, "reconcile_interval", "director.reconcile_interval",
                                            R.RECONCILE_INTERVAL) or reconcile
        return Director(timeouts=timeouts, sysctls=sysctls, drain_timeout=drain_timeout,
                        reconcile_interval=reconcile)

    # -- services -------------------------------------------------------------------------------

    def _service(self, items: list[Any], index: int) -> Service | None:
        where = f"services[{index}]"
        m = self.mapping(items, index, where, "service")
        if m is None:
            return None
        name = self._name(m, where) if "name" in m else None
        key, vip = self._service_key(items, index, m, where)
        scheduler = self.scheduler
        if "scheduler" in m:
            scheduler = self.choice(m, "scheduler", f"{where}.scheduler", R.SCHEDULERS,
                                    "scheduler") or scheduler
        flags = self._flags(m, where, scheduler) if "scheduler_flags" in m else []
        persistence = None
        if "persistence" in m:
            persistence = self._persistence(m, f"{where}.persistence", key)
        one_packet = False
        if "one_packet" in m:
            one_packet = bool(self.boolean(m, "one_packet", f"{where}.one_packet"))
        forward = self.forward
        if "forward" in m:
            forward = self.choice(m, "forward", f"{where}.forward", R.FORWARDS,
                                  "forwarding method") or forward
        if key and not key.is_fwmark and key.port == 0 and persistence is None and "port" in m:
            self.error(m, "port", f"{where}.port", "port 0 (all ports) needs persistence")
        service_check = None
        default_type = self.check_default.type if self.check_default else None
        if "check" in m:
            service_check = self.checks.layer(m, "check", f"{where}.check", default_type)
        self.check_above = (service_check.type if service_check else None) or default_type
        self.rs_checks = {}
        ctx = _Context(key, vip, forward)
        real_servers: dict[RealServerKey, RealServer] = {}
        if "real_servers" in m:
            real_servers = self._real_servers(m, where, ctx)
        min_healthy = None
        if "min_healthy" in m:
            min_healthy = self.checks.min_healthy(m, "min_healthy", f"{where}.min_healthy")
        sorry = self._sorry_server(m, where, ctx, real_servers) if "sorry_server" in m else None
        if key is None:
            return None
        source = self.source(items, index)
        if key in self.service_places:
            self.error(items, index, where, f"duplicate service {key}, "
                                            f"first defined at {self.service_places[key]}")
            return None
        self.service_places[key] = source
        spec = ServiceSpec(scheduler, frozenset(flags), persistence, one_packet)
        levels = tuple(layer for layer in (self.check_default, service_check) if layer)
        checks = self._checks(key, levels, real_servers) if levels or self.rs_checks else {}
        if checks or sorry is not None or min_healthy is not None:
            self.health[key] = ServiceHealth(
                checks, min_healthy or self.min_healthy_default or MinHealthy(), sorry)
        return Service(key, spec, real_servers, name=name, source=source)

    def _checks(self, key: ServiceKey, levels: tuple[Layer, ...],
                real_servers: dict[RealServerKey, RealServer]) -> dict[RealServerKey, CheckSpec]:
        """Each real server's check (those with none left out)."""
        out: dict[RealServerKey, CheckSpec] = {}
        own = self.rs_checks
        spec_of = self.checks.spec
        fwmark = key.is_fwmark
        common: dict[str, CheckSpec | None] = {}  # forward: the service's check
        for rs_key, rs in real_servers.items():
            forward = rs.spec.forward
            layer = own.get(rs_key)
            if layer is not None:
                spec = spec_of((*levels, layer), forward, fwmark)
            elif forward in common:
                spec = common[forward]
            else:
                spec = common[forward] = spec_of(levels, forward, fwmark) if levels else None
            if spec is not None and not isinstance(spec, NoCheck):
                out[rs_key] = spec
        return out

    def _sorry_server(self, m: dict[str, Any], where: str, ctx: _Context,
                      real_servers: dict[RealServerKey, RealServer]) -> RealServer | None:
        at = f"{where}.sorry_server"
        rs = self._real_server(m, "sorry_server", at, ctx, keys="sorry_server")
        if rs is None:
            return None
        if rs.key in real_servers:
            self.error(m, "sorry_server", at, f"{rs.key} is also a real server of this service "
                                              "(a sorry server stands in for all of them)")
            return None
        if rs.spec.weight == 0:
            self.error(m, "sorry_server", at, "weight 0 would never take a connection: give it "
                                              "a weight above 0")
            return None
        return rs

    def _name(self, m: dict[str, Any], where: str) -> str | None:
        name = self.string(m, "name", f"{where}.name")
        if name is None:
            return None
        if not _NAME.match(name):
            self.error(m, "name", f"{where}.name",
                       "must be 1..63 letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit")
            return None
        if name in self.name_places:
            self.error(m, "name", f"{where}.name", f"duplicate name '{name}', "
                                                   f"first used at {self.name_places[name]}")
        else:
            self.name_places[name] = self.where(m, "name")
        return name

    def _service_key(self, items: list[Any], index: int, m: dict[str, Any], where: str
                     ) -> tuple[ServiceKey | None, str | None]:
        """The service's kernel identity and its VIP (compressed), None where they are bad."""
        if "vip" in m and "fwmark" in m:
            self.key_error(m, "fwmark", f"{where}.fwmark",
                           "a service has either 'vip' or 'fwmark', not both")
            return None, None
        if "fwmark" in m:
            for extra in ("port", "protocol"):
                if extra in m:
                    self.key_error(m, extra, f"{where}.{extra}",
                                   "does not apply to a fwmark service (the mark selects packets)")
            mark = self.integer(m, "fwmark", f"{where}.fwmark", *R.FWMARK)
            family = "ipv4"
            if "family" in m:
                family = self.choice(m, "family", f"{where}.family", R.FAMILIES, "family") \
                    or family
            if mark is None:
                return None, None
            return ServiceKey.mark(mark, R.FAMILIES[family]), None
        if "vip" not in m:
            self.error(items, index, where, "needs 'vip' and 'port', or 'fwmark'")
            return None, None
        if "family" in m:
            self.key_error(m, "family", f"{where}.family",
                           "only applies to fwmark services (a VIP's address sets the family)")
        vip = self.address(m, "vip", f"{where}.vip")
        port = None
        if "port" not in m:
            self.error(items, index, where, "missing required key 'port'")
        else:
            port = self.integer(m, "port", f"{where}.port", *R.PORT)
        protocol = self.protocol
        if "protocol" in m:
            protocol = self.choice(m, "protocol", f"{where}.protocol", R.PROTOCOLS, "protocol") \
                or protocol
        if vip is None or port is None:
            return None, vip[1] if vip else None
        return ServiceKey(vip[0], protocol, vip[1], port), vip[1]

    def address(self, parent: Any, key: Any, where: str) -> tuple[int, str] | None:
        """(family, compressed text) of a usable unicast address."""
        value = parent[key]
        if type(value) is str and _UNICAST_V4.fullmatch(value) and value not in _UNUSABLE_V4:
            return 4, value
        if type(value) is not str:
            hint = " (quote it)" if type(value) is int or isinstance(value, Odd) else ""
            self.error(parent, key, where, f"must be an IP address, not {kind(value)}{hint}")
            return None
        try:
            ip = _parse_ip(value.strip())
        except ValueError:
            self.error(parent, key, where, f"'{shown(value)}' is not an IP address")
            return None
        if ip.is_multicast:
            self.error(parent, key, where, f"{ip} is a multicast address")
        elif ip.is_unspecified:
            self.error(parent, key, where, f"{ip} is the unspecified address")
        elif isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            self.error(parent, key, where, "must not carry a zone index (%...)")
        elif isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address(2**32 - 1):
            self.error(parent, key, where, f"{ip} is the broadcast address")
        else:
            return ip.version, ip.compressed
        return None

    def _flags(self, m: dict[str, Any], where: str, scheduler: str) -> list[str]:
        flags: list[str] = []
        items = self.seq(m, "scheduler_flags", f"{where}.scheduler_flags") or []
        for index in range(len(items)):
            item_where = f"{where}.scheduler_flags[{index}]"
            flag = self.choice(items, index, item_where, R.SCHEDULER_FLAGS, "scheduler flag")
            if flag is None:
                continue
            if R.FLAG_SCHEDULER[flag] != scheduler:
                self.error(items, index, item_where,
                           f"'{flag}' needs scheduler {R.FLAG_SCHEDULER[flag]}, not {scheduler}")
                continue
            flags.append(flag)
        return flags

    def _persistence(self, m: dict[str, Any], where: str, key: ServiceKey | None
                     ) -> Persistence | None:
        family = key.family if key else None
        full = 128 if family == 6 else 32
        value = m["persistence"]
        if type(value) is bool:
            return Persistence(DEFAULT_PERSISTENCE_TIMEOUT, full) if value else None
        if value is not None and type(value) is not dict:
            self.error(m, "persistence", where,
                       f"must be true, false or a mapping, not {kind(value)}")
            return None
        p = self.mapping(m, "persistence", where, "persistence") or {}
        timeout = DEFAULT_PERSISTENCE_TIMEOUT
        if "timeout" in p:
            timeout = self.integer(p, "timeout", f"{where}.timeout", *R.PERSISTENCE_TIMEOUT) \
                or timeout
        prefix = full
        if "netmask" in p:
            prefix = self._netmask(p, f"{where}.netmask", family) or prefix
        engine = None
        if "engine" in p:
            engine = self.choice(p, "engine", f"{where}.engine", R.PERSISTENCE_ENGINES,
                                 "persistence engine")
            if engine and key and key.protocol != "udp":
                what = "a fwmark service" if key.is_fwmark else key.protocol
                self.error(p, "engine", f"{where}.engine", f"engine {engine} needs protocol udp, "
                                                           f"not {what}")
        return Persistence(timeout, prefix, engine)

    def _netmask(self, p: dict[str, Any], where: str, family: int | None) -> int | None:
        value = p["netmask"]
        if type(value) is int or (isinstance(value, Odd) and value.tag == _TAG_INT):
            return self.integer(p, "netmask", where, *(R.PREFIX_V4 if family == 4 else R.PREFIX_V6))
        text = self.string(p, "netmask", where, " (a dotted IPv4 netmask) or a prefix length")
        if text is None:
            return None
        if family == 6:
            self.error(p, "netmask", where, "IPv6 services take a prefix length 1..128, "
                                            "not a dotted netmask")
            return None
        try:
            mask = int(ipaddress.IPv4Address(text.strip()))
        except ValueError:
            mask = -1
        host_bits = ~mask & 0xFFFFFFFF
        if mask <= 0 or host_bits & (host_bits + 1):
            self.error(p, "netmask", where, f"'{shown(text)}' is not a netmask "
                                            "(e.g. 255.255.255.0 or 24)")
            return None
        return 32 - host_bits.bit_length()

    # -- real servers ---------------------------------------------------------------------------

    def _real_servers(self, m: dict[str, Any], where: str, ctx: _Context
                      ) -> dict[RealServerKey, RealServer]:
        out: dict[RealServerKey, RealServer] = {}
        items = self.seq(m, "real_servers", f"{where}.real_servers") or []
        firsts: dict[RealServerKey, int] = {}
        # The common case, {address, weight} with a dotted quad in a dr or nat IPv4 service, is
        # decided here in a few C calls per real server; anything else is _real_server's.
        key = ctx.key
        common = key is not None and key.family == 4 and ctx.forward != "tunnel"
        port = key.port if key is not None else 0
        vip = ctx.vip
        plain = _PLAIN_KEYS
        unicast = _UNICAST_V4.fullmatch
        specs = self._plain_specs(ctx.forward)
        default_weight = self.weight
        at = self.places.at
        path = self.path
        for index, item in enumerate(items):
            rs = None
            if common and type(item) is dict and item.keys() <= plain:
                address = item.get("address")
                weight = item.get("weight", default_weight)
                if type(address) is str and type(weight) is int and 0 <= weight <= 65535 \
                        and unicast(address) and address not in _UNUSABLE_V4 \
                        and address != vip:
                    spec = specs.get(weight) or self._plain_spec(specs, weight, ctx.forward)
                    line, col = at.get(id(item), (1, 1))
                    rs = RealServer(_new_tuple(RealServerKey, (address, port)), spec, False,
                                    source=f"{path}:{line}:{col}")
            if rs is None:
                rs = self._real_server(items, index, f"{where}.real_servers[{index}]", ctx)
                if rs is None:
                    continue
            if rs.key in out:
                self.error(items, index, f"{where}.real_servers[{index}]",
                           f"duplicate real server {rs.key}, first defined at "
                           f"{self.where(items, firsts[rs.key])}")
                continue
            firsts[rs.key] = index
            out[rs.key] = rs
        return out

    def _plain_specs(self, forward: str) -> dict[int, RealServerSpec]:
        found = self.plain_specs.get(forward)
        if found is None:
            found = self.plain_specs[forward] = {}
        return found

    def _plain_spec(self, specs: dict[int, RealServerSpec], weight: int, forward: str
                    ) -> RealServerSpec:
        spec = specs[weight] = self._spec(weight, forward, 0, 0, None)
        return spec

    def _real_server(self, items: Any, index: Any, where: str, ctx: _Context,
                     keys: str = "real_server") -> RealServer | None:
        """A real server at items[index] (a list and an index, or a mapping and a key)."""
        m = self.mapping(items, index, where, keys)
        if m is None:
            return None
        ip = None
        if "address" not in m:
            self.error(items, index, where, "missing required key 'address'")
        else:
            ip = self.address(m, "address", f"{where}.address")
        forward = ctx.forward
        if "forward" in m:
            forward = self.choice(m, "forward", f"{where}.forward", R.FORWARDS,
                                  "forwarding method") or forward
        port = ctx.port or 0
        if "port" in m:
            given = self.integer(m, "port", f"{where}.port", *R.PORT)
            port = port if given is None else given
            if given is not None and forward != "nat" and ctx.port is not None \
                    and given != ctx.port:
                if ctx.key is not None and ctx.key.is_fwmark:
                    expect = f"must be 0 in a fwmark service with forward {forward}"
                else:
                    expect = f"must equal the service port {ctx.port} with forward {forward}"
                self.error(m, "port", f"{where}.port", f"{expect} (only nat maps ports)")
        weight = self.weight
        if "weight" in m:
            given = self.integer(m, "weight", f"{where}.weight", *R.WEIGHT)
            weight = weight if given is None else given
        draining = False
        if "state" in m:
            draining = self.choice(m, "state", f"{where}.state", R.STATES, "state") == "draining"
        tunnel = None
        if "tunnel" in m:
            if forward != "tunnel":
                self.key_error(m, "tunnel", f"{where}.tunnel",
                               f"only applies with forward tunnel, not {forward}")
            else:
                tunnel = self._tunnel(m, f"{where}.tunnel")
        if forward == "tunnel" and tunnel is None:
            tunnel = Tunnel()
        upper, lower = self._thresholds(m, where)
        if ip is not None:
            if ctx.family is not None and ip[0] != ctx.family and forward != "tunnel":
                self.error(m, "address", f"{where}.address",
                           f"an IPv{ip[0]} real server in an IPv{ctx.family} service "
                           f"needs forward tunnel")
            if ctx.vip is not None and ip[1] == ctx.vip:
                self.error(m, "address", f"{where}.address", "must not be the service's VIP")
        if ip is None:
            return None
        spec = self._spec(0 if draining else weight, forward, upper, lower, tunnel)
        key = RealServerKey(ip[1], port)
        if "check" in m and keys == "real_server":
            layer = self.checks.layer(m, "check", f"{where}.check", self.check_above)
            if layer is not None:
                self.rs_checks.setdefault(key, layer)
        return RealServer(key, spec, draining, source=self.source(items, index))

    def _spec(self, weight: int, forward: str, upper: int, lower: int,
              tunnel: Tunnel | None) -> RealServerSpec:
        """Equal specs are one (immutable) object: 100,000 real servers share a handful."""
        k = (weight, forward, upper, lower, tunnel)
        found = self.specs.get(k)
        if found is None:
            found = self.specs[k] = RealServerSpec(weight, forward, upper, lower, tunnel)
        return found

    def _thresholds(self, m: dict[str, Any], where: str) -> tuple[int, int]:
        upper = lower = 0
        if "upper_threshold" in m:
            upper = self.integer(m, "upper_threshold", f"{where}.upper_threshold",
                                 *R.THRESHOLD) or 0
        if "lower_threshold" in m:
            lower = self.integer(m, "lower_threshold", f"{where}.lower_threshold",
                                 *R.THRESHOLD) or 0
            if upper and lower > upper:
                self.error(m, "lower_threshold", f"{where}.lower_threshold",
                           f"must not exceed upper_threshold ({upper})")
        return upper, lower

    def _tunnel(self, parent: dict[str, Any], where: str) -> Tunnel:
        m = self.mapping(parent, "tunnel", where, "tunnel") or {}
        kind_ = "ipip"
        if "type" in m:
            kind_ = self.choice(m, "type", f"{where}.type", R.TUNNEL_TYPES, "tunnel type") \
                or kind_
        port = 0
        if kind_ == "gue" and "port" not in m:
            self.error(parent, "tunnel", where, "type gue needs 'port' (the GUE destination port)")
        elif "port" in m and kind_ != "gue":
            self.key_error(m, "port", f"{where}.port", f"only applies to type gue, not {kind_}")
        elif "port" in m:
            port = self.integer(m, "port", f"{where}.port", *R.TUNNEL_PORT) or 0
        csum = "nocsum"
        if "csum" in m:
            csum = self.choice(m, "csum", f"{where}.csum", R.TUNNEL_CSUMS, "checksum mode") \
                or csum
            if csum == "remcsum" and kind_ != "gue":
                self.error(m, "csum", f"{where}.csum", f"remcsum needs type gue, not {kind_}")
            elif csum == "csum" and kind_ == "ipip":
                self.error(m, "csum", f"{where}.csum", "ipip carries no checksum (gue and gre do)")
        return Tunnel(kind_, port, csum)


_PLAIN_KEYS = frozenset(("address", "weight"))
_new_tuple = tuple.__new__  # a NamedTuple without its Python-level __new__


@functools.cache
def sorted_keys(keys: str) -> tuple[str, ...]:
    """The keys of one section in the order the vocabulary lists them (for suggestions)."""
    return {"top": R.TOP_KEYS, "defaults": R.DEFAULTS_KEYS, "scope": R.SCOPE_KEYS,
            "director": R.DIRECTOR_KEYS, "timeouts": R.TIMEOUT_KEYS, "service": R.SERVICE_KEYS,
            "persistence": R.PERSISTENCE_KEYS, "real_server": R.REAL_SERVER_KEYS,
            "tunnel": R.TUNNEL_KEYS, "check": R.CHECK_KEYS,
            "sorry_server": R.SORRY_SERVER_KEYS, "ha": R.HA_KEYS,
            "ha_director": R.HA_DIRECTOR_KEYS, "sync": R.SYNC_KEYS}[keys]
