"""The cluster file's health rules: `check`, `min_healthy` and `sorry_server`, one set for every
reader (the builder calls them; docs/health.md and docs/cluster-file.md describe them).

A `check` mapping may stand under `defaults`, a service or one real server. The most specific
wins key by key: a real server's `{port: 8080}` changes only the port of its service's check.
The type-specific keys of a less specific level carry over only while the type stays the same
(a real server's `{type: tcp}` under an http service drops the path). A level without a `type`
anywhere above it describes no check: `defaults: {check: {interval: 1}}` only sets the timing
of the checks that name a type elsewhere.

Every combination of levels is resolved once (a file of 100,000 real servers has a handful),
and its problems are reported once, at the most specific level that has them. A file written by
`ipvsctl import` repeats one `check` mapping on each real server: a mapping equal to one read
without problems (same keys, values of the same types) reads as that one did, and levels of
such mappings make the check they made before, unless that check had problems: those are
reported at each place again.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from ipvsctl.config import vocabulary as R
from ipvsctl.config.tree import Odd, kind, shown
from ipvsctl.health.policy import MinHealthy
from ipvsctl.health.spec import (
    CHECK_TYPES,
    CheckSpec,
    DnsCheck,
    ExecCheck,
    HttpCheck,
    NoCheck,
    UdpCheck,
    default_via,
)

if TYPE_CHECKING:
    from ipvsctl.config.builder import _Builder

_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"
_DIGITS = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?$")
_PATH = re.compile(R.HTTP_PATH_PATTERN)
_STATUS = re.compile(R.HTTP_STATUS_PATTERN)
_PERCENT = re.compile(R.MIN_HEALTHY_PERCENT_PATTERN)
_HOST = re.compile(r"[\x21-\x7e]{1,255}$")  # one header value: printable, no space, no CR/LF
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_MAX_STATUS_ITEMS = 32
_MAX_PATTERN = 1024
_OWNERS = {key: tuple(t for t, keys in R.CHECK_TYPE_KEYS.items() if key in keys)
           for key in R.CHECK_KEYS if key not in R.CHECK_COMMON_KEYS}


class Layer(NamedTuple):
    """One `check` mapping as written: its checked values (file key names) and its place."""

    values: dict[str, Any]
    type: str | None  # its own `type`, if it has one
    parent: Any  # parent[key] is the mapping (for placing problems)
    key: Any
    where: str
    ok: bool  # no problem in it (else no check is built from it: its problems are said)


class CheckRules:
    """The builder's health rules; they read values through the builder's typed getters."""

    def __init__(self, builder: _Builder) -> None:
        self.b = builder
        self._resolved: dict[tuple[int, ...], tuple[Any, ...] | None] = {}
        self._specs: dict[tuple[tuple[int, ...], str, bool], CheckSpec | None] = {}
        self._shared: dict[CheckSpec, CheckSpec] = {}
        self._layers: list[Layer] = []  # alive while the file is built: their ids key the cache
        # A problem-free mapping's contents (and the type above it) -> its values, its type and
        # a number that stands for both; id(layer) -> that number, for each layer that has one.
        self._read: dict[tuple[Any, ...], tuple[dict[str, Any], str | None, int]] = {}
        self._token: dict[int, int] = {}
        self._same: dict[tuple[tuple[int, ...], str, bool], CheckSpec | None] = {}

    # -- one level --------------------------------------------------------------------------

    def layer(self, parent: Any, key: Any, where: str, above: str | None) -> Layer | None:
        """The `check` mapping at parent[key]; `above`: the type the levels above give."""
        b = self.b
        contents = _contents(parent[key], above, where)
        if contents is not None:
            found = self._read.get(contents)
            if found is not None:
                layer = Layer(found[0], found[1], parent, key, where, ok=True)
                self._layers.append(layer)
                self._token[id(layer)] = found[2]
                return layer
        problems = len(b.p)
        m = b.mapping(parent, key, where, "check")
        if m is None:
            return None
        own = None
        if "type" in m:
            own = b.choice(m, "type", f"{where}.type", R.CHECK_TYPES, "check type")
            if own is None:
                return None
        current = own or above
        values: dict[str, Any] = {}
        for name in m:
            if name == "type" or name not in R.CHECK_KEYS:
                continue
            at = f"{where}.{name}"
            if name not in R.CHECK_COMMON_KEYS:
                if current is None:
                    b.key_error(m, name, at, f"needs a check type ({' or '.join(_OWNERS[name])})"
                                             " here or above")
                    continue
                if name not in R.CHECK_TYPE_KEYS[current]:
                    b.key_error(m, name, at, f"does not apply to {_a(current)} check "
                                             f"(only {', '.join(_OWNERS[name])})")
                    continue
            value = self._value(m, name, at)
            if value is not None:
                values[name] = value
        if "via" in values and current in ("exec", "none"):
            b.key_error(m, "via", f"{where}.via", f"does not apply to {_a(current)} check "
                                                  "(it opens no socket of ipvsctl's)")
            del values["via"]
        layer = Layer(values, own, parent, key, where, ok=len(b.p) == problems)
        self._layers.append(layer)
        if contents is not None and layer.ok:
            self._read[contents] = (values, own, len(self._read))
            self._token[id(layer)] = len(self._read) - 1
        return layer

    def _value(self, m: dict[str, Any], name: str, where: str) -> Any:
        b = self.b
        if name == "interval":
            return self.seconds(m, name, where, R.CHECK_INTERVAL)
        if name == "timeout":
            return self.seconds(m, name, where, R.CHECK_TIMEOUT)
        if name in ("rise", "fall"):
            return b.integer(m, name, where, *R.CHECK_COUNT)
        if name == "port":
            return b.integer(m, name, where, *R.CHECK_PORT)
        if name == "via":
            return b.choice(m, name, where, R.CHECK_VIAS, "check path")
        if name in ("verify",):
            return b.boolean(m, name, where)
        if name == "path":
            return self._matching(m, name, where, _PATH, "a path starting with '/', printable "
                                                       "ASCII without spaces (encode others)")
        if name == "status":
            return self._status(m, where)
        if name == "body":
            return self._pattern(m, where)
        if name == "host":
            return self._matching(m, name, where, _HOST, "one Host header value: printable "
                                                       "ASCII without spaces")
        if name == "sni":
            return self._dns_name(m, name, where, sni=True)
        if name in ("payload", "expect"):
            return self._bytes(m, name, where)
        if name == "name":
            return self._dns_name(m, name, where, sni=False)
        if name == "query_type":
            return self._upper_choice(m, name, where, R.DNS_TYPES, "DNS query type")
        if name == "rcode":
            return self._upper_choice(m, name, where, R.DNS_RCODES, "DNS rcode")
        if name == "argv":
            return self._argv(m, where)
        raise AssertionError(name)  # every key of vocabulary.CHECK_KEYS is read above

    # -- the levels together ----------------------------------------------------------------

    def spec(self, layers: tuple[Layer, ...], forward: str, fwmark: bool) -> CheckSpec | None:
        """The check of a real server under `layers` (least specific first), or None: no
        check. `forward` and `fwmark` decide the default path and what `via: vip` may do."""
        ids = tuple(id(layer) for layer in layers)
        found = self._specs.get((ids, forward, fwmark), _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        tokens = tuple(self._token.get(i, -1) for i in ids)
        same = (tokens, forward, fwmark) if -1 not in tokens else None
        if same is not None:
            found = self._same.get(same, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
        problems = len(self.b.p)
        spec = self._build(layers, forward, fwmark)
        if spec is not None:
            spec = self._shared.setdefault(spec, spec)
        self._specs[(ids, forward, fwmark)] = spec
        if same is not None and len(self.b.p) == problems:
            self._same[same] = spec
        return spec

    def _build(self, layers: tuple[Layer, ...], forward: str, fwmark: bool) -> CheckSpec | None:
        kind_ = None
        values: dict[str, Any] = {}
        for layer in layers:
            if layer.type is not None and layer.type != kind_:
                kind_ = layer.type
                allowed = R.CHECK_TYPE_KEYS[kind_]
                values = {k: v for k, v in values.items()
                          if k in R.CHECK_COMMON_KEYS or k in allowed}
            values.update(layer.values)
        if kind_ is None or not all(layer.ok for layer in layers):
            return None
        if kind_ == "none":
            return NoCheck()
        inner = layers[-1]
        cls = CHECK_TYPES[kind_]
        fields: dict[str, Any] = {}
        for name in ("interval", "timeout", "rise", "fall", "port"):
            if name in values:
                fields[name] = values[name]
        probe = cls(**fields)
        if probe.timeout > probe.interval:
            self.b.error(inner.parent, inner.key, inner.where,
                         f"timeout {probe.timeout:g}s is longer than the interval "
                         f"{probe.interval:g}s (a check must end before the next one starts)")
            return None
        via = default_via(forward, kind_, fwmark=fwmark)
        if "via" in values:
            via = values["via"]
            if via == "vip" and (fwmark or forward == "nat"):
                setter = next(layer for layer in reversed(layers) if "via" in layer.values)
                why = ("a fwmark service has no VIP to send it to" if fwmark
                       else "a nat real server is reached at its own address")
                if setter.where.startswith("defaults"):
                    via = "address"  # the default applies where it can
                else:
                    self.b.error(setter.parent, setter.key, f"{setter.where}.via",
                                 f"via: vip does not apply here: {why} (use via: address)")
                    return None
        fields["via"] = via
        if cls is HttpCheck:
            fields["tls"] = kind_ == "https"
            for name in ("path", "status", "body", "host", "sni", "verify"):
                if name in values:
                    fields[name] = values[name]
        elif cls is UdpCheck:
            for name in ("payload", "expect"):
                if name in values:
                    fields[name] = values[name]
        elif cls is DnsCheck:
            for file_key, name in (("name", "name"), ("query_type", "qtype"), ("rcode", "rcode")):
                if file_key in values:
                    fields[name] = values[file_key]
        elif cls is ExecCheck:
            if "argv" not in values:
                self.b.error(inner.parent, inner.key, inner.where,
                             "an exec check needs 'argv' (the program by its absolute path, "
                             "then its arguments)")
                return None
            fields["argv"] = values["argv"]
        return cls(**fields)

    # -- min_healthy ------------------------------------------------------------------------

    def min_healthy(self, parent: Any, key: Any, where: str) -> MinHealthy | None:
        value = parent[key]
        if type(value) is str:
            text = value.strip()
            if _PERCENT.match(text):
                return MinHealthy(percent=float(text[:-1]))
            if text.endswith("%"):
                self.b.error(parent, key, where, f"'{shown(value)}' is not a percentage "
                                                 "0%..100% (at most two decimals)")
                return None
            hint = " (remove the quotes)" if _DIGITS.match(text) else ""
            self.b.error(parent, key, where, "must be a count of real servers or a percentage "
                                             f"such as \"50%\", not a string{hint}")
            return None
        if type(value) is not int and not (isinstance(value, Odd) and value.tag == _TAG_INT):
            self.b.error(parent, key, where, "must be a count of real servers or a percentage "
                                             f"such as \"50%\", not {kind(value)}")
            return None
        count = self.b.integer(parent, key, where, *R.MIN_HEALTHY)
        return None if count is None else MinHealthy(count=count)

    # -- values -----------------------------------------------------------------------------

    def seconds(self, parent: Any, key: Any, where: str, bounds: tuple[float, float]
                ) -> float | None:
        """A number of seconds: an integer or a number with a fraction (not .inf, not 1:30)."""
        b = self.b
        value = parent[key]
        lo, hi = bounds
        number: float
        if type(value) is int and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, Odd) and value.tag == _TAG_INT and ":" in value.text:
            b.error(parent, key, where, f"must be a number of seconds, not '{shown(value.text)}' "
                                        "(YAML 1.1 reads it in base 60)")
            return None
        elif isinstance(value, Odd) and value.tag == _TAG_INT:
            whole = b.integer(parent, key, where, 0, 10**9)
            if whole is None:
                return None
            number = float(whole)
        elif isinstance(value, Odd) and value.tag == _TAG_FLOAT:
            try:
                number = float(value.text.replace("_", "")) if ":" not in value.text else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                b.error(parent, key, where, f"must be a number of seconds, not "
                                            f"'{shown(value.text)}'")
                return None
        else:
            quoted = type(value) is str and _DIGITS.match(value.strip()) is not None
            hint = " (remove the quotes)" if quoted else ""
            b.error(parent, key, where, f"must be a number of seconds, not {kind(value)}{hint}")
            return None
        if not lo <= number <= hi:
            b.error(parent, key, where, f"must be {lo:g}..{hi:g} seconds")
            return None
        return number

    def _matching(self, m: dict[str, Any], name: str, where: str, pattern: re.Pattern[str],
                  what: str) -> str | None:
        text = self.b.string(m, name, where)
        if text is None:
            return None
        if not pattern.match(text):
            self.b.error(m, name, where, f"'{shown(text)}' is not {what}")
            return None
        return text

    def _status(self, m: dict[str, Any], where: str) -> tuple[tuple[int, int], ...] | None:
        value = m["status"]
        items, parent = (value, value) if type(value) is list else ([value], None)
        if not items or len(items) > _MAX_STATUS_ITEMS:
            self.b.error(m, "status", where, f"must list 1..{_MAX_STATUS_ITEMS} codes or ranges")
            return None
        spans: list[tuple[int, int]] = []
        for index, item in enumerate(items):
            holder, key = (parent, index) if parent is not None else (m, "status")
            at = f"{where}[{index}]" if parent is not None else where
            span = self._status_item(holder, key, at, item)
            if span is None:
                return None
            spans.append(span)
        return tuple(spans)

    def _status_item(self, holder: Any, key: Any, where: str, item: Any) -> tuple[int, int] | None:
        lo, hi = R.HTTP_STATUS
        if type(item) is int or (isinstance(item, Odd) and item.tag == _TAG_INT):
            code = self.b.integer(holder, key, where, lo, hi)
            return None if code is None else (code, code)
        text = self.b.string(holder, key, where, " (a code such as 200 or a range \"200-399\")")
        if text is None:
            return None
        if not _STATUS.match(text):
            self.b.error(holder, key, where, f"'{shown(text)}' is not a status code or range "
                                             "(e.g. 200 or \"200-399\")")
            return None
        parts = [int(p) for p in text.split("-")]
        first, last = parts[0], parts[-1]
        if first > last:
            self.b.error(holder, key, where, f"range {shown(text)} is reversed "
                                             f"(did you mean {last}-{first}?)")
            return None
        return (first, last)

    def _pattern(self, m: dict[str, Any], where: str) -> str | None:
        text = self.b.string(m, "body", where, " (a regular expression)")
        if text is None:
            return None
        if len(text) > _MAX_PATTERN:
            self.b.error(m, "body", where, f"a pattern of at most {_MAX_PATTERN} characters")
            return None
        try:
            re.compile(text.encode("utf-8"))
        except (re.error, OverflowError, RecursionError) as exc:
            self.b.error(m, "body", where, f"not a regular expression: {exc}")
            return None
        return text

    def _dns_name(self, m: dict[str, Any], name: str, where: str, *, sni: bool) -> str | None:
        text = self.b.string(m, name, where)
        if text is None:
            return None
        if sni and _looks_like_ip(text):
            self.b.error(m, name, where, "must be a DNS name, not an IP address (RFC 6066)")
            return None
        bare = text[:-1] if text.endswith(".") and text != "." else text
        labels = bare.split(".") if bare != "." else []
        if len(bare) > 253 or (sni and not labels) or not all(_LABEL.match(x) for x in labels):
            self.b.error(m, name, where, f"'{shown(text)}' is not a DNS name")
            return None
        return text

    def _upper_choice(self, m: dict[str, Any], name: str, where: str, choices: tuple[str, ...],
                      what: str) -> str | None:
        text = self.b.string(m, name, where)
        if text is None:
            return None
        if text in choices or (text.upper() in choices and text == text.lower()):
            return text.upper()
        from ipvsctl.config.builder import suggest

        self.b.error(m, name, where, f"unknown {what} '{shown(text)}' "
                                     f"({suggest(text.upper(), list(choices))})")
        return None

    def _bytes(self, m: dict[str, Any], name: str, where: str) -> bytes | None:
        text = self.b.string(m, name, where, " (write bytes as \\xNN in double quotes)")
        if text is None:
            return None
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            self.b.error(m, name, where, "one byte per character: write bytes above 0xff as "
                                         "\\xNN escapes in double quotes")
            return None
        if len(data) > R.CHECK_PAYLOAD:
            self.b.error(m, name, where, f"{len(data):,} bytes: at most {R.CHECK_PAYLOAD} "
                                         "(one unfragmented packet)")
            return None
        if name == "expect" and not data:
            self.b.error(m, name, where, "must not be empty (leave it out to accept any reply)")
            return None
        return data

    def _argv(self, m: dict[str, Any], where: str) -> tuple[str, ...] | None:
        items = self.b.seq(m, "argv", where)
        if items is None:
            return None
        if not items or len(items) > R.CHECK_ARGV:
            self.b.error(m, "argv", where, f"must list 1..{R.CHECK_ARGV} strings: the program "
                                           "by its absolute path, then its arguments")
            return None
        out: list[str] = []
        for index in range(len(items)):
            at = f"{where}[{index}]"
            text = self.b.string(items, index, at)
            if text is None:
                return None
            if "\0" in text:
                self.b.error(items, index, at, "must not contain a NUL character")
                return None
            if index == 0 and not text.startswith("/"):
                self.b.error(items, index, at, f"'{shown(text)}' is not an absolute path (no "
                                               "shell and no PATH search: name the program "
                                               "by its full path)")
                return None
            out.append(text)
        return tuple(out)


_MISSING = object()
_SCALARS = (str, int, bool, float, type(None))


def _contents(value: Any, above: str | None, where: str) -> tuple[Any, ...] | None:
    """What decides how a `check` mapping reads: its keys and values with their types, the
    type above it and whether it is the defaults' (see `via`); None where that is not plain
    (nested values, integers written another way: their reading depends on their place)."""
    if type(value) is not dict:
        return None
    out: list[Any] = [above, where.startswith("defaults")]
    for name, item in value.items():
        kind_ = type(item)
        if kind_ is list:
            if not all(type(x) in _SCALARS for x in item):
                return None
            item = tuple((type(x), x) for x in item)
        elif kind_ is Odd:
            if item.tag == _TAG_INT:
                return None
        elif kind_ not in _SCALARS:
            return None
        out += (name, kind_, item)
    return tuple(out)


def _a(check_type: str) -> str:
    return f"an {check_type}" if check_type == "exec" else f"a {check_type}"


def _looks_like_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True
