"""keepalived's health checkers as ipvsctl checks (the check schema of docs/health.md).

A checker's settings resolve as keepalived resolves them (check/check_data.c, the end of
validate_check_config): the checker's own, else its real server's, else its virtual server's,
else the checker type's default. Then:

- `delay_loop` (60 s) -> `interval`; `connect_timeout` (5 s; MISC_CHECK: `misc_timeout`, else
  the virtual server's delay_loop) -> `timeout`; `retry` (1; MISC_CHECK 0, DNS_CHECK 3) ->
  `fall: retry + 1`; keepalived brings a server back after one good check: `rise: 1`.
- keepalived checks the real server's own address: `via: address`.
- TCP_CHECK -> tcp; HTTP_GET / SSL_GET -> http / https (the first url's path, status_code
  ranges and regex; the virtualhost as `host`; keepalived does not verify certificates);
  UDP_CHECK -> udp (payload, require_reply as `expect`); DNS_CHECK -> dns; MISC_CHECK -> exec
  (misc_path split as keepalived splits it).
- Without a sorry server, keepalived takes every failed real server out, the last one too:
  `min_healthy: 0`. A sorry server becomes `sorry_server`.

A check every real server of a service shares goes on the service, any other on its real
server (`health[service]["check"]`, else `["checks"][str(real server)]`); the dumper writes
them as the cluster file's keys. What a check cannot express (an MD5 digest, a second url,
misc_dynamic weights, retries spaced by delay_before_retry...) is reported, one line per kind.
The result is plain cluster-file data.
"""

from __future__ import annotations

import ipaddress
import operator
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ipvsctl.config.dumper import real_server_fields
from ipvsctl.config.vocabulary import HTTP_PATH_PATTERN
from ipvsctl.importers._common import Notes, Place
from ipvsctl.importers.keepalived_syntax import Stmt
from ipvsctl.importers.keepalived_values import (
    UINT_MAX,
    WHITE,
    arg,
    is_plain,
    read_timer,
    read_unsigned,
    split_quoted_escaped,
)
from ipvsctl.model import RealServer, RealServerKey, RealServerSpec, ServiceKey

# ipvsctl's bounds (ipvsctl/health/spec.py)
CHECK_PAYLOAD = 1400
CHECK_ARGV = 64
INTERVAL = (0.1, 3600.0)
TIMEOUT = (0.05, 600.0)
COUNT = (1, 100)
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "ANY")
# keepalived's DNS_TYPE table (check/check_dns.c)
KEEPALIVED_DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY")
UNTRANSLATABLE = {
    "SMTP_CHECK": "ipvsctl has no SMTP check (a tcp check to port 25 is the closest)",
    "PING_CHECK": "ipvsctl has no ICMP echo check",
    "FILE_CHECK": "ipvsctl has no file-tracking check",
    "BFD_CHECK": "ipvsctl has no BFD check",
}
# keepalived's script PATH when it looks a script up (lib/notify.c)
SCRIPT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(slots=True)
class Timing:
    """The check settings a virtual server, a real server or a checker may carry."""

    delay_loop: float | None = None
    connect_timeout: float | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    inhibit: bool | None = None
    alpha: bool | None = None
    virtualhost: str | None = None


@dataclass(slots=True)
class Pool:
    """A virtual server's pool settings: the defaults its checks inherit, quorum, scripts."""

    timing: Timing = field(default_factory=lambda: Timing(delay_loop=60.0, connect_timeout=5.0,
                                                         inhibit=False, alpha=False))
    quorum: int = 1
    hysteresis: int = 0
    quorum_place: Place | None = None
    scripts: list[tuple[Place, str]] = field(default_factory=list)
    sorry_place: Place | None = None


@dataclass(slots=True)
class Checker:
    kind: str
    place: Place
    target_port: int  # the real server's port as written: keepalived copies it at parse time
    timing: Timing = field(default_factory=Timing)
    port: int | None = None  # connect_port
    own: dict[str, Stmt] = field(default_factory=dict)
    urls: list[dict[str, Stmt]] = field(default_factory=list)
    connection: list[Stmt] = field(default_factory=list)  # connect_ip, bindto, ...


class ParsedRealServer(Protocol):
    place: Place
    port: int
    timing: Timing
    checkers: list[Checker]


def read_timing(notes: Notes, timing: Timing, stmt: Stmt, where: str, *,
                checker: bool = False) -> None:
    """retry, delay_loop, connect_timeout, delay_before_retry, warmup, inhibit_on_failure,
    alpha or virtualhost, read as keepalived reads it at that level."""
    kw, place = stmt.keyword, stmt.place
    if kw == "retry":
        # a virtual or real server's retry is 1.. (strict); a checker's 0.. (lenient)
        value = read_unsigned(arg(stmt), 0 if checker else 1, UINT_MAX, lenient=checker)
        if value is None:
            notes.warn(place, f"retry '{stmt.words[1]}' ({where}) is not a count keepalived "
                       "accepts: it ignores the line", kind="bad-timing")
        else:
            timing.retry = value
    elif kw in ("delay_loop", "connect_timeout", "delay_before_retry", "warmup"):
        low = 1 if kw in ("delay_loop", "connect_timeout") else 0
        high = UINT_MAX if kw == "connect_timeout" else 2**64 - 2
        text = arg(stmt)
        seconds = read_timer(text, low, high)
        if seconds is None:
            notes.warn(place, f"{kw} '{text}' ({where}) is not a time keepalived accepts: it "
                       "ignores the line", kind="bad-timing")
            return
        if not is_plain(text):
            notes.warn(place, f"{kw} '{text}' ({where}): keepalived reads only the number in "
                       f"front of the rest, in seconds: {seconds:g} s; imported so",
                       kind="odd-number")
        setattr(timing, kw, seconds)
    elif kw in ("inhibit_on_failure", "alpha"):
        value = True
        if len(stmt.words) > 1:
            word = stmt.words[1].lower()
            if word not in ("true", "on", "yes", "false", "off", "no"):
                notes.warn(place, f"{kw} '{stmt.words[1]}' ({where}): not true/false: "
                           "keepalived ignores the line", kind="bad-timing")
                return
            value = word in ("true", "on", "yes")
        setattr(timing, "inhibit" if kw == "inhibit_on_failure" else "alpha", value)
    elif kw == "virtualhost":
        if len(stmt.words) < 2:
            notes.warn(place, f"virtualhost without a name ({where}): keepalived ignores the "
                       "line", kind="bad-timing")
        else:
            timing.virtualhost = stmt.words[1]


class CheckTranslator:
    """Turns the checkers of each real server into one check, and a pool's quorum and sorry
    server into min_healthy and sorry_server; `health` collects them per service."""

    def __init__(self, notes: Notes) -> None:
        self.notes = notes
        self.health: dict[ServiceKey, dict[str, Any]] = {}
        self._done: dict[int, dict[str, Any] | None] = {}  # per parsed real server
        # Translations by what they read (see _memo_key), with the warnings they gave, each
        # by its kind, message and line relative to the real server's
        self._memo: dict[tuple[Any, ...], tuple[dict[str, Any] | None,
                                                list[tuple[str, str, int]]]] = {}
        self._warned: list[tuple[str, str, Place]] | None = None  # while translating

    def warn(self, place: Place, kind: str, message: str) -> None:
        if self._warned is not None:
            self._warned.append((kind, message, place))
        self.notes.warn(place, message, kind=kind)

    # -- reading a checker block --------------------------------------------------------------

    def read_checker(self, stmt: Stmt, where: str, target_port: int) -> Checker | None:
        checker = Checker(stmt.keyword, stmt.place, target_port)
        label = f"{stmt.keyword} of {where}"
        for item in stmt.block or []:
            kw = item.keyword
            if kw in ("retry", "delay_before_retry", "warmup", "delay_loop", "alpha",
                      "connect_timeout", "virtualhost"):
                read_timing(self.notes, checker.timing, item, label, checker=True)
            elif kw == "connect_port":
                port = read_unsigned(arg(item), 1, 65535, lenient=True)
                if port is None:
                    self.warn(item.place, "bad-check", f"connect_port '{item.words[1]}' "
                              f"({label}): keepalived ignores the line")
                else:
                    checker.port = port
            elif kw in ("connect_ip", "bindto", "bind_port", "bind_if", "fwmark"):
                arg(item)
                checker.connection.append(item)
            elif kw == "url":
                url = {sub.keyword: sub for sub in item.block or []}
                if "path" not in url:
                    self.warn(item.place, "url-no-path", f"url without a path ({label}): "
                              "keepalived ignores it")
                else:
                    checker.urls.append(url)
            elif kw == "nb_get_retry":
                value = read_unsigned(arg(item), 0, UINT_MAX, lenient=True)
                if value is not None:
                    checker.timing.retry = value
            else:
                checker.own[kw] = item
        if checker.kind in ("HTTP_GET", "SSL_GET") and not checker.urls:
            self.warn(stmt.place, "check-dropped", f"{label} has no url with a path: keepalived "
                      "drops the checker, so the server is never checked; no check imported")
            return None
        if checker.kind == "MISC_CHECK" and "misc_path" not in checker.own:
            self.warn(stmt.place, "check-dropped", f"{label} has no misc_path: keepalived drops "
                      "the checker; no check imported")
            return None
        return checker

    def untranslated(self, kw: str, place: Place, where: str) -> None:
        reasons = {
            "ha_suspend": "ipvsctl checks every real server whether or not the director holds "
                          "the VIP",
            "smtp_alert": "ipvsctl sends no mail; it logs every health change as one line",
            "snmp_name": "ipvsctl has no SNMP agent (see its metrics)",
            "omega": "quorum_down scripts are not run",
            "sorry_server_inhibit": "ipvsctl pools the sorry server only while no real server "
                                    "is healthy",
        }
        self.warn(place, f"untranslated:{kw}", f"{kw} ({where}) is not translated: "
                  + reasons.get(kw, "no ipvsctl equivalent"))

    # -- a service's health ---------------------------------------------------------------------

    def service(self, key: ServiceKey, servers: Sequence[tuple[ParsedRealServer, RealServerKey,
                                                               RealServerSpec]],
                pool: Pool, sorry: RealServer | None, label: str, place: Place) -> None:
        checks: dict[str, dict[str, Any]] = {}
        for rs, rs_key, spec in servers:
            check = self._check(rs, rs_key, spec, pool, label)
            if check is not None:
                checks[str(rs_key)] = check
        health: dict[str, Any] = {}
        shared = next(iter(checks.values()), None)
        if len(checks) == len(servers) and all(c == shared for c in checks.values()):
            health["check"] = shared  # every real server's: said once, on the service
        elif checks:
            health["checks"] = checks
        if sorry is not None:
            health["sorry_server"] = real_server_fields(sorry, key)
            self._quorum(pool, [spec.weight for _, _, spec in servers], place)
        elif checks:
            # keepalived takes every failed real server out, the last one too (a quorum
            # without a sorry server only decides when its scripts run, warned below)
            health["min_healthy"] = 0
        for script_place, kw in pool.scripts:
            self.warn(script_place, f"script:{kw}", f"{kw} is not translated: ipvsctl runs no "
                      "notification scripts; it logs every health change as one line (and "
                      "exports it as a metric)")
        if health:
            self.health[key] = health

    def _quorum(self, pool: Pool, weights: list[int], place: Place) -> None:
        total = sum(weights)
        quorum = min(pool.quorum, total) if total else pool.quorum
        hysteresis = min(pool.hysteresis, max(quorum - 1, 0))
        smallest = min((w for w in weights if w), default=0)
        if smallest and quorum + hysteresis <= smallest:
            return  # any one healthy server keeps quorum: exactly ipvsctl's sorry-server rule
        self.warn(pool.quorum_place or place, "quorum", f"quorum {quorum} (hysteresis "
                  f"{hysteresis}) counts weight: keepalived switches to the sorry server when "
                  f"the healthy real servers weigh less than {quorum - hysteresis}, and back at "
                  f"{quorum + hysteresis}; ipvsctl pools the sorry server only while no real "
                  "server is healthy")

    def _check(self, rs: ParsedRealServer, rs_key: RealServerKey, spec: RealServerSpec,
               pool: Pool, label: str) -> dict[str, Any] | None:
        if id(rs) not in self._done:
            self._done[id(rs)] = self._translate(rs, rs_key, spec, pool)
        check = self._done[id(rs)]
        return None if check is None else dict(check)

    def _translate(self, rs: ParsedRealServer, rs_key: RealServerKey, spec: RealServerSpec,
                   pool: Pool) -> dict[str, Any] | None:
        """The check of one real server. A large file repeats a few checker blocks thousands
        of times: a real server whose checkers, settings and lines (relative to its own) equal
        one translated before gets that check, and the warnings that one gave, at its own
        lines (only the first message of a kind is shown; the others add their places)."""
        key = _memo_key(rs, rs_key, pool)
        if key is None:
            return self._translated(rs, rs_key, spec, pool)
        base = rs.place
        hit = self._memo.get(key)
        if hit is not None:
            check, warned = hit
            for kind, message, delta in warned:
                self.notes.warn(_new_place(Place, (base.file, base.line + delta)), message,
                                kind=kind)
            return check
        self._warned = []
        try:
            check = self._translated(rs, rs_key, spec, pool)
        finally:
            warned_here, self._warned = self._warned, None
        if all(place.file == base.file for _, _, place in warned_here):
            self._memo[key] = (check, [(kind, message, place.line - base.line)
                                       for kind, message, place in warned_here])
        return check

    def _translated(self, rs: ParsedRealServer, rs_key: RealServerKey, spec: RealServerSpec,
                    pool: Pool) -> dict[str, Any] | None:
        where = f"real server {rs_key}"
        usable: list[Checker] = []
        for checker in rs.checkers:
            if checker.kind in UNTRANSLATABLE:
                self.warn(checker.place, f"untranslatable:{checker.kind}", f"{checker.kind} "
                          f"({where}) is not translated: {UNTRANSLATABLE[checker.kind]}")
            else:
                usable.append(checker)
        if not usable:
            return None
        first, *others = usable
        for other in others:
            self.warn(other.place, "second-checker", f"{other.kind} ({where}) is not "
                      f"translated: ipvsctl runs one check per real server, here "
                      f"{first.kind} (line {first.place.line}); keepalived needs all of them "
                      "to pass")
        check = self._common(first, rs, rs_key, pool)
        if check is None:
            return None
        body = getattr(self, f"_{first.kind.lower()}")(first, rs, pool, where)
        if body is None:
            return None
        check = {"type": body.pop("type"), **check, **body}
        self._notes(first, rs, spec, pool, where)
        return check

    def _resolved(self, name: str, checker: Checker, rs: ParsedRealServer, pool: Pool) -> Any:
        for timing in (checker.timing, rs.timing, pool.timing):
            value = getattr(timing, name)
            if value is not None:
                return value
        return None

    def _common(self, checker: Checker, rs: ParsedRealServer, rs_key: RealServerKey,
                pool: Pool) -> dict[str, Any] | None:
        where = f"{checker.kind} of real server {rs_key}"
        interval: float = self._resolved("delay_loop", checker, rs, pool)
        timeout: float | None
        if checker.kind == "MISC_CHECK":
            timeout = None
            if "misc_timeout" in checker.own:
                seconds = read_unsigned(arg(checker.own["misc_timeout"]), 0,
                                        UINT_MAX // 1_000_000, lenient=True)
                timeout = float(seconds) if seconds else None
            if timeout is None:  # keepalived: the virtual server's delay_loop
                timeout = pool.timing.delay_loop or interval
        else:
            timeout = self._resolved("connect_timeout", checker, rs, pool)
        retry = self._resolved("retry", checker, rs, pool)
        if retry is None:
            retry = {"MISC_CHECK": 0, "DNS_CHECK": 3}.get(checker.kind, 1)
        check: dict[str, Any] = {
            "interval": self._bounded(interval, INTERVAL, "interval (delay_loop)", checker,
                                      where),
            "timeout": 0.0, "rise": 1,
            "fall": self._bounded(retry + 1, COUNT, "fall (retry + 1)", checker, where),
        }
        timeout = self._bounded(timeout or 5.0, TIMEOUT, "timeout (connect_timeout)", checker,
                                where)
        if timeout > check["interval"]:
            self.warn(checker.place, "timeout-over-interval", f"{where}: the timeout "
                      f"{timeout:g} s is longer than the interval {check['interval']:g} s; "
                      "keepalived waits for a check before it starts the next one, ipvsctl "
                      "keeps to the interval and needs timeout <= interval: timeout set to "
                      "the interval")
            timeout = check["interval"]
        check["timeout"] = timeout
        if checker.kind != "MISC_CHECK":
            check["via"] = "address"
            port = checker.port if checker.port is not None else checker.target_port
            if not port:
                self.warn(checker.place, "check-port-0", f"{where}: neither the real_server "
                          "line nor connect_port gives a port, so keepalived's check goes to "
                          "port 0 and always fails (the server stays out of its pool); no "
                          "check imported, the server keeps its weight: give the check a port")
                return None
            if port != rs_key.port:
                check["port"] = port
        for item in checker.connection:
            self.warn(item.place, f"connection:{item.keyword}", f"{item.keyword} ({where}) is "
                      "not translated: ipvsctl checks the real server's own address (or the "
                      "VIP, via: vip) from the director's own address")
        return check

    def _bounded(self, value: float, bounds: tuple[float, float], what: str,
                 checker: Checker, where: str) -> Any:
        lo, hi = bounds
        if lo <= value <= hi:
            return value if isinstance(value, int) or value != int(value) else int(value)
        bounded = min(max(value, lo), hi)
        self.warn(checker.place, f"bounds:{what}", f"{where}: {what} {value:g} is outside "
                  f"ipvsctl's {lo:g}..{hi:g}; imported as {bounded:g}")
        return bounded if bounded != int(bounded) else int(bounded)

    def _notes(self, checker: Checker, rs: ParsedRealServer, spec: RealServerSpec, pool: Pool,
               where: str) -> None:
        """What keepalived does around a check that ipvsctl does its own way."""
        inhibit = self._resolved("inhibit", checker, rs, pool)
        if not inhibit:
            self.warn(rs.place, "no-inhibit", "without inhibit_on_failure keepalived deletes a "
                      "failed real server from IPVS; ipvsctl sets it to weight 0 instead, as "
                      "inhibit_on_failure does (it drains: its connections carry on)")
        if self._resolved("alpha", checker, rs, pool):
            self.warn(checker.place, "alpha", "alpha: keepalived starts the server out of the "
                      "pool until its first check passes; ipvsctl keeps the weight the kernel "
                      "has until the first verdict (a server new to the kernel waits at 0)")
        retry = self._resolved("retry", checker, rs, pool)
        interval = self._resolved("delay_loop", checker, rs, pool)
        spacing = self._resolved("delay_before_retry", checker, rs, pool)
        if spacing is None:
            spacing = {"HTTP_GET": 3.0, "SSL_GET": 3.0}.get(checker.kind, 1.0)
            if checker.kind == "DNS_CHECK":
                spacing = interval
        if retry is None:
            retry = {"MISC_CHECK": 0, "DNS_CHECK": 3}.get(checker.kind, 1)
        if retry and spacing != interval:
            self.warn(checker.place, "retry-spacing", f"{where}: keepalived retries a failed "
                      f"check {retry} time(s) {spacing:g} s apart (delay_before_retry) before "
                      f"it takes the server out, about {retry * spacing:g} s after the first "
                      f"failure; ipvsctl's checks all come every interval ({interval:g} s), so "
                      f"`fall: {retry + 1}` takes about {retry * interval:g} s: lower the "
                      "interval or fall for faster detection")
        warmup = self._resolved("warmup", checker, rs, pool)
        if warmup is not None and warmup != interval:
            self.warn(checker.place, "warmup", f"warmup {warmup:g} ({where}) is not translated: "
                      "ipvsctl starts each check at a random point of its first interval")

    # -- one function per checker type --------------------------------------------------------

    def _tcp_check(self, checker: Checker, rs: ParsedRealServer, pool: Pool,
                   where: str) -> dict[str, Any]:
        return {"type": "tcp"}

    def _http_get(self, checker: Checker, rs: ParsedRealServer, pool: Pool, where: str,
                  tls: bool = False) -> dict[str, Any] | None:
        label = f"{checker.kind} of {where}"
        url, *more = checker.urls
        out: dict[str, Any] = {"type": "https" if tls else "http"}
        path = url["path"].words[1] if len(url["path"].words) > 1 else ""
        if not path:
            self.warn(url["path"].place, "url-no-path", f"url path missing ({label}): "
                      "keepalived ignores the url")
            return None
        if not _PATH.match(path):
            self.warn(url["path"].place, "http-path", f"url path '{path}' ({label}) is not a "
                      "path ipvsctl's http check sends (it starts with '/', printable ASCII "
                      "without spaces: percent-encode the rest): no check imported")
            return None
        if path != "/":
            out["path"] = path
        status = self._status(url.get("status_code"), label)
        if status is not None:
            out["status"] = status
        if "digest" in url:
            self.warn(url["digest"].place, "http-digest", f"digest ({label}) is not "
                      "translated: ipvsctl's http check compares the status (and a body "
                      "pattern), not an MD5 of the body; checked by status only")
        if "regex" in url:
            pattern = split_quoted_escaped(url["regex"].raw.split(None, 1)[1]
                                           if len(url["regex"].raw.split(None, 1)) > 1 else "")
            if "regex_no_match" in url:
                self.warn(url["regex"].place, "http-regex-no-match", f"regex_no_match "
                          f"({label}) is not translated: ipvsctl's body pattern must match; "
                          "checked by status only")
            elif pattern and len(pattern) == 1:
                if _compiles(pattern[0]):
                    out["body"] = pattern[0]
                else:
                    self.warn(url["regex"].place, "http-regex", f"regex ({label}) is not a "
                              f"regular expression Python reads (keepalived's is PCRE2), or "
                              f"longer than {MAX_PATTERN} characters: checked by status only")
                extras = [k for k in ("regex_options", "regex_min_offset", "regex_max_offset")
                          if k in url]
                if extras:
                    self.warn(url["regex"].place, "http-regex-options", f"{', '.join(extras)} "
                              f"({label}) not translated: ipvsctl searches the body's first "
                              "64 KiB with Python's re")
        host = (url["virtualhost"].words[1] if "virtualhost" in url and
                len(url["virtualhost"].words) > 1 else None)
        host = host or self._resolved("virtualhost", checker, rs, pool)
        if host:
            if not _HOST.match(host):
                self.warn(checker.place, "http-host", f"virtualhost '{host}' ({label}) is not "
                          "one Host header value ipvsctl sends (printable ASCII without "
                          "spaces): no check imported")
                return None
            out["host"] = host
        if tls:
            sni = checker.own.get("enable_sni")
            if sni is not None and host and (len(sni.words) < 2 or sni.words[1].lower() in
                                             ("true", "on", "yes")):
                if _is_dns_name(host):
                    out["sni"] = host
                else:
                    self.warn(sni.place, "https-sni", f"enable_sni ({label}) with the "
                              f"virtualhost '{host}', not a DNS name: ipvsctl sends no server "
                              "name then (RFC 6066 allows only names); keepalived sends it")
            out["verify"] = False
        for extra in more:
            self.warn(extra["path"].place, "http-more-urls", f"url {extra['path'].words[1:2]} "
                      f"({label}) is not translated: ipvsctl's http check fetches one path "
                      "(the first url); keepalived needs every url to pass")
        if "fast_recovery" in checker.own:
            self.warn(checker.own["fast_recovery"].place, "http-fast-recovery", "fast_recovery "
                      "is not translated: ipvsctl brings a server back after `rise` good checks")
        return out

    def _ssl_get(self, checker: Checker, rs: ParsedRealServer, pool: Pool,
                 where: str) -> dict[str, Any] | None:
        return self._http_get(checker, rs, pool, where, tls=True)

    def _status(self, stmt: Stmt | None, label: str) -> list[Any] | None:
        """status_code ranges ("200", "200-299"); None for keepalived's default 200-299."""
        if stmt is None:
            return None
        codes: list[Any] = []
        for word in stmt.args:
            lo_text, _, hi_text = word.partition("-")
            try:
                lo = int(lo_text)
                hi = int(hi_text) if hi_text else lo
            except ValueError:
                lo = hi = 0
            if not 100 <= lo <= hi <= 599:
                self.warn(stmt.place, "http-status", f"status_code '{word}' ({label}): "
                          "keepalived ignores it")
                continue
            codes.append(lo if lo == hi else f"{lo}-{hi}")
        if not codes or codes == ["200-299"]:
            return None
        return codes

    def _udp_check(self, checker: Checker, rs: ParsedRealServer, pool: Pool,
                   where: str) -> dict[str, Any] | None:
        label = f"UDP_CHECK of {where}"
        out: dict[str, Any] = {"type": "udp"}
        payload = checker.own.get("payload")
        if payload is not None:
            data, masked = _hex(" ".join(payload.args))
            if data is None or masked:
                self.warn(payload.place, "udp-payload", f"payload ({label}) is not a hex "
                          "string: keepalived sends nothing")
            elif len(data) > CHECK_PAYLOAD:
                self._too_big(payload, "payload", len(data), label)
                return None
            else:
                out["payload"] = data.decode("latin-1")  # one character per byte
        reply = checker.own.get("require_reply")
        if reply is None:
            self.warn(checker.place, "udp-no-reply", f"{label}: without require_reply "
                      "keepalived counts a server up unless it answers ICMP port unreachable; "
                      "ipvsctl's udp check needs a reply, so a server that does not answer "
                      "the payload is marked down: give it a payload the service answers")
            return out
        if reply.args:
            data, masked = _hex(" ".join(reply.args))
            if data is None:
                self.warn(reply.place, "udp-reply", f"require_reply ({label}) is not a hex "
                          "string: keepalived ignores the expected bytes")
            elif masked:
                self.warn(reply.place, "udp-reply", f"require_reply ({label}) has wildcards "
                          "(x): not translated; any reply counts")
            elif len(data) > CHECK_PAYLOAD:
                self._too_big(reply, "require_reply", len(data), label)
                return None
            else:
                out["expect"] = data.decode("latin-1")
        for kw in ("min_reply_length", "max_reply_length"):
            if kw in checker.own:
                self.warn(checker.own[kw].place, "udp-length", f"{kw} ({label}) is not "
                          "translated: ipvsctl's udp check has no length bounds")
        return out

    def _too_big(self, stmt: Stmt, what: str, size: int, label: str) -> None:
        self.warn(stmt.place, "udp-size", f"{what} ({label}): {size:,} bytes, more than "
                  f"ipvsctl's {CHECK_PAYLOAD} (one unfragmented packet): no check imported")

    def _dns_check(self, checker: Checker, rs: ParsedRealServer, pool: Pool,
                   where: str) -> dict[str, Any] | None:
        out: dict[str, Any] = {"type": "dns"}
        qtype = checker.own.get("type")
        if qtype is not None:
            name = arg(qtype).upper()
            if name not in KEEPALIVED_DNS_TYPES:
                self.warn(qtype.place, "dns-type", f"DNS_CHECK type '{qtype.words[1]}' "
                          f"({where}): keepalived ignores it and asks for SOA")
            elif name not in DNS_TYPES:
                self.warn(qtype.place, "dns-type", f"DNS_CHECK type {name} ({where}) is not "
                          "one ipvsctl asks; imported as SOA (keepalived only looks at the "
                          "reply's rcode either way)")
            elif name != "SOA":
                out["query_type"] = name
        query = checker.own.get("name")
        if query is not None and len(query.words) > 1 and query.words[1] not in ("", "."):
            if not _is_dns_name(query.words[1]):
                self.warn(query.place, "dns-name", f"DNS_CHECK name '{query.words[1]}' "
                          f"({where}) is not a DNS name ipvsctl asks for: no check imported")
                return None
            out["name"] = query.words[1]
        return out

    def _misc_check(self, checker: Checker, rs: ParsedRealServer, pool: Pool,
                    where: str) -> dict[str, Any] | None:
        label = f"MISC_CHECK of {where}"
        stmt = checker.own["misc_path"]
        words = split_quoted_escaped(stmt.raw) or []
        argv = split_quoted_escaped(words[1]) if len(words) > 1 else None
        if not argv:
            self.warn(stmt.place, "misc-path", f"misc_path ({label}) cannot be split as "
                      "keepalived splits it (an open quote?): keepalived drops the checker; no "
                      "check imported")
            return None
        if len(stmt.words) > 2 and len(words) > 2:
            self.warn(stmt.place, "misc-unquoted", f"misc_path ({label}): keepalived takes only "
                      f"the first word, {words[1]!r}, as the command line; the rest is lost "
                      "(quote the whole command to pass arguments); imported as keepalived "
                      "runs it")
        if "misc_dynamic" in checker.own:
            self.warn(checker.own["misc_dynamic"].place, "misc-dynamic", f"misc_dynamic "
                      f"({label}) is not translated: keepalived reads exit codes 2..255 as "
                      "'up with weight code-2', ipvsctl any non-zero exit as down, so the "
                      "check would take up servers out; no check imported")
            return None
        if "user" in checker.own:
            self.warn(checker.own["user"].place, "misc-user", f"user ({label}) is not "
                      "translated: ipvsctl runs exec checks as the user it runs as")
        program = argv[0]
        if not program.startswith("/"):
            found = next((f"{d}/{program}" for d in SCRIPT_PATH
                          if "/" not in program and os.access(f"{d}/{program}", os.X_OK)), None)
            if found is None:
                self.warn(stmt.place, "misc-relative", f"misc_path {program!r} ({label}) is "
                          "not an absolute path and not found in keepalived's script PATH on "
                          "this host; ipvsctl runs exec checks by absolute path only: no check "
                          "imported, write the full path")
                return None
            self.warn(stmt.place, "misc-relative", f"misc_path {program!r} ({label}) found as "
                      f"{found} on this host (keepalived looks it up in its PATH); imported "
                      "so: check it is the same on the director")
            argv = [found, *argv[1:]]
        if len(argv) > CHECK_ARGV:
            self.warn(stmt.place, "misc-argv", f"misc_path ({label}) has {len(argv)} words, "
                      f"more than ipvsctl's {CHECK_ARGV}: no check imported")
            return None
        return {"type": "exec", "argv": argv}


_new_place = tuple.__new__
_timing = operator.attrgetter(*Timing.__slots__)


def _memo_key(rs: ParsedRealServer, rs_key: RealServerKey, pool: Pool
              ) -> tuple[Any, ...] | None:
    """Everything the translation of `rs` reads but its places and names (which only the
    messages hold), with each statement's line relative to the real server's; None if a
    statement is in another file (an include) or has a block of its own."""
    base = rs.place
    parts: list[Any] = [rs_key.port, _timing(rs.timing), _timing(pool.timing)]
    for checker in rs.checkers:
        if checker.place.file != base.file:
            return None
        statements = [*checker.own.values(), *checker.connection,
                      *(stmt for url in checker.urls for stmt in url.values())]
        for stmt in statements:
            if stmt.place.file != base.file or stmt.block is not None:
                return None
        parts.append((checker.kind, checker.place.line - base.line, checker.target_port,
                      checker.port, _timing(checker.timing), len(checker.own),
                      len(checker.connection), tuple(len(url) for url in checker.urls),
                      tuple((tuple(stmt.words), stmt.raw, stmt.place.line - base.line)
                            for stmt in statements)))
    return tuple(parts)


_PATH = re.compile(HTTP_PATH_PATTERN)
_HOST = re.compile(r"[\x21-\x7e]{1,255}$")  # as the loader reads `host` (config/checks.py)
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
MAX_PATTERN = 1024


def _compiles(pattern: str) -> bool:
    if len(pattern) > MAX_PATTERN:
        return False
    try:
        re.compile(pattern.encode("utf-8"))
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def _is_dns_name(text: str) -> bool:
    """A name the loader takes as `sni`: labels, not an IP address."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        bare = text[:-1] if text.endswith(".") else text
        return 0 < len(bare) <= 253 and all(_LABEL.match(x) for x in bare.split("."))
    return False


def _hex(text: str) -> tuple[bytes | None, bool]:
    """keepalived's read_hex_str(): hex digits (blanks between octets allowed), 'x' a
    wildcard nibble; (bytes, has wildcards), None if not a hex string."""
    out = bytearray()
    masked = False
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITE:
            i += 1
        if i >= n:
            break
        pair = ""
        while i < n and len(pair) < 2 and text[i] not in " ":
            pair += text[i]
            i += 1
        if any(c not in "0123456789abcdefABCDEFxX" for c in pair):
            return None, False
        masked = masked or any(c in "xX" for c in pair)
        out.append(int(pair.replace("x", "0").replace("X", "0"), 16))
    return (bytes(out), masked) if out else (None, False)
