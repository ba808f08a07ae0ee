"""keepalived.conf's keywords and blocks as keepalived 2.2.7's checker process parses them.

The lines come from keepalived_lines (comments, definitions, sequences, includes, braces on
lines of their own); this module is lib/parser.c process_stream: each level of the file knows
its own keywords (the tables below are those keepalived installs, check/check_parser.c and the
checkers). A known keyword with a block opens it on the next '{'; an unknown keyword is
reported and, like keepalived, its '{' is ignored, so what follows is read at the current level
and its '}' closes the enclosing block. Blocks keepalived skips (VRRP in the checker process, a
virtual server whose address it rejects) are skipped by counting braces, as keepalived does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ipvsctl.importers._common import Notes, Place
from ipvsctl.importers.keepalived_lines import Line

WHITE_SPACE = " \t\f\n\r\v"
_TO_SPACE = str.maketrans("\t\f\n\r\v", "     ")
_SPLIT_SPACE = re.compile("[\x1c-\x1f]")  # white space to str.split(), not to keepalived


@dataclass(slots=True)
class Stmt:
    """One keyword line: its words, where it was read and the raw line (for keywords that
    re-read it with quotes and escapes); `block` holds the statements of its { ... }, if any."""

    words: list[str]
    place: Place
    raw: str = ""
    block: list[Stmt] | None = None
    skipped: bool = False  # keepalived skips it (and its block, counting braces)

    @property
    def keyword(self) -> str:
        return self.words[0]

    @property
    def args(self) -> list[str]:
        return self.words[1:]

    @property
    def line(self) -> int:
        return self.place.line


@dataclass(frozen=True, slots=True)
class Level:
    """The keywords one block level knows: each maps to its own level (a block), VALUES (a
    block of plain value lines) or None (no block)."""

    name: str
    keywords: dict[str, Level | str | None] = field(default_factory=dict)
    lenient: bool = False  # any keyword, any block (levels this importer only skims)


VALUES = "values"  # alloc_value_block(): lines of values up to the closing '}'
_UNKNOWN = "unknown"  # not a keyword of the level
SKIP = "skip"  # an inactive keyword: its block is skipped by counting braces


def split_words(text: str) -> list[str]:
    """keepalived's alloc_strvec_r(): words split at white space; a word that starts with '"'
    runs to the next '"' (without the quotes); a word ends at white space or a '"'."""
    if '"' not in text:
        if text.isascii() and _SPLIT_SPACE.search(text) is None:
            return text.split()  # in C; ASCII white space to str.split is WHITE_SPACE + these
        return [w for w in text.translate(_TO_SPACE).split(" ") if w]
    words: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITE_SPACE:
            i += 1
        if i >= n:
            return words
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                return words  # keepalived: "Unmatched quote", the rest of the line is lost
            words.append(text[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < n and text[j] not in WHITE_SPACE and text[j] != '"':
                j += 1
            words.append(text[i:j])
            i = j


def _common(connection: bool) -> dict[str, Level | str | None]:
    keys = ["retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures"]
    if connection:
        keys += ["connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
                 "connect_timeout", "fwmark"]
    return dict.fromkeys(keys)


def _checker(name: str, *extra: str, connection: bool = True,
             sub: dict[str, Level | str | None] | None = None) -> Level:
    return Level(name, {**_common(connection), **dict.fromkeys(extra), **(sub or {})})


URL = Level("url", dict.fromkeys(("path", "digest", "status_code", "virtualhost", "regex",
                                  "regex_no_match", "regex_options", "regex_min_offset",
                                  "regex_max_offset", "regex_stack")))
_HTTP_EXTRA = ("nb_get_retry", "virtualhost", "http_protocol", "enable_sni", "fast_recovery")
CHECKERS: dict[str, Level] = {
    "MISC_CHECK": _checker("MISC_CHECK", "misc_path", "misc_timeout", "misc_dynamic", "user",
                           connection=False),
    "SMTP_CHECK": _checker("SMTP_CHECK", "helo_name"),
    "TCP_CHECK": _checker("TCP_CHECK"),
    "PING_CHECK": _checker("PING_CHECK"),
    "UDP_CHECK": _checker("UDP_CHECK", "payload", "require_reply", "min_reply_length",
                          "max_reply_length"),
    "HTTP_GET": _checker("HTTP_GET", *_HTTP_EXTRA, sub={"url": URL}),
    "SSL_GET": _checker("SSL_GET", *_HTTP_EXTRA, sub={"url": URL}),
    "DNS_CHECK": _checker("DNS_CHECK", "type", "name"),
    "FILE_CHECK": Level("FILE_CHECK", dict.fromkeys(("track_file", "weight"))),
    "BFD_CHECK": Level("BFD_CHECK", dict.fromkeys(("name", "alpha"))),
}
REAL_SERVER = Level("real_server", {
    **dict.fromkeys(("weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure",
                     "notify_up", "notify_down", "alpha", "retry", "delay_before_retry",
                     "warmup", "connect_timeout", "delay_loop", "smtp_alert", "virtualhost",
                     "snmp_name")),
    **CHECKERS,
})
VIRTUAL_SERVER = Level("virtual_server", {
    **dict.fromkeys(("ip_family", "retry", "delay_before_retry", "warmup", "connect_timeout",
                     "delay_loop", "inhibit_on_failure", "lb_algo", "lvs_sched", "hashed", "ops",
                     "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port",
                     "mh-fallback", "lb_kind", "lvs_method", "persistence_engine",
                     "persistence_timeout", "persistence_granularity", "protocol", "ha_suspend",
                     "smtp_alert", "virtualhost", "snmp_name", "alpha", "omega", "quorum_up",
                     "quorum_down", "quorum", "hysteresis", "weight", "sorry_server",
                     "sorry_server_inhibit", "sorry_server_lvs_method")),
    "real_server": REAL_SERVER,
})
ANY = Level("any", lenient=True)
# Top-level keywords of keepalived 2.2.7 (install_keyword_root). The checker process parses
# virtual_server, virtual_server_group, SSL, bfd_instance and track_file; the VRRP ones are
# inactive there (skipped); global_defs is read by the parent process (lvs_timeouts...).
_INACTIVE_ROOTS = ("vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_process",
                   "garp_group", "static_ipaddress", "static_routes", "static_rules",
                   "track_group", "linkbeat_interfaces", "interface_up_down_delays",
                   "child_wait_time", "instance", "linkbeat_use_polling",
                   "namespace_with_ipsets", "net_namespace", "net_namespace_ipvs",
                   "use_pid_dir")
TOP = Level("top", {
    "global_defs": ANY,
    "virtual_server": VIRTUAL_SERVER,
    "virtual_server_group": VALUES,
    "SSL": Level("SSL", dict.fromkeys(("password", "ca", "certificate", "key"))),
    "bfd_instance": ANY,
    "track_file": ANY,
    "vrrp_track_file": ANY,
    **dict.fromkeys(_INACTIVE_ROOTS, SKIP),
})

Skips = Callable[[str, list[str], Place], bool]  # (level name, words, place) -> skip its block


def parse_tree(lines: Iterator[Line], notes: Notes, skips: Skips | None = None) -> list[Stmt]:
    """The file's top-level statements, as keepalived reads them."""
    return _Parser(lines, notes, skips or (lambda *_: False)).level(TOP, need_bob=False,
                                                                      depth=0)


class _Parser:
    def __init__(self, lines: Iterator[Line], notes: Notes, skips: Skips) -> None:
        self.lines = lines
        self.notes = notes
        self.skips = skips
        self.pending: Line | None = None
        self.last = Place(notes.path, 0)

    def _next(self) -> Line | None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            return pending
        line = next(self.lines, None)
        if line is not None:
            self.last = line.place
        return line

    def level(self, level: Level, *, need_bob: bool, depth: int) -> list[Stmt]:
        out: list[Stmt] = []
        keywords = level.keywords
        lines = self.lines
        while True:
            # self._next(), inline: a call per line shows in a large file
            if self.pending is not None:
                line, self.pending = self.pending, None
            else:
                got = next(lines, None)
                if got is None:
                    break
                line = got
                self.last = got.place
            text = line.text
            # a brace stands alone on its line (keepalived_lines): a third of a file's lines
            words = ["{"] if text == "{" else ["}"] if text == "}" else split_words(text)
            if not words:
                continue
            first = words[0]
            if need_bob:
                need_bob = False
                if first == "{":
                    continue
                self.notes.warn(line.place, "missing '{' at the start of a block: keepalived "
                                "reads the lines that follow as the block", kind="missing-brace")
            elif first == "{":
                self.notes.warn(line.place, "unexpected '{' (it follows no keyword that takes "
                                "a block): keepalived ignores it, so what follows is read at "
                                "the same level and the next '}' closes the block around it",
                                kind="unexpected-brace")
                continue
            if first == "}" and depth > 0:
                return out
            sub = keywords.get(first, _UNKNOWN)
            if sub is _UNKNOWN:
                if not level.lenient:
                    self._unknown(line, level, first)
                    continue
                sub = ANY
            stmt = Stmt(words, line.place, text)
            out.append(stmt)
            if sub is None:  # most lines: a keyword and its values
                continue
            if sub is SKIP:
                stmt.skipped = self._skip_block()
            elif isinstance(sub, Level) and self.skips(sub.name, words, line.place):
                self._skip_block()  # keepalived drops it, with or without a block after it
                stmt.skipped = True
            elif sub is VALUES:
                stmt.block = self._values()
            elif isinstance(sub, Level):
                if level.lenient and not self._block_follows():
                    continue
                stmt.block = self.level(sub, need_bob=True, depth=depth + 1)
        if depth > 0:
            self.notes.warn(self.last, "the file ends inside a block (a '}' is missing): "
                            "keepalived reports it and reads the block as closed there",
                            kind="missing-close")
        return out

    def _unknown(self, line: Line, level: Level, word: str) -> None:
        if word.startswith("\ufeff"):
            self.notes.warn(line.place, f"the file starts with a UTF-8 byte-order mark, which "
                            f"keepalived 2.2.7 reads as part of the first keyword "
                            f"('{word[1:]}' becomes unknown): it ignores that line, reads its "
                            "block's lines as top-level ones, and so never programs what it "
                            "defines; nor does this import. Remove the mark (`sed -i "
                            "'1s/^\\xEF\\xBB\\xBF//' FILE`) if that was meant to run",
                            kind="bom")
        elif word == "}":
            self.notes.warn(line.place, "'}' closes no block: keepalived ignores it",
                            kind="extra-brace")
        else:
            where = "top-level" if level.name == "top" else f"{level.name}"
            self.notes.warn(line.place, f"unknown {where} keyword '{word}': keepalived ignores "
                            "it (and a block after it is read as part of the enclosing one)",
                            kind=f"unknown:{level.name}:{word}")

    def _block_follows(self) -> bool:
        line = self._next()
        if line is None:
            return False
        self.pending = line
        return split_words(line.text)[:1] == ["{"]

    def _skip_block(self) -> bool:
        """keepalived's skip_sublevel: if the next line opens a block, skip to its end."""
        line = self._next()
        if line is None:
            return False
        if split_words(line.text)[:1] != ["{"]:
            self.pending = line
            return False
        depth = 1
        while depth and (line := self._next()) is not None:
            for word in split_words(line.text):
                if word == "{":
                    depth += 1
                elif word == "}":
                    depth -= 1
                    if not depth:
                        break
        return True

    def _values(self) -> list[Stmt]:
        """alloc_value_block(): value lines up to the '}' (the first line may be the '{')."""
        out: list[Stmt] = []
        need_bob = True
        while (line := self._next()) is not None:
            words = split_words(line.text)
            if not words:
                continue
            if need_bob:
                need_bob = False
                if words == ["{"]:
                    continue
            if words == ["}"]:
                break
            out.append(Stmt(words, line.place, line.text))
        return out
