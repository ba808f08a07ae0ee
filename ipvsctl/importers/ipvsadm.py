"""Import an `ipvsadm -S` / `ipvsadm -Sn` save file (or a hand-written restore script).

The semantics follow ipvsadm 1.31 (its parse_options / process_options / print_service_entry):
a missing -s means wlc, a bare -p means 300 s, -M is a dotted mask for IPv4 and a prefix
length for IPv6, a real server without a port takes the service's port, and DR / tunnel real
servers always use the service's port. `ipvsadm -S` never prints thresholds (-x/-y), so they
are only known when a hand-written script sets them.

Lines are split with shlex (a save file has no quotes, but a script might), then walked by a
small option table shaped like ipvsadm's popt table, so every message can name its line.

A restore script is read as the shell would run its ipvsadm commands: `sudo`, `env`, `exec`
and the like in front are dropped, ipvsadm may be named by any path, `;`, `&&` and `||`
separate commands, `NAME=value` assignments are substituted where `$NAME` / `${NAME}` is used
later, and commands that only read the table (-L, -S, -h...) are skipped, each kind reported
once with its places. Input that mentions ipvsadm but yields no service is an error, never an
empty file.
"""

from __future__ import annotations

import difflib
import functools
import re
import shlex
import socket
from dataclasses import dataclass

from ipvsctl.config.vocabulary import (
    FWMARK,
    GENERIC_FLAGS,
    PERSISTENCE_ENGINES,
    PERSISTENCE_TIMEOUT,
    PORT,
    PREFIX_V6,
    SCHEDULER_FLAG_BITS,
    SCHEDULERS,
    TIMEOUT,
    TUNNEL_PORT,
    TUNNEL_TYPES,
    WEIGHT,
    scheduler_flag,
)
from ipvsctl.importers._common import (
    ImportResult,
    LineError,
    Notes,
    checked_text,
    parse_ip,
    prefix_of_netmask,
    small_int,
    zone_index,
)
from ipvsctl.model import (
    DEFAULT_PERSISTENCE_TIMEOUT,
    Cluster,
    Director,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Service,
    ServiceKey,
    ServiceSpec,
    Timeouts,
    Tunnel,
)

NONE, REQUIRED, OPTIONAL = 0, 1, 2
# long name -> (short letters, argument). Every option ipvsadm 1.31 knows, so that a valid
# ipvsadm line never fails here as "unknown option".
_OPTIONS: dict[str, tuple[str, int]] = {
    "add-service": ("A", NONE), "edit-service": ("E", NONE), "delete-service": ("D", NONE),
    "clear": ("C", NONE), "list": ("Ll", NONE), "zero": ("Z", NONE),
    "add-server": ("a", NONE), "edit-server": ("e", NONE), "delete-server": ("d", NONE),
    "set": ("", NONE), "help": ("h", NONE), "version": ("v", NONE), "restore": ("R", NONE),
    "save": ("S", NONE), "start-daemon": ("", REQUIRED), "stop-daemon": ("", REQUIRED),
    "tcp-service": ("t", REQUIRED), "udp-service": ("u", REQUIRED),
    "sctp-service": ("", REQUIRED), "fwmark-service": ("f", REQUIRED),
    "scheduler": ("s", REQUIRED), "persistent": ("p", OPTIONAL), "netmask": ("M", REQUIRED),
    "real-server": ("r", REQUIRED), "masquerading": ("m", NONE), "ipip": ("i", NONE),
    "gatewaying": ("g", NONE), "weight": ("w", REQUIRED), "u-threshold": ("x", REQUIRED),
    "l-threshold": ("y", REQUIRED), "numeric": ("n", NONE), "connection": ("c", NONE),
    "mcast-interface": ("", REQUIRED), "syncid": ("", REQUIRED), "timeout": ("", NONE),
    "daemon": ("", NONE), "stats": ("", NONE), "rate": ("", NONE), "thresholds": ("", NONE),
    "persistent-conn": ("", NONE), "nosort": ("", NONE), "sort": ("", NONE),
    "exact": ("X", NONE), "ipv6": ("6", NONE), "ops": ("o", NONE), "pe": ("", REQUIRED),
    "sched-flags": ("b", REQUIRED), "mcast-group": ("", REQUIRED), "mcast-port": ("", REQUIRED),
    "mcast-ttl": ("", REQUIRED), "sync-maxlen": ("", REQUIRED), "tun-info": ("", NONE),
    "tun-type": ("", REQUIRED), "tun-port": ("", REQUIRED), "tun-nocsum": ("", NONE),
    "tun-csum": ("", NONE), "tun-remcsum": ("", NONE),
}  # fmt: skip
_SHORT = {letter: name for name, (letters, _) in _OPTIONS.items() for letter in letters}
COMMANDS = ("add-service", "edit-service", "delete-service", "clear", "list", "zero",
            "add-server", "edit-server", "delete-server", "set", "help", "version", "restore",
            "save", "start-daemon", "stop-daemon")
_SERVICE_OPTS = ("tcp-service", "udp-service", "sctp-service", "fwmark-service")
_PROTOCOL_OF = {"tcp-service": "tcp", "udp-service": "udp", "sctp-service": "sctp"}
_FORWARD_OF = {"gatewaying": "dr", "ipip": "tunnel", "masquerading": "nat"}
_TUNNEL_OPTS = ("tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum")
_SERVICE_SETTINGS = ("scheduler", "persistent", "netmask", "pe", "ops", "sched-flags")
_SERVER_SETTINGS = ("real-server", *_FORWARD_OF, "weight", "u-threshold", "l-threshold",
                    *_TUNNEL_OPTS)
_ALLOWED = {
    "add-service": (*_SERVICE_OPTS, "ipv6", *_SERVICE_SETTINGS),
    "edit-service": (*_SERVICE_OPTS, "ipv6", *_SERVICE_SETTINGS),
    "delete-service": (*_SERVICE_OPTS, "ipv6"),
    "add-server": (*_SERVICE_OPTS, "ipv6", *_SERVER_SETTINGS),
    "edit-server": (*_SERVICE_OPTS, "ipv6", *_SERVER_SETTINGS),
    "delete-server": (*_SERVICE_OPTS, "ipv6", "real-server"),
}
DEFAULT_SCHEDULER = "wlc"  # ipvsadm's DEF_SCHED, not ipvsctl's default
SET_TIMEOUT = (0, TIMEOUT[1])  # --set: 0 leaves a timeout unchanged
THRESHOLD = (0, 2**31 - 1)  # ipvsadm reads -x and -y as an int
# Every -b flag ipvsadm knows, by its bit number 1..3.
_FLAG_NUMBER = {**{name: n for n, name in enumerate(GENERIC_FLAGS, 1)},
                **{name: n for name, (_, n) in SCHEDULER_FLAG_BITS.items()}}
_CSUM_OF = {"tun-nocsum": "nocsum", "tun-csum": "csum", "tun-remcsum": "remcsum"}
_LISTING = ("list", "save", "help", "version")
# Commands that run the command after them (and the options of theirs that take a value).
_WRAPPERS: dict[str, tuple[str, ...]] = {
    "sudo": ("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R"),
    "doas": ("-u", "-C"), "env": ("-u", "-C", "-S"), "command": (), "exec": (), "nohup": (),
    "nice": ("-n",), "time": (), "builtin": (),
}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])")
_SEPARATORS = (";", "&&", "||", "&", "|")
# ipvsadm's tunnel_types_v_options: which checksum options each tunnel type accepts.
_TUNNEL_CSUMS = {"ipip": (), "gue": ("nocsum", "csum", "remcsum"), "gre": ("nocsum", "csum")}


@dataclass(slots=True)
class _Opt:
    name: str  # long name
    value: str | None
    shown: str  # as written, for messages: "-w" or "--weight"


def parse(text: str, path: str = "<ipvsadm>") -> ImportResult:
    """Translate ipvsadm save/restore text into a Cluster; raises ConfigError on bad lines."""
    return _Importer(path).run(checked_text(text, path))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash-continued lines joined, as a shell would."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        out.append((start, " ".join(pending)))
        pending = []
    if pending:
        out.append((start, " ".join(pending)))
    return out


def _walk(tokens: list[str]) -> tuple[list[_Opt], list[str]]:
    """Options (long names) and plain arguments, the way popt reads them."""
    opts: list[_Opt] = []
    args: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            if name not in _OPTIONS:
                raise LineError(f"unknown option '--{name}'{_hint(name)}")
            kind = _OPTIONS[name][1]
            if eq:
                if kind == NONE:
                    raise LineError(f"option '--{name}' takes no value")
                opts.append(_Opt(name, value, f"--{name}"))
                continue
            if kind == REQUIRED:
                if i >= len(tokens):
                    raise LineError(f"option '--{name}' needs a value")
                opts.append(_Opt(name, tokens[i], f"--{name}"))
                i += 1
            elif kind == OPTIONAL and i < len(tokens) and not tokens[i].startswith("-"):
                opts.append(_Opt(name, tokens[i], f"--{name}"))
                i += 1
            else:
                opts.append(_Opt(name, None, f"--{name}"))
        elif tok.startswith("-") and len(tok) > 1:
            letters = tok[1:]
            for pos, letter in enumerate(letters):
                name = _SHORT.get(letter, "")
                if not name:
                    raise LineError(f"unknown option '-{letter}'")
                kind = _OPTIONS[name][1]
                rest = letters[pos + 1:]
                if kind == NONE:
                    opts.append(_Opt(name, None, f"-{letter}"))
                    continue
                if rest:
                    opts.append(_Opt(name, rest, f"-{letter}"))
                elif kind == REQUIRED:
                    if i >= len(tokens):
                        raise LineError(f"option '-{letter}' needs a value")
                    opts.append(_Opt(name, tokens[i], f"-{letter}"))
                    i += 1
                elif i < len(tokens) and not tokens[i].startswith("-"):
                    opts.append(_Opt(name, tokens[i], f"-{letter}"))
                    i += 1
                else:
                    opts.append(_Opt(name, None, f"-{letter}"))
                break
        else:
            args.append(tok)
    return opts, args


def _shell_words(line: str) -> list[str]:
    """The words of a shell line, `;`, `&&`, `||`, `|`, `&`, `<` and `>` as words of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _hint(name: str) -> str:
    close = difflib.get_close_matches(name, list(_OPTIONS), n=1, cutoff=0.6)
    return f" (did you mean '--{close[0]}'?)" if close else ""


def _number(text: str | None, lo: int, hi: int, what: str) -> int:
    value = small_int(text or "")
    if value is None or not lo <= value <= hi:
        raise LineError(f"{what} '{text}' must be an integer {lo}..{hi}")
    return value


@functools.lru_cache(maxsize=65536)  # a save file names each VIP on every one of its lines
def _endpoint(text: str, protocol: str, what: str) -> tuple[str, int | None]:
    """ADDRESS, ADDRESS:PORT or [IPV6]:PORT, port names resolved like ipvsadm does."""
    port_text: str | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise LineError(f"illegal {what} address '{text}' (write [IPV6]:PORT)")
        port_text = rest[1:]
    elif parse_ip(text) is not None or ":" not in text:
        host = text
    else:
        host, _, port_text = text.rpartition(":")
    if zoned := zone_index(host):
        raise LineError(f"{what} {zoned}")
    ip = parse_ip(host)
    if ip is None:
        raise LineError(f"{what} '{host}' is a host name, not an address: ipvsctl does not "
                         "resolve names; save the table with `ipvsadm -Sn` (numeric)")
    if ip.is_multicast or ip.is_unspecified:
        raise LineError(f"{what} address {ip} is not a unicast address")
    if port_text is None:
        return ip.compressed, None
    if port_text.isascii() and port_text.isdigit():
        return ip.compressed, _number(port_text, *PORT, f"{what} port")
    try:
        return ip.compressed, socket.getservbyname(port_text, protocol)
    except OSError:
        raise LineError(f"{what} port '{port_text}' is neither a number nor a known "
                         f"{protocol} service name (see /etc/services)") from None


class _Importer:
    def __init__(self, path: str) -> None:
        self.notes = Notes(path)
        self.services: dict[ServiceKey, Service] = {}
        self.lines: dict[ServiceKey, int] = {}
        self.timeouts = Timeouts()
        self.variables: dict[str, str] = {}
        self.rules = 0  # -A, -a, -E, -e, -D, -d seen
        self.skipped_mentions = 0  # skipped lines that name ipvsadm

    def run(self, text: str) -> ImportResult:
        for number, line in _logical_lines(text):
            try:
                self._line(number, line)
            except LineError as exc:
                self.notes.error(number, str(exc))
        self.notes.raise_if_errors()
        if not self.services and (self.rules or self.skipped_mentions):
            what = (f"{self.rules:,} rule(s) read" if self.rules else
                    f"{self.skipped_mentions:,} line(s) name ipvsadm")
            raise self.notes.nothing_to_write(
                f"{what}, but no service comes of them")
        cluster = Cluster(services=self.services, director=Director(timeouts=self.timeouts),
                          path=self.notes.path)
        return self.notes.result(cluster)

    def _line(self, number: int, line: str) -> None:
        if line.startswith("IP Virtual Server version"):
            raise LineError("this is the output of `ipvsadm -L` (a listing for people), not a "
                             "save file: import `ipvsadm -Sn` instead")
        if "$" in line:
            line = self._substitute(number, line, strict="ipvsadm" in line or
                                    line.lstrip().startswith("-"))
        try:  # shlex is slow; a save file has nothing for it to do
            shell = any(c in line for c in "'\"\\;&|<>()`")
            tokens = _shell_words(line) if shell else line.split()
        except ValueError as exc:
            raise LineError(f"cannot split the line into words: {exc}") from None
        # A comment starts with a word beginning with '#', as in the shell ("a#b" is one word).
        tokens = tokens[:next((i for i, t in enumerate(tokens) if t.startswith("#")), None)]
        command: list[str] = []
        for word in [*tokens, ";"]:
            if word not in _SEPARATORS:
                command.append(word)
                continue
            if command:
                self._command(number, command)
            if word == "|":
                self.notes.warn(number, "a pipe: only the command before the first '|' is "
                                "read", kind="shell-pipe")
                return
            command = []

    def _substitute(self, number: int, line: str, *, strict: bool) -> str:
        """$NAME and ${NAME} replaced by what an earlier NAME=value line of the script set;
        `strict` (an ipvsadm line): an unknown variable is an error, else it stays."""
        if not strict:
            return _VARIABLE.sub(lambda m: self.variables.get(m[1] or m[2], m[0]), line)
        if "$(" in line or "`" in line:
            raise LineError("command substitution ($(...) or `...`) cannot be evaluated here: "
                             "write its output into the script")

        def value(match: re.Match[str]) -> str:
            name = match[1] or match[2]
            if name not in self.variables:
                raise LineError(f"${name} is not set by an earlier line of the script (from "
                                 "the environment or the script's arguments?): write its value")
            return self.variables[name]

        replaced = _VARIABLE.sub(value, line.split("#", 1)[0] if "#" in line else line)
        if replaced != line:
            names = sorted({m[1] or m[2] for m in _VARIABLE.finditer(line)})
            self.notes.warn(number, "shell variable(s) substituted from the script's own "
                            "assignments: " + ", ".join(f"${n}={self.variables[n]}"
                                                       for n in names), kind="shell-variable")
        return replaced

    def _command(self, number: int, tokens: list[str]) -> None:
        """One shell command: assignments recorded, wrappers dropped, then an ipvsadm rule."""
        while tokens and tokens[0] in ("export", "readonly", "local", "declare"):
            tokens = tokens[1:]
        if tokens and all(_ASSIGNMENT.match(t) for t in tokens):
            for token in tokens:
                name, _, value = token.partition("=")
                self.variables[name] = value
            return
        while tokens and _ASSIGNMENT.match(tokens[0]):
            tokens = tokens[1:]  # VAR=value before a command: its environment only
        wrapped = []
        while tokens and tokens[0] in _WRAPPERS:
            wrapper = tokens.pop(0)
            wrapped.append(wrapper)
            while tokens and tokens[0].startswith("-"):
                option = tokens.pop(0)
                if option in _WRAPPERS[wrapper] and tokens:
                    tokens.pop(0)
            while wrapper == "env" and tokens and _ASSIGNMENT.match(tokens[0]):
                tokens.pop(0)
        if not tokens:
            return
        program = tokens[0].rsplit("/", 1)[-1]
        if wrapped and program == "ipvsadm":
            self.notes.warn(number, f"'{' '.join(wrapped)}' before ipvsadm: read as the ipvsadm "
                            "command it runs", kind=f"wrapper:{wrapped[0]}")
        if program == "ipvsadm":  # by name or by any path: a script of shell commands
            tokens = tokens[1:]
        elif program in ("ipvsadm-restore", "ipvsadm-save"):
            self.skipped_mentions += 1
            self.notes.warn(number, f"'{program}' reads or writes a saved table elsewhere: "
                            "import that saved file itself", kind=f"shell:{program}")
            return
        elif not tokens[0].startswith("-"):
            self.notes.warn(number, f"'{tokens[0]}' is not an ipvsadm rule; line ignored",
                            kind=f"shell:{tokens[0]}")
            self.skipped_mentions += any("ipvsadm" in t for t in tokens)
            return
        if not tokens:
            return
        if "<" in tokens:
            where = tokens[tokens.index("<") + 1:tokens.index("<") + 2]
            self.notes.warn(number, "ipvsadm reads its input from " + (where[0] if where else
                            "a file") + ": import that file itself (ipvsctl import --from "
                            "ipvsadm FILE)", kind="shell-redirect")
            return
        self._rule_line(number, [t for t in tokens if t not in (">", ">>", "2>&1")])

    def _rule_line(self, number: int, tokens: list[str]) -> None:
        opts, args = _walk(tokens)
        commands = [o for o in opts if o.name in COMMANDS]
        if not commands:
            raise LineError("no command: expected -A, -a, -E, -e, -D, -d, -C or --set")
        if len(commands) > 1:
            raise LineError(f"two commands on one line: {commands[0].shown} and "
                             f"{commands[1].shown}")
        command = commands[0]
        if command.name in _LISTING:
            self.notes.warn(number, f"{command.shown} only reads the table (lists, saves, or "
                            "prints help): it changes nothing; skipped", kind="listing")
            return
        if command.name == "restore":
            self.notes.warn(number, f"{command.shown} reads rules from its standard input: "
                            "import that input itself", kind="shell-redirect")
            return
        if command.name == "set":
            self._set_timeouts(number, opts, args)
            return
        if args:
            raise LineError(f"unexpected argument '{args[0]}'")
        if command.name in _ALLOWED:
            self.rules += 1
            self._rule(number, command, [o for o in opts if o is not command])
        elif command.name == "clear":
            dropped = ""
            if self.services:  # what ipvsadm -R would do: forget everything above
                dropped = f"; the {len(self.services)} services defined above it are dropped"
                self.services.clear()
                self.lines.clear()
            self.notes.warn(number, f"{command.shown} (clear the whole table) is not translated: "
                            "`ipvsctl apply` changes only what differs from the file; "
                            "add --prune to also remove services the file does not list"
                            + dropped)
        elif command.name == "zero":
            self.notes.warn(number, f"{command.shown} (zero the counters) is not translated: "
                            "counters are not configuration")
        elif command.name in ("start-daemon", "stop-daemon"):
            self.notes.warn(number, f"{command.shown} is not translated: ipvsctl does not manage "
                            "the IPVS connection-sync daemon; keep starting it as you do now")
        else:
            raise LineError(f"{command.shown} is not a rule: a save file holds -A and -a lines "
                             "(make one with `ipvsadm -Sn`)")

    def _set_timeouts(self, number: int, opts: list[_Opt], args: list[str]) -> None:
        if len(opts) > 1:
            raise LineError(f"--set takes no options, not {opts[1].shown}")
        if len(args) != 3:
            raise LineError("--set needs three timeouts: tcp tcpfin udp (seconds; 0 = unchanged)")
        values = [_number(a, *SET_TIMEOUT, name)
                  for a, name in zip(args, ("tcp timeout", "tcpfin timeout", "udp timeout"),
                                     strict=True)]
        tcp, tcpfin, udp = (v or None for v in values)  # ipvsadm: 0 leaves a timeout unchanged
        old = self.timeouts
        self.timeouts = Timeouts(tcp or old.tcp, tcpfin or old.tcpfin, udp or old.udp)

    # -- -A -E -D -a -e -d ----------------------------------------------------------------------

    def _rule(self, number: int, command: _Opt, opts: list[_Opt]) -> None:
        by_name: dict[str, _Opt] = {}
        allowed = _ALLOWED[command.name]
        for opt in opts:
            if opt.name not in allowed:
                raise LineError(f"{opt.shown} does not apply to {command.shown}")
            group = ("forward" if opt.name in _FORWARD_OF else
                     "service" if opt.name in _SERVICE_OPTS else opt.name)
            if group in by_name and opt.name != "ipv6":
                raise LineError(f"{opt.shown} given twice (or with {by_name[group].shown})")
            by_name[group] = opt
        key, names_proto = self._service_key(by_name)
        if command.name in ("add-service", "edit-service"):
            service_spec = self._service_spec(number, key, by_name)
            if command.name == "add-service":
                if key in self.services:
                    raise LineError(f"service {key} already exists "
                                     f"(added at line {self.lines[key]})")
                self.services[key] = Service(key, service_spec,
                                             source=f"{self.notes.path}:{number}")
                self.lines[key] = number
            else:
                self._existing(key, command).spec = service_spec
            return
        if command.name == "delete-service":
            self._existing(key, command)
            del self.services[key]
            return
        service = self._existing(key, command)
        if "real-server" not in by_name:
            raise LineError(f"{command.shown} needs -r ADDRESS[:PORT] (the real server)")
        rs_key, spec = self._real_server(number, service, names_proto, by_name)
        if spec is None:
            return
        servers = service.real_servers
        if command.name == "add-server":
            if rs_key in servers:
                raise LineError(f"real server {rs_key} of {key} already exists")
            servers[rs_key] = RealServer(rs_key, spec, source=f"{self.notes.path}:{number}")
        elif rs_key not in servers:
            raise LineError(f"{command.shown}: {key} has no real server {rs_key}")
        elif command.name == "edit-server":
            servers[rs_key].spec = spec
        else:
            del servers[rs_key]

    def _existing(self, key: ServiceKey, command: _Opt) -> Service:
        service = self.services.get(key)
        if service is None:
            if command.name in ("add-server", "edit-server", "delete-server"):
                raise LineError(f"{command.shown}: service {key} is not defined (yet): a real "
                                 "server must come after its service's -A line")
            raise LineError(f"{command.shown}: no such service {key}")
        return service

    def _service_key(self, by_name: dict[str, _Opt]) -> tuple[ServiceKey, str]:
        """The service's key and the protocol whose port names apply (tcp for fwmarks)."""
        opt = by_name.get("service")
        if opt is None:
            raise LineError("needs the service: -t|-u|--sctp-service VIP:PORT or -f FWMARK")
        ipv6 = "ipv6" in by_name
        if opt.name == "fwmark-service":
            mark = _number(opt.value, *FWMARK, "fwmark")
            return ServiceKey.mark(mark, 6 if ipv6 else 4), "tcp"
        if ipv6:
            raise LineError("-6 applies only to fwmark services (-f): a VIP's address already "
                             "says its family")
        protocol = _PROTOCOL_OF[opt.name]
        ip, port = _endpoint(opt.value or "", protocol, "virtual service")
        family = 6 if ":" in ip else 4
        return ServiceKey(family, protocol, ip, port or 0), protocol

    def _service_spec(self, number: int, key: ServiceKey, by_name: dict[str, _Opt]
                      ) -> ServiceSpec:
        scheduler = by_name["scheduler"].value if "scheduler" in by_name else DEFAULT_SCHEDULER
        if scheduler not in SCHEDULERS:
            close = difflib.get_close_matches(scheduler or "", SCHEDULERS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(SCHEDULERS)
            raise LineError(f"unknown scheduler '{scheduler}' ({hint})")
        persistence = None
        full = 128 if key.family == 6 else 32
        if "persistent" in by_name:
            value = by_name["persistent"].value
            timeout = DEFAULT_PERSISTENCE_TIMEOUT if value is None else \
                _number(value, *PERSISTENCE_TIMEOUT, "persistence timeout (-p)")
            prefix = full
            if "netmask" in by_name:
                prefix = self._netmask(by_name["netmask"].value or "", key.family)
            engine = by_name["pe"].value if "pe" in by_name else None
            persistence = Persistence(timeout, prefix, engine)
        elif "netmask" in by_name:
            self.notes.warn(number, f"{by_name['netmask'].shown} without -p has no effect (the "
                                    "netmask is the persistence granularity); ignored")
        if "pe" in by_name:
            self._check_engine(number, key, by_name["pe"], persistence)
            if persistence is not None and persistence.engine and key.protocol != "udp":
                persistence = Persistence(persistence.timeout, persistence.prefix_len, None)
        one_packet = "ops" in by_name
        if one_packet and not key.is_fwmark and key.protocol != "udp":
            raise LineError("one-packet scheduling (-o) is only for UDP or fwmark services")
        if not key.is_fwmark and key.port == 0 and persistence is None:
            raise LineError(f"port 0 (all ports) of {key} needs persistence (-p)")
        flags = self._sched_flags(number, scheduler, by_name.get("sched-flags"))
        return ServiceSpec(scheduler, flags, persistence, one_packet)

    def _netmask(self, text: str, family: int) -> int:
        if family == 6:
            return _number(text, *PREFIX_V6, "IPv6 persistence prefix length (-M)")
        prefix = prefix_of_netmask(text)
        if prefix is None:
            raise LineError(f"persistence netmask (-M) '{text}' is not a contiguous dotted "
                             "netmask such as 255.255.255.0")
        return prefix

    def _check_engine(self, number: int, key: ServiceKey, opt: _Opt,
                      persistence: Persistence | None) -> None:
        if opt.value not in PERSISTENCE_ENGINES:
            raise LineError(f"unknown persistence engine '{opt.value}' (known: "
                             + ", ".join(PERSISTENCE_ENGINES) + ")")
        if persistence is None:
            self.notes.warn(number, f"--pe {opt.value} without -p does nothing (engines refine "
                                    "persistence); ignored")
        elif key.protocol != "udp":
            self.notes.warn(number, f"--pe {opt.value} on {key} is not translated: ipvsctl "
                                    "accepts persistence engines on UDP services only; dropped")

    def _sched_flags(self, number: int, scheduler: str, opt: _Opt | None) -> frozenset[str]:
        if opt is None:
            return frozenset()
        numbers = set()
        for flag in (opt.value or "").split(","):
            if flag not in _FLAG_NUMBER:
                raise LineError(f"invalid scheduler flag '{flag}' (known: "
                                 + ", ".join(_FLAG_NUMBER) + ")")
            owner = SCHEDULER_FLAG_BITS[flag][0] if flag in SCHEDULER_FLAG_BITS else scheduler
            if owner != scheduler:
                raise LineError(f"scheduler flag '{flag}' needs scheduler {owner}, "
                                 f"not {scheduler}")
            numbers.add(_FLAG_NUMBER[flag])
        names = set()
        for bit in sorted(numbers):
            name = scheduler_flag(scheduler, bit)
            if name is None:
                self.notes.warn(number, f"scheduler flag flag-{bit} means nothing "
                                        f"to scheduler {scheduler} and is not translated; dropped")
            else:
                names.add(name)
        return frozenset(names)

    def _real_server(self, number: int, service: Service, names_proto: str,
                     by_name: dict[str, _Opt]) -> tuple[RealServerKey, RealServerSpec | None]:
        key = service.key
        address, port = _endpoint(by_name["real-server"].value or "", names_proto,
                                       "real server")
        forward = _FORWARD_OF[by_name["forward"].name] if "forward" in by_name else "dr"
        family = 6 if ":" in address else 4
        if family != key.family and forward != "tunnel":
            raise LineError(f"an IPv{family} real server in an IPv{key.family} service needs "
                             "tunnelling (-i)")
        if port is None:
            port = key.port
        if forward != "nat" and port != key.port:
            # ipvsadm sends the service's port for DR and tunnel; ipvsctl wants it written so.
            what = "0 in a fwmark service" if key.is_fwmark else f"the service port {key.port}"
            self.notes.warn(number, f"real server port {port} ignored: with {forward} the "
                                    f"port is {what} (only nat maps ports)")
            port = key.port
        rs_key = RealServerKey(address, port)  # address is already compressed
        if not key.is_fwmark and rs_key.address == key.address:
            self.notes.warn(number, f"real server {rs_key} is the VIP itself (ipvsadm's local "
                                    "node); ipvsctl does not manage that; skipped")
            return rs_key, None
        weight = _number(by_name["weight"].value, *WEIGHT, "weight (-w)") \
            if "weight" in by_name else 1
        upper = _number(by_name["u-threshold"].value, *THRESHOLD, "upper threshold (-x)") \
            if "u-threshold" in by_name else 0
        lower = _number(by_name["l-threshold"].value, *THRESHOLD, "lower threshold (-y)") \
            if "l-threshold" in by_name else 0
        if upper and lower > upper:
            raise LineError(f"lower threshold (-y {lower}) exceeds upper threshold (-x {upper})")
        tunnel = self._tunnel(by_name, forward)
        return rs_key, RealServerSpec(weight, forward, upper, lower, tunnel)

    def _tunnel(self, by_name: dict[str, _Opt], forward: str) -> Tunnel | None:
        given = [by_name[name] for name in _TUNNEL_OPTS if name in by_name]
        if forward != "tunnel":
            if given:
                raise LineError(f"{given[0].shown} needs tunnelling (-i), not {forward}")
            return None
        kind = by_name["tun-type"].value if "tun-type" in by_name else "ipip"
        if kind not in TUNNEL_TYPES:
            raise LineError(f"unknown tunnel type '{kind}' (known: {', '.join(TUNNEL_TYPES)})")
        port = 0
        if kind == "gue":
            if "tun-port" not in by_name:
                raise LineError("--tun-type gue needs --tun-port (the GUE destination port)")
            port = _number(by_name["tun-port"].value, *TUNNEL_PORT, "tunnel port (--tun-port)")
        elif "tun-port" in by_name:
            raise LineError(f"--tun-port applies to --tun-type gue only, not {kind}")
        csums = [_CSUM_OF[o.name] for o in given if o.name in _CSUM_OF]
        if len(csums) > 1:
            raise LineError("give at most one of --tun-nocsum, --tun-csum, --tun-remcsum")
        csum = csums[0] if csums else "nocsum"
        if csums and csum not in _TUNNEL_CSUMS[kind]:
            raise LineError(f"--tun-{csum} does not apply to --tun-type {kind}")
        return Tunnel(kind, port, csum)
