"""Fast path for large cluster files written as JSON (JSON is YAML): `json.loads` + plain checks.

The careful path (YAML nodes with marks, loader.py) costs about 60 us per real server; a 100,000
real-server file takes seconds there, json.loads a twentieth of a second. This path accepts only
files it fully understands and finds nothing wrong with, and then builds exactly the Cluster the
careful path would, sources (file:line:col) included. On anything else, a problem or merely
something unusual, it returns None and the careful path runs, so every message stays the
careful path's, byte for byte.

Why the results agree: the text is restricted to printable ASCII with '\n' line breaks and no
backslash or tab, where a JSON document reads the same as YAML (quoted strings stay strings,
numbers without a fraction are integers, true/false/null are booleans and null). Duplicate keys,
floats, NaN and every value outside the accepted ranges make it give up.

Duplicate keys are found without a Python call per JSON object (json.loads keeps the last value
silently): the key/value pairs written in the text are counted with str.count, the entries of
every dict the build reads are summed, and the two must agree (see _pairs_written).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import operator
import re
from typing import Any, NoReturn

from ipvsctl.config import vocabulary as R
from ipvsctl.model import (
    DEFAULT_FORWARD,
    DEFAULT_PERSISTENCE_TIMEOUT,
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

_JSON_START = re.compile(r"\s*\{")
_ONE_OPENER = bytes.maketrans(b"[", b"{")  # '[' -> '{': one split finds every opener
# Exactly the dotted quads ipaddress accepts (no leading zeros), which are already compressed,
# less the multicast ones (first octet 224-239), which are refused.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_UNICAST_V4 = re.compile(
    rf"(?:25[0-5]|24[0-9]|22[0-3]|2[01][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.{_OCTET}){{3}}")
_UNUSABLE_V4 = ("0.0.0.0", "255.255.255.255")  # noqa: S104 - refused, never bound
_NAME = re.compile(R.NAME_PATTERN)
_MARK_RANGE = re.compile(R.FWMARK_RANGE_PATTERN)
# Characters where JSON and YAML could disagree, or where YAML counts lines differently.
_UNSURE = ("\\", "\t", "\r", "\x7f")
# The keys each mapping may hold, as sets: a dict's keys view is compared in one C call.
_TOP_KEYS = frozenset(R.TOP_KEYS)
_DEFAULTS_KEYS = frozenset(R.DEFAULTS_KEYS)
_SCOPE_KEYS = frozenset(R.SCOPE_KEYS)
_DIRECTOR_KEYS = frozenset(R.DIRECTOR_KEYS)
_TIMEOUT_KEYS = frozenset(R.TIMEOUT_KEYS)
_SERVICE_KEYS = frozenset(R.SERVICE_KEYS)
_PERSISTENCE_KEYS = frozenset(R.PERSISTENCE_KEYS)
_REAL_SERVER_KEYS = frozenset(R.REAL_SERVER_KEYS)
_TUNNEL_KEYS = frozenset(R.TUNNEL_KEYS)
# A quote, whitespace, ':' (a key spaced from its ':' is rare: see _pairs_written).
_SPACED = re.compile(r'"\s+:')
_KEY_END = re.compile(r'"\s*:(?!:)')


class _GiveUp(Exception):
    """Not for the fast path: let the careful path read the file (and word any problem)."""


def _give_up() -> NoReturn:
    raise _GiveUp()


def _pairs_written(text: str) -> int:
    """How many key/value pairs the JSON text writes: at least as many as it holds, and exactly
    as many in every document the build accepts.

    With the _UNSURE characters excluded no string holds '"' (that needs a backslash), so every
    '"' opens or closes a string. A key is a string followed by optional whitespace and ':', so
    each pair has one closing quote followed by (whitespace and) ':'. The only other quotes so
    followed open a string that starts with (whitespace and) ':'; the only such strings the build
    accepts are IPv6 texts, which start with '::'. And a key's ':' is never followed by another
    ':' (no value starts with one), so '"::' is always an opening quote, never a key: subtracting
    those leaves the keys, plus strings the build refuses anyway. Usually no quote is followed by
    whitespace and ':' (json.dumps and the generator write '": '), and two str.count calls do;
    else a regular expression counts the same thing, whitespace allowed.

    load_json compares this with the sum of len(d) over the dicts the build reads, each read
    once. json.loads keeps one entry per distinct key, so a dict never has more entries than its
    object wrote pairs, and fewer exactly when a key repeats; a dict never read adds nothing. So
    the sum is at most this count, and equal only when every object with a pair was read and no
    key repeated (or this count is too high, on a string the build refuses: giving up is right).
    """
    # JSON's other whitespace characters are _UNSURE. The cheap test first, then the exact one.
    if ('" ' in text or '"\n' in text) and _SPACED.search(text):
        return len(_KEY_END.findall(text))
    return text.count('":') - text.count('"::')


def _no_constant(_name: str) -> NoReturn:  # NaN, Infinity: not JSON, not YAML integers
    raise _GiveUp()


def load_json(text: str, path: str) -> Cluster | None:
    """The Cluster for a plain JSON cluster file, or None to use the careful path."""
    if not _JSON_START.match(text) or not text.isascii() or any(c in text for c in _UNSURE):
        return None
    try:
        data = json.loads(text, parse_constant=_no_constant)
        build = _Build(text, path)
        cluster = build.cluster(data)
    except (_GiveUp, ValueError, RecursionError):
        return None
    if build.pairs != _pairs_written(text):
        return None  # a key repeats: the careful path reports it
    return cluster


def _integer(value: Any, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        _give_up()
    return value


def _choice(value: Any, choices: tuple[str, ...] | dict[str, Any]) -> str:
    if type(value) is not str or value not in choices:
        _give_up()
    return value


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        _give_up()
    return value


def _mapping(value: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not value.keys() <= keys:
        _give_up()
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        _give_up()
    return value


def _address(value: Any) -> tuple[int, str]:
    """(family, compressed text) of a usable unicast address, as loader._address accepts."""
    if type(value) is not str:
        _give_up()
    text = value.strip()
    if _UNICAST_V4.fullmatch(text):
        if text in _UNUSABLE_V4:
            _give_up()
        return 4, text
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        _give_up()
    if ip.is_multicast or ip.is_unspecified or isinstance(ip, ipaddress.IPv4Address) \
            or ip.scope_id:
        _give_up()  # the IPv4 ones the pattern missed are the unusual ones: let careful decide
    return 6, ip.compressed


class _Build:
    """Mirrors loader._Builder on plain data; every branch that would record a problem gives up."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        # Where each '[' and '{' is: the lengths of the pieces between them, summed, plus one
        # for each opener before (an ASCII text's bytes are its characters).
        pieces = text.encode("ascii").translate(_ONE_OPENER).split(b"{")
        pieces.pop()  # after the last opener
        ends = itertools.accumulate(map(len, pieces))
        self.openers = list(map(operator.add, ends, itertools.count()))
        self.at = 0  # containers entered so far, in document order
        self.line = 1  # the line of text[line_from]
        self.line_from = 0
        self.line_start = -1  # where the line of text[line_from] starts, less one
        self.pairs = 0  # entries of the dicts read, each counted once (see _pairs_written)
        self.scheduler = DEFAULT_SCHEDULER
        self.forward: str = DEFAULT_FORWARD
        self.weight = DEFAULT_WEIGHT
        self.protocol = "tcp"
        self.names: set[str] = set()
        self.specs: dict[tuple[int, str, int, int, Tunnel | None], RealServerSpec] = {}
        self.plain_specs: dict[str, dict[int, RealServerSpec]] = {}  # forward: weight: spec

    # -- positions: every '[' and '{' is structural (accepted strings hold neither) -------------

    def enter(self) -> None:
        self.at += 1

    def where(self) -> str:
        """file:line:col of the container just entered, as YAML marks count them."""
        pos = self.openers[self.at - 1]
        lines = self.text.count("\n", self.line_from, pos)
        if lines:  # never search back past line_from: a one-line file would be quadratic
            self.line += lines
            self.line_start = self.text.rfind("\n", self.line_from, pos)
        self.line_from = pos
        return f"{self.path}:{self.line}:{pos - self.line_start}"

    def mapping(self, value: Any, keys: frozenset[str]) -> dict[str, Any]:
        """_mapping, counting the entries read (once per dict: see _pairs_written)."""
        m = _mapping(value, keys)
        self.pairs += len(m)
        return m

    def skip(self, value: Any) -> None:
        """Count the containers inside a value that was read without entering them.

        No pairs are counted here: the values skipped are sections also read (and counted) by
        their own readers, and counting a dict twice could hide a repeated key elsewhere.
        """
        if type(value) is dict:
            self.at += 1
            for v in value.values():
                self.skip(v)
        elif type(value) is list:
            self.at += 1
            for v in value:
                self.skip(v)

    # -- the file -------------------------------------------------------------------------------

    def cluster(self, data: Any) -> Cluster:
        top = self.mapping(data, _TOP_KEYS)
        self.enter()
        # Sections are read in a fixed order but the text has them in any order: positions are
        # only needed inside `services`, so count the containers of whatever precedes it.
        director, scope = Director(), Scope()
        if "defaults" in top:
            self._defaults(top["defaults"])
        if "scope" in top:
            scope = self._scope(top["scope"])
        if "director" in top:
            director = self._director(top["director"])
        if "services" not in top:
            _give_up()
        names = list(top)
        at = names.index("services")
        for name in names[:at]:
            self.skip(top[name])
        services: dict[ServiceKey, Service] = {}
        items = _list(top["services"])
        self.enter()
        for item in items:
            service = self._service(item)
            if service.key in services:
                _give_up()
            services[service.key] = service
        for name in names[at + 1:]:
            self.skip(top[name])
        if self.at != len(self.openers):
            _give_up()  # some '[' or '{' was not where the data says: never guess a position
        return Cluster(services=services, director=director, scope=scope, path=self.path)

    def _defaults(self, value: Any) -> None:
        m = self.mapping(value, _DEFAULTS_KEYS)
        if "scheduler" in m:
            self.scheduler = _choice(m["scheduler"], R.SCHEDULERS)
        if "forward" in m:
            self.forward = _choice(m["forward"], R.FORWARDS)
        if "weight" in m:
            self.weight = _integer(m["weight"], *R.WEIGHT)
        if "protocol" in m:
            self.protocol = _choice(m["protocol"], R.PROTOCOLS)

    def _scope(self, value: Any) -> Scope:
        m = self.mapping(value, _SCOPE_KEYS)
        networks: list[str] = []
        for item in _list(m.get("vips", [])):
            if type(item) is not str:
                _give_up()
            try:
                net = str(ipaddress.ip_network(item.strip(), strict=True))
            except ValueError:
                _give_up()
            if net not in networks:
                networks.append(net)
        marks: list[tuple[int, int]] = []
        for item in _list(m.get("fwmarks", [])):
            if type(item) is int:
                span = (_integer(item, *R.FWMARK),) * 2
            elif type(item) is str and _MARK_RANGE.match(item):
                lo, hi = (int(part) for part in item.split("-"))
                _integer(lo, *R.FWMARK)
                _integer(hi, *R.FWMARK)
                if lo > hi:
                    _give_up()
                span = (lo, hi)
            else:
                _give_up()
            if span not in marks:
                marks.append(span)
        return Scope(networks=tuple(networks), fwmarks=tuple(marks))

    def _director(self, value: Any) -> Director:
        m = self.mapping(value, _DIRECTOR_KEYS)
        timeouts = Timeouts()
        if "timeouts" in m:
            t = self.mapping(m["timeouts"], _TIMEOUT_KEYS)
            timeouts = Timeouts(**{name: _integer(t[name], *R.TIMEOUT)
                                   for name in R.TIMEOUT_KEYS if name in t})
        sysctls: dict[str, int] = {}
        if "sysctls" in m:
            given = m["sysctls"]
            if type(given) is not dict:
                _give_up()
            self.pairs += len(given)
            for name, v in given.items():
                sysctls[_choice(name, R.SYSCTLS)] = _integer(v, *R.SYSCTL_VALUE)
        drain_timeout = None
        if "drain_timeout" in m:
            drain_timeout = _integer(m["drain_timeout"], *R.DRAIN_TIMEOUT)
        return Director(timeouts=timeouts, sysctls=sysctls, drain_timeout=drain_timeout)

    # -- services -------------------------------------------------------------------------------

    def _service(self, value: Any) -> Service:
        m = self.mapping(value, _SERVICE_KEYS)
        self.enter()
        source = self.where()
        name = m.get("name")
        if name is not None or "name" in m:
            if type(name) is not str or not _NAME.match(name) or name in self.names:
                _give_up()
            self.names.add(name)
        key, vip = self._key(m)
        scheduler = _choice(m["scheduler"], R.SCHEDULERS) if "scheduler" in m \
            else self.scheduler
        flags: list[str] = []
        persistence = None
        one_packet = False
        forward = _choice(m["forward"], R.FORWARDS) if "forward" in m else self.forward
        real_servers: dict[RealServerKey, RealServer] = {}
        # Containers are entered in the text's order, so walk the keys in the text's order.
        for field, v in m.items():
            if field == "scheduler_flags":
                self.enter()
                for flag in _list(v):
                    if R.FLAG_SCHEDULER[_choice(flag, R.SCHEDULER_FLAGS)] != scheduler:
                        _give_up()
                    flags.append(flag)
            elif field == "persistence":
                persistence = self._persistence(v, key)
            elif field == "one_packet":
                one_packet = _boolean(v)
            elif field == "real_servers":
                real_servers = self._real_servers(v, key, vip, forward)
        if not key.is_fwmark and key.port == 0 and persistence is None:
            _give_up()
        spec = ServiceSpec(scheduler, frozenset(flags), persistence, one_packet)
        return Service(key, spec, real_servers, name=name, source=source)

    def _key(self, m: dict[str, Any]) -> tuple[ServiceKey, str | None]:
        if "fwmark" in m:
            if "vip" in m or "port" in m or "protocol" in m:
                _give_up()
            mark = _integer(m["fwmark"], *R.FWMARK)
            named = _choice(m["family"], tuple(R.FAMILIES)) if "family" in m else "ipv4"
            return ServiceKey.mark(mark, R.FAMILIES[named]), None
        if "vip" not in m or "family" in m or "port" not in m:
            _give_up()
        family, vip = _address(m["vip"])
        port = _integer(m["port"], *R.PORT)
        protocol = _choice(m["protocol"], R.PROTOCOLS) if "protocol" in m else self.protocol
        return ServiceKey(family, protocol, vip, port), vip

    def _persistence(self, value: Any, key: ServiceKey) -> Persistence | None:
        full = 128 if key.family == 6 else 32
        if type(value) is bool:
            return Persistence(DEFAULT_PERSISTENCE_TIMEOUT, full) if value else None
        if value is None:
            return Persistence(DEFAULT_PERSISTENCE_TIMEOUT, full)
        m = self.mapping(value, _PERSISTENCE_KEYS)
        self.enter()
        timeout = _integer(m.get("timeout", DEFAULT_PERSISTENCE_TIMEOUT),
                           *R.PERSISTENCE_TIMEOUT)
        prefix = full
        if "netmask" in m:
            prefix = self._netmask(m["netmask"], key.family)
        engine = None
        if "engine" in m:
            engine = _choice(m["engine"], R.PERSISTENCE_ENGINES)
            if key.protocol != "udp":
                _give_up()
        return Persistence(timeout, prefix, engine)

    @staticmethod
    def _netmask(value: Any, family: int) -> int:
        if type(value) is int:
            return _integer(value, *(R.PREFIX_V4 if family == 4 else R.PREFIX_V6))
        if type(value) is not str or family == 6:
            _give_up()
        try:
            mask = int(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            _give_up()
        host_bits = ~mask & 0xFFFFFFFF
        if mask <= 0 or host_bits & (host_bits + 1):
            _give_up()
        return 32 - host_bits.bit_length()

    # -- real servers ---------------------------------------------------------------------------

    def _real_servers(self, value: Any, key: ServiceKey, vip: str | None,
                      forward: str) -> dict[RealServerKey, RealServer]:
        if value is None:
            return {}
        items = _list(value)
        self.enter()
        out: dict[RealServerKey, RealServer] = {}
        rs_keys = _REAL_SERVER_KEYS
        # The common item, {address, weight} with a dotted quad, is read inline: this loop runs
        # once per real server (100,000 times for a 10,000-service file), and each helper call
        # costs as much as the work. Anything else goes through the helpers, in order. The
        # position state (at, line...) lives in locals here and is written back around helpers.
        path, openers, count, rfind = self.path, self.openers, self.text.count, self.text.rfind
        # Multicast dotted quads do not match: the helper refuses them.
        unicast = _UNICAST_V4.fullmatch if key.family == 4 else None
        refused = {*_UNUSABLE_V4, vip}
        port, weight_lo, weight_hi = key.port, R.WEIGHT[0], R.WEIGHT[1]
        default_weight = self.weight
        spec_of = self._spec
        # Checked weights: whatever int equals one of these keys is in range (True == 1 is no
        # int, and is refused before the lookup).
        by_weight = self.plain_specs.setdefault(forward, {})
        new_tuple = tuple.__new__  # the key's own __new__ is a Python call: skip it per item
        if forward == "tunnel":
            unicast = None  # a tunnel may cross families: the helper decides
        at, line, line_from, line_start = self.at, self.line, self.line_from, self.line_start
        pairs = 0
        for item in items:
            if type(item) is not dict:
                _give_up()
            pos = openers[at]
            at += 1
            lines = count("\n", line_from, pos)
            if lines:  # as in where()
                line += lines
                line_start = rfind("\n", line_from, pos)
            line_from = pos
            where = f"{path}:{line}:{pos - line_start}"
            size = len(item)
            pairs += size
            address = item.get("address")
            if (unicast is not None and type(address) is str and size <= 2
                    and ("weight" in item or size == 1) and unicast(address)):
                weight = item["weight"] if size == 2 else default_weight
                if type(weight) is not int or address in refused:
                    _give_up()
                spec = by_weight.get(weight)
                if spec is None:
                    if not weight_lo <= weight <= weight_hi:
                        _give_up()
                    spec = by_weight[weight] = spec_of(weight, forward, 0, 0, None)
                rs_key = new_tuple(RealServerKey, (address, port))
                out[rs_key] = RealServer(rs_key, spec, False, where)
                continue
            self.at, self.line, self.line_from, self.line_start = at, line, line_from, line_start
            if size <= 2 and "address" in item and ("weight" in item or size == 1):
                rs = self._plain_real_server(item, key, vip, forward, where)
            else:
                if not item.keys() <= rs_keys:
                    _give_up()
                rs = self._real_server(item, key, vip, forward, where)
            out[rs.key] = rs
            at, line, line_from, line_start = self.at, self.line, self.line_from, self.line_start
        self.at, self.line, self.line_from, self.line_start = at, line, line_from, line_start
        self.pairs += pairs
        if len(out) != len(items):  # a repeated real server (checked once, not per item)
            _give_up()
        return out

    def _plain_real_server(self, item: dict[str, Any], key: ServiceKey, vip: str | None,
                           forward: str, where: str) -> RealServer:
        """The common case, {address, weight}: the same result as _real_server, sooner."""
        family, address = _address(item["address"])
        weight = _integer(item["weight"], *R.WEIGHT) if "weight" in item else self.weight
        if (family != key.family and forward != "tunnel") or address == vip:
            _give_up()
        tunnel = Tunnel() if forward == "tunnel" else None
        spec = self._spec(weight, forward, 0, 0, tunnel)
        return RealServer(RealServerKey(address, key.port), spec, False, source=where)

    def _real_server(self, m: dict[str, Any], key: ServiceKey, vip: str | None,
                     forward: str, where: str) -> RealServer:
        if "address" not in m:
            _give_up()
        family, address = _address(m["address"])
        if "forward" in m:
            forward = _choice(m["forward"], R.FORWARDS)
        port = key.port
        if "port" in m:
            port = _integer(m["port"], *R.PORT)
            if forward != "nat" and port != key.port:
                _give_up()
        weight = _integer(m["weight"], *R.WEIGHT) if "weight" in m else self.weight
        draining = _choice(m["state"], R.STATES) == "draining" if "state" in m else False
        tunnel = None
        upper = lower = 0
        for field, v in m.items():  # the text's order, for the containers' positions
            if field == "tunnel":
                if forward != "tunnel":
                    _give_up()
                tunnel = self._tunnel(v)
            elif field == "upper_threshold":
                upper = _integer(v, *R.THRESHOLD)
            elif field == "lower_threshold":
                lower = _integer(v, *R.THRESHOLD)
        if upper and lower > upper:
            _give_up()
        if forward == "tunnel" and tunnel is None:
            tunnel = Tunnel()
        if (family != key.family and forward != "tunnel") or address == vip:
            _give_up()
        spec = self._spec(0 if draining else weight, forward, upper, lower, tunnel)
        return RealServer(RealServerKey(address, port), spec, draining, source=where)

    def _spec(self, weight: int, forward: str, upper: int, lower: int,
              tunnel: Tunnel | None) -> RealServerSpec:
        """Equal specs are one (frozen) object: 100,000 real servers share a handful."""
        k = (weight, forward, upper, lower, tunnel)
        found = self.specs.get(k)
        if found is None:
            found = self.specs[k] = RealServerSpec(weight, forward, upper, lower, tunnel)
        return found

    def _tunnel(self, value: Any) -> Tunnel:
        if value is None:
            return Tunnel()
        m = self.mapping(value, _TUNNEL_KEYS)
        self.enter()
        kind = _choice(m["type"], R.TUNNEL_TYPES) if "type" in m else "ipip"
        port = 0
        if kind == "gue":
            if "port" not in m:
                _give_up()
            port = _integer(m["port"], *R.TUNNEL_PORT)
        elif "port" in m:
            _give_up()
        csum = _choice(m["csum"], R.TUNNEL_CSUMS) if "csum" in m else "nocsum"
        if (csum == "remcsum" and kind != "gue") or (csum == "csum" and kind == "ipip"):
            _give_up()
        return Tunnel(kind, port, csum)
