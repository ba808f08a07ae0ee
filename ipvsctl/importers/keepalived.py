"""Import the LVS part of a keepalived.conf as keepalived 2.2.7 programs it into IPVS.

The file is read as keepalived reads it (keepalived_lines: templating and includes;
keepalived_syntax: keywords and blocks), then each virtual_server goes through what
keepalived's checker process does with it (check/check_parser.c handlers, link_vsg_to_vs,
check/check_data.c validate_check_config, check/ipvswrapper.c): a value keepalived rejects is
ignored as keepalived ignores it (`lb_algo RR` leaves the default wlc, `lb_kind dr` the default
NAT, `persistence_timeout 0` no persistence), defaults are filled in (UDP, wlc, NAT, 360 s of
persistence), ports corrected, virtual_server_group entries expanded into the services keepalived
creates, and a virtual server left without real servers dropped. Every such place is reported
with its file:line, saying what keepalived programs and what to write if that was not meant.
Health checkers become checks (keepalived_checks).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from ipvsctl.config.vocabulary import (
    PERSISTENCE_ENGINES,
    SCHEDULER_FLAG_BITS,
    TIMEOUT,
    WEIGHT,
    scheduler_flag,
)
from ipvsctl.errors import ConfigError
from ipvsctl.importers._common import ImportResult, Notes, Place, checked_text, listed
from ipvsctl.importers.keepalived_checks import (
    Checker,
    CheckTranslator,
    Pool,
    Timing,
    read_timing,
)
from ipvsctl.importers.keepalived_lines import LineReader, Reader, SourceError
from ipvsctl.importers.keepalived_syntax import Stmt, parse_tree
from ipvsctl.importers.keepalived_values import (
    Address,
    Fatal,
    address_text,
    arg,
    endpoint,
    inet,
    inet_aton,
    port_text,
    read_unsigned,
)
from ipvsctl.model import (
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

# keepalived 2.2.7's own values (check/check_parser.c lvs_schedulers, include/*.h)
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed",
              "nq", "twos")
DEFAULT_SCHEDULER = "wlc"  # IPVS_DEF_SCHED
PERSISTENT_TIMEOUT = 360  # IPVS_SVC_PERSISTENT_TIMEOUT: 6 minutes (ipvsadm's is 300)
LVS_MAX_TIMEOUT = 86400 * 31
WEIGHT_LIMIT = 2**31 - 1  # IPVS_WEIGHT_LIMIT
UINT_MAX = 2**32 - 1
SCHEDNAME_MAX = 15  # IP_VS_SCHEDNAME_MAXLEN - 1
_METHODS = {"NAT": "nat", "DR": "dr", "TUN": "tunnel"}
_FLAG_KEYWORDS = ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port",
                  "mh-fallback")
# Top-level blocks outside ipvsctl's job.
OUT_OF_SCOPE = {
    "vrrp_instance": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_sync_group": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_script": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_track_process": "VRRP / director high availability is out of scope for ipvsctl",
    "garp_group": "VRRP / director high availability is out of scope for ipvsctl",
    "linkbeat_interfaces": "VRRP / director high availability is out of scope for ipvsctl",
    "interface_up_down_delays": "VRRP / director high availability is out of scope for "
                                "ipvsctl",
    "track_group": "VRRP / director high availability is out of scope for ipvsctl",
    "static_ipaddress": "ipvsctl does not manage director addresses or routes",
    "static_routes": "ipvsctl does not manage director addresses or routes",
    "static_rules": "ipvsctl does not manage director addresses or routes",
    "bfd_instance": "ipvsctl has no BFD checks",
    "track_file": "ipvsctl has no file-tracking checks",
    "vrrp_track_file": "ipvsctl has no file-tracking checks",
    "SSL": "it only configures SSL_GET's client certificate, which ipvsctl's https checks "
           "do not send",
    "net_namespace": "choose the namespace with `ipvsctl --netns` instead",
    "net_namespace_ipvs": "choose the namespace with `ipvsctl --netns` instead",
    "namespace_with_ipsets": "keepalived process settings do not apply",
    "instance": "keepalived process settings do not apply",
    "use_pid_dir": "keepalived process settings do not apply",
    "child_wait_time": "keepalived process settings do not apply",
    "linkbeat_use_polling": "keepalived process settings do not apply",
}
HA_HINT = ("; keep a VRRP daemon (keepalived without virtual_server blocks) for VIP failover and "
           "run `ipvsctl apply` on each director")


def parse(text: str, path: str = "keepalived.conf", *, config_id: str | None = None,
          read: Reader | None = None, folder: str | None = None) -> ImportResult:
    """Translate keepalived.conf text into a Cluster; raises ConfigError where keepalived itself
    would not start (or the file cannot be read as keepalived reads it). Relative includes are
    read from `folder` (default: the directory of `path`)."""
    try:
        return _Importer(path, config_id, read, folder).run(text)
    finally:
        # The addresses read (made once each within an import) are not kept beyond it: a
        # large import's would be left for the cyclic collector to scan, and stay in memory
        inet.cache_clear()
        address_text.cache_clear()


# -- what a virtual server collects while it is parsed ---------------------------------------


@dataclass(slots=True)
class _Forward:
    method: str  # nat | dr | tunnel
    tunnel: Tunnel = Tunnel()  # noqa: RUF009 (a NamedTuple: immutable)


@dataclass(slots=True)
class _RealServer:
    place: Place
    ip: Address
    port: int
    forward: _Forward | None  # None: not set (keepalived's IP_VS_CONN_F_FWD_MASK)
    weight: int | None = None
    upper: int = 0
    lower: int = 0
    timing: Timing = field(default_factory=Timing)
    checkers: list[Checker] = field(default_factory=list)

    @property
    def family(self) -> int:
        return self.ip.version


@dataclass(slots=True)
class _VirtualServer:
    place: Place
    label: str
    address: Address | None = None
    port: int = 0
    fwmark: int = 0
    group: str | None = None
    family: int = 0  # 0: not known yet (keepalived's AF_UNSPEC)
    scheduler: str = ""
    bad_schedulers: list[tuple[Place, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    one_packet: Place | None = None
    forward: _Forward | None = None
    bad_forward: list[tuple[Place, str]] = field(default_factory=list)
    protocol: str | None = None
    protocol_place: Place | None = None
    persistence_timeout: int = 0
    granularity: int | None = None  # IPv4: the netmask as a number; IPv6: a prefix length
    granularity_place: Place | None = None
    engine: tuple[str, Place] | None = None
    weight: int = 1
    sorry: _RealServer | None = None
    pool: Pool = field(default_factory=Pool)
    real_servers: list[_RealServer] = field(default_factory=list)


@dataclass(slots=True)
class _GroupEntry:
    place: Place
    fwmark: int = 0
    fwmark_family: int = 0
    first: Address | None = None
    last: Address | None = None
    port: int = 0


@dataclass(slots=True)
class _Group:
    name: str
    place: Place
    entries: list[_GroupEntry] = field(default_factory=list)

    @property
    def has4(self) -> bool:
        return any((e.first is not None and e.first.version == 4) or e.fwmark_family == 4
                   for e in self.entries)

    @property
    def has6(self) -> bool:
        return any((e.first is not None and e.first.version == 6) or e.fwmark_family == 6
                   for e in self.entries)

    @property
    def addresses(self) -> list[_GroupEntry]:
        return [e for e in self.entries if e.first is not None]

    @property
    def fwmarks(self) -> list[_GroupEntry]:
        return [e for e in self.entries if e.first is None]


class _Importer:
    def __init__(self, path: str, config_id: str | None, read: Reader | None,
                 folder: str | None) -> None:
        self.notes = Notes(path)
        self.config_id = config_id
        self.read = read
        self.folder = folder
        self.virtual_servers: list[_VirtualServer] = []
        self.groups: dict[str, _Group] = {}
        self.services: dict[ServiceKey, Service] = {}
        self.first_place: dict[ServiceKey, Place] = {}
        self.timeouts = Timeouts()
        self.skipped: dict[str, list[Place]] = {}
        self.checks = CheckTranslator(self.notes)
        self.blocks = 0  # virtual_server blocks read, skipped ones too
        # The address and port _skips read for a statement's words, by their id (each is read
        # once more when the statement is translated)
        self.endpoints: dict[int, tuple[list[str], tuple[Address, int]]] = {}

    def warn(self, place: Place, kind: str, message: str) -> None:
        self.notes.warn(place, message, kind=kind)

    def run(self, text: str) -> ImportResult:
        # The bounds (line length, control characters), checked before keepalived's reader,
        # which then reads the text as keepalived does (a byte-order mark and all).
        checked_text(text, self.notes.path)
        reader = LineReader(self.notes, text, self.notes.path, config_id=self.config_id,
                            read=self.read, folder=self.folder)
        try:
            tree = parse_tree(iter(reader), self.notes, self._skips)
            # ${_PWD} and ${_INSTANCE} are closures over the reader: a cycle that would keep
            # the reader and its notes (a place per warned line) for the collector to find
            reader.defs.clear()
            for stmt in tree:
                self._top(stmt)
        except SourceError as exc:
            raise ConfigError([str(exc)]) from None
        except Fatal as exc:
            raise ConfigError([str(exc)]) from None
        if reader.conditionals:
            self.warn(reader.conditionals[0], "conditional",
                      f"{len(reader.conditionals):,} conditional line(s) (@ID, @^ID) read as "
                      + (f"keepalived -i {self.config_id} reads them" if self.config_id else
                         "with no config id: `@ID` lines left out, `@^ID` kept; keepalived "
                         "uses its host's node name, so pass --config-id NAME to import what "
                         "that director reads"))
        for keyword, places in self.skipped.items():
            more = f" ({len(places):,} of them)" if len(places) > 1 else ""
            hint = HA_HINT if "VRRP" in OUT_OF_SCOPE[keyword] else ""
            self.warn(places[0], f"out-of-scope:{keyword}",
                      f"{keyword} block(s){more} not translated: {OUT_OF_SCOPE[keyword]}{hint}")
        self._link_groups()
        for vs in self.virtual_servers:
            self._program(vs)
        self.notes.raise_if_errors()
        if not self.services and self.blocks:
            raise self.notes.nothing_to_write(
                f"{self.blocks:,} virtual_server block(s) read, but none ends up as a service "
                "keepalived would program")
        cluster = Cluster(services=self.services, director=Director(timeouts=self.timeouts),
                          path=self.notes.path)
        shown, unlisted = listed(self.notes.warnings, self.notes.path, "warning(s)")
        return ImportResult(cluster, shown, self.checks.health, unlisted)

    # -- parse-time decisions (skip_block) ---------------------------------------------------

    def _skips(self, level: str, words: list[str], place: Place) -> bool:
        if level == "virtual_server":
            if len(words) < 2:
                raise Fatal(f"{place}: virtual_server without an address: keepalived 2.2.7 "
                             "exits here (missing parameter)")
            if words[1] == "group":
                return False
            if words[1] == "fwmark":
                if len(words) < 3:
                    raise Fatal(f"{place}: virtual_server fwmark without its number: "
                                 "keepalived 2.2.7 exits here")
                if read_unsigned(words[2], 0, UINT_MAX, lenient=True) is None:
                    self.warn(place, "vs-skipped", f"virtual_server fwmark '{words[2]}' is not "
                              f"a number 0..{UINT_MAX}: keepalived skips the whole block; "
                              "not imported")
                    return True
                return False
            if self._endpoint_read(words) is None:
                self.warn(place, "vs-skipped", f"virtual_server {' '.join(words[1:3])}: not an "
                          "IP address [port] keepalived accepts (no host names, no brackets): "
                          "keepalived skips the whole block; not imported")
                return True
        elif level == "real_server":
            if len(words) < 2:
                raise Fatal(f"{place}: real_server without an address: keepalived 2.2.7 exits "
                             "here (missing parameter)")
            if self._endpoint_read(words) is None:
                self.warn(place, "rs-skipped", f"real_server {' '.join(words[1:3])}: not an IP "
                          "address [port] keepalived accepts: keepalived skips the whole "
                          "block; not imported")
                return True
        return False

    def _endpoint_read(self, words: list[str]) -> tuple[Address, int] | None:
        found = endpoint(words)
        if found is not None:
            self.endpoints[id(words)] = (words, found)
        return found

    def _endpoint(self, words: list[str]) -> tuple[Address, int] | None:
        """endpoint(words), as _skips read it already for this statement's words."""
        read = self.endpoints.pop(id(words), None)
        return read[1] if read is not None and read[0] is words else endpoint(words)

    # -- the top level ------------------------------------------------------------------------

    def _top(self, stmt: Stmt) -> None:
        kw = stmt.keyword
        if kw == "virtual_server":
            self.blocks += 1
            if not stmt.skipped:
                self._virtual_server(stmt)
        elif kw == "virtual_server_group":
            self._group(stmt)
        elif kw == "global_defs":
            self._global_defs(stmt)
        elif kw in OUT_OF_SCOPE:
            self.skipped.setdefault(kw, []).append(stmt.place)

    def _global_defs(self, stmt: Stmt) -> None:
        others: list[str] = []
        for item in stmt.block or []:
            if item.keyword == "lvs_timeouts":
                self._lvs_timeouts(item)
            elif item.keyword == "lvs_sync_daemon":
                self.warn(item.place, "lvs_sync_daemon", "lvs_sync_daemon is not translated: "
                          "ipvsctl does not manage the IPVS connection-sync daemon")
            elif item.keyword == "lvs_flush":
                self.warn(item.place, "lvs_flush", "lvs_flush (clear the whole table at start) "
                          "is not translated: `ipvsctl apply` changes only what differs; add "
                          "--prune to also remove services the file does not list")
            elif item.keyword not in others:
                others.append(item.keyword)
        if others:
            self.warn(stmt.place, "global_defs", "global_defs settings " + ", ".join(others)
                      + " are not translated: they configure keepalived itself (notification, "
                      "VRRP, process), not the IPVS table")

    def _lvs_timeouts(self, stmt: Stmt) -> None:
        values = {"tcp": self.timeouts.tcp, "tcpfin": self.timeouts.tcpfin,
                  "udp": self.timeouts.udp}
        args = stmt.args
        if len(args) < 2:
            self.warn(stmt.place, "lvs_timeouts", "lvs_timeouts needs at least one option "
                      "and value: keepalived ignores the line")
            return
        i = 0
        while i < len(args):
            name = args[i]
            if name not in values:
                self.warn(stmt.place, "lvs_timeouts", f"lvs_timeouts: unknown option '{name}' "
                          "(tcp, tcpfin, udp): keepalived ignores it")
                i += 1
                continue
            if i + 1 >= len(args):
                self.warn(stmt.place, "lvs_timeouts", f"lvs_timeouts {name} has no value: "
                          "keepalived ignores it")
                break
            seconds = read_unsigned(args[i + 1], 0, LVS_MAX_TIMEOUT, lenient=False)
            if seconds is None:
                self.warn(stmt.place, "lvs_timeouts", f"lvs_timeouts {name} '{args[i + 1]}' "
                          f"is not 0..{LVS_MAX_TIMEOUT}: keepalived ignores it")
            elif seconds > TIMEOUT[1]:
                self.warn(stmt.place, "lvs_timeouts", f"lvs_timeouts {name} {seconds} exceeds "
                          f"what the kernel keeps ({TIMEOUT[1]} s); imported as {TIMEOUT[1]}")
                values[name] = TIMEOUT[1]
            else:
                values[name] = seconds or None  # 0 leaves the kernel's value alone
            i += 2
        self.timeouts = Timeouts(**values)

    # -- virtual_server_group ----------------------------------------------------------------

    def _group(self, stmt: Stmt) -> None:
        if len(stmt.words) < 2:
            raise Fatal(f"{stmt.place}: virtual_server_group without a name: keepalived 2.2.7 "
                         "exits here")
        group = _Group(stmt.words[1], stmt.place)
        for line in stmt.block or []:
            entry = self._group_entry(group, line)
            if entry is not None:
                group.entries.append(entry)
        if not group.entries:
            self.warn(stmt.place, "vsg-empty", f"virtual_server_group {group.name} has no "
                      "entries: keepalived removes it (and ignores its virtual servers)")
            return
        fwmark_no_family = any(e.first is None and not e.fwmark_family for e in group.entries)
        if group.has4 and group.has6 and fwmark_no_family:
            self.warn(stmt.place, "vsg-mixed", f"virtual_server_group {group.name} mixes IPv4, "
                      "IPv6 and fwmarks without a family: keepalived removes it")
            return
        self.groups.setdefault(group.name, group)

    def _group_entry(self, group: _Group, line: Stmt) -> _GroupEntry | None:
        words, place = line.words, line.place
        if words[0] == "fwmark":
            if len(words) < 2:
                raise Fatal(f"{place}: fwmark without its number: keepalived 2.2.7 exits here")
            mark = read_unsigned(words[1], 0, UINT_MAX, lenient=True)
            if mark is None:
                self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: fwmark "
                          f"'{words[1]}' is not 0..{UINT_MAX}: keepalived ignores the entry")
                return None
            family = 0
            if len(words) > 2:
                family = {"inet": 4, "inet6": 6}.get(words[2], -1)
                if family < 0:
                    self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: fwmark "
                              f"family '{words[2]}' (inet or inet6): keepalived ignores the "
                              "entry")
                    return None
            return _GroupEntry(place, fwmark=mark, fwmark_family=family)
        port = 0
        text = port_text(words[1] if len(words) > 1 else None)
        if text is not None:
            number = read_unsigned(text, 1, 65535, lenient=True)
            if number is None:
                self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: '{text}' is "
                          "not a port: keepalived skips the entry")
                return None
            port = number
        first = inet(words[0])
        if first is None:
            self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: '{words[0]}' "
                      "is not an address (range) keepalived accepts: it skips the entry")
            return None
        last = self._range_end(group, words[0], first, place)
        if last is None:
            return None
        return _GroupEntry(place, first=first, last=last, port=port)

    def _range_end(self, group: _Group, text: str, first: ipaddress.IPv4Address |
                   ipaddress.IPv6Address, place: Place
                   ) -> Address | None:
        """The last address of an entry: A, A/PREFIX, A-B (last octet or hextet) or A-A2."""
        bits = first.max_prefixlen
        step = 8 if first.version == 4 else 16  # keepalived steps only the last octet/hextet
        number = int(first)
        if "/" in text:
            mask_text = text.split("/", 1)[1]
            if not mask_text.isdigit() or not 0 < int(mask_text) <= bits:
                self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: bad netmask "
                          f"in '{text}': keepalived skips the entry")
                return None
            host = (1 << (bits - int(mask_text))) - 1
            if number & host:
                self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: '{text}' has "
                          "host bits set: keepalived skips the entry")
                return None
            if host >= 1 << step:
                self.warn(place, "vsg-range", f"virtual_server_group {group.name}: '{text}' "
                          f"spans more than the last {'octet' if step == 8 else 'hextet'}: "
                          "keepalived 2.2.7 steps only that part of the address "
                          "(check/ipvswrapper.c ipvs_group_range_cmd), wraps and stops at the "
                          "first service that exists; not imported: split it into ranges of "
                          f"at most {1 << step} addresses")
                return None
            return type(first)(number | host)
        if "-" not in text:
            return first
        end_text = text.split("-", 1)[1]
        if ("." in end_text and first.version == 4) or (":" in end_text and first.version == 6):
            end = inet(end_text)
            if end is None or end.version != first.version or int(end) < number:
                self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: bad range "
                          f"'{text}': keepalived skips the entry")
                return None
            if int(end) >> step != number >> step:
                self.warn(place, "vsg-range", f"virtual_server_group {group.name}: '{text}' "
                          "crosses the last octet/hextet, which is all keepalived 2.2.7 steps: "
                          "not imported: split it")
                return None
            return end
        try:
            last = int(end_text, 16 if first.version == 6 else 10)
        except ValueError:
            self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: bad range end "
                      f"in '{text}': keepalived skips the entry")
            return None
        low = number & ((1 << step) - 1)
        if last >= 1 << step or last <= low:
            self.warn(place, "vsg-entry", f"virtual_server_group {group.name}: range '{text}' "
                      "ends before it starts (or beyond the last octet/hextet): keepalived "
                      "skips the entry")
            return None
        return type(first)(number - low + last)

    # -- virtual_server ----------------------------------------------------------------------

    def _virtual_server(self, stmt: Stmt) -> None:
        words = stmt.words
        vs = _VirtualServer(stmt.place, " ".join(words[:3]))
        if words[1] == "group":
            if len(words) < 3:
                raise Fatal(f"{stmt.place}: virtual_server group without a name: keepalived "
                             "2.2.7 exits here")
            vs.group = words[2]
        elif words[1] == "fwmark":
            vs.fwmark = read_unsigned(words[2], 0, UINT_MAX, lenient=True) or 0
        else:
            found = self._endpoint(words)
            assert found is not None  # checked by _skips
            vs.address, vs.port = found
            vs.family = vs.address.version
        for item in stmt.block or []:
            self._vs_keyword(vs, item)
        self._vs_end(vs)
        self.virtual_servers.append(vs)

    def _vs_keyword(self, vs: _VirtualServer, stmt: Stmt) -> None:
        kw, place = stmt.keyword, stmt.place
        handler = self._VS_HANDLERS.get(kw)
        if handler is not None:
            handler(self, vs, stmt)
        elif kw in ("hashed",):
            pass  # the kernel's own HASHED bit: nothing to configure
        elif kw == "ops":
            vs.one_packet = place
        elif kw in _FLAG_KEYWORDS:
            self._flag(vs, stmt)
        elif kw in ("retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
                    "inhibit_on_failure", "alpha", "virtualhost"):
            read_timing(self.notes, vs.pool.timing, stmt, vs.label)
        elif kw in ("quorum_up", "quorum_down"):
            arg(stmt)
            vs.pool.scripts.append((place, kw))
        else:  # ha_suspend, smtp_alert, snmp_name, omega, sorry_server_inhibit
            self.checks.untranslated(kw, place, vs.label)

    def _lb_algo(self, vs: _VirtualServer, stmt: Stmt) -> None:
        name = arg(stmt)
        if name in SCHEDULERS and len(name) <= SCHEDNAME_MAX:
            vs.scheduler = name
        else:
            vs.bad_schedulers.append((stmt.place, name))

    def _lb_kind(self, vs: _VirtualServer, stmt: Stmt) -> None:
        forward = self._forwarding(stmt, vs.forward, vs.bad_forward)
        if forward is not None:
            vs.forward = forward

    def _forwarding(self, stmt: Stmt, current: _Forward | None,
                    bad: list[tuple[Place, str]] | None) -> _Forward | None:
        """svr_forwarding_handler(): NAT|DR|TUN [type ipip|gue|gre] [port N] [csum...]; the
        method is kept even when an option is refused, the tunnel settings then are not."""
        word = arg(stmt)
        method = _METHODS.get(word)
        if method is None:
            if bad is not None:
                bad.append((stmt.place, word))
            else:
                self.warn(stmt.place, "bad-lb_kind", f"{stmt.keyword} '{word}' is not NAT, DR or "
                          "TUN (upper case): keepalived ignores the line")
            return None
        # Each line states the whole method: options it leaves out take their defaults (ipip,
        # no port, nocsum), not the virtual server's (keepalived 2.2.7, proven by the oracle).
        tunnel = current.tunnel if current is not None else Tunnel()
        kind, port, csum = Tunnel()
        rest = stmt.args[1:]
        problem = None
        i = 0
        while i < len(rest) and problem is None:
            option = rest[i]
            if option in ("type", "port") and i + 1 >= len(rest):
                problem = f"'{option}' needs a value"
            elif option == "type":
                if rest[i + 1] not in ("ipip", "gue", "gre"):
                    problem = f"unknown tunnel type '{rest[i + 1]}'"
                kind = rest[i + 1]
                i += 2
            elif option == "port":
                number = read_unsigned(rest[i + 1], 1, 65535, lenient=False)
                if number is None:
                    problem = f"bad gue port '{rest[i + 1]}'"
                port = number or 0
                i += 2
            elif option in ("nocsum", "csum", "remcsum"):
                csum = option
                i += 1
            else:
                problem = f"unknown tunnel option '{option}'"
        if problem is None and (kind == "gue") != (port != 0):
            problem = "gue tunnels need 'port N', other types take none"
        if problem is None and kind == "ipip" and csum != "nocsum":
            problem = "ipip tunnels carry no checksum"
        if problem is None and kind == "gre" and csum == "remcsum":
            problem = "gre tunnels do not support remcsum"
        if problem is not None:
            self.warn(stmt.place, "bad-tunnel", f"{stmt.keyword}: {problem}: keepalived keeps "
                      f"the method {word} but ignores the tunnel options")
            return _Forward(method, tunnel)
        return _Forward(method, Tunnel(kind, port, csum))

    def _protocol(self, vs: _VirtualServer, stmt: Stmt) -> None:
        word = arg(stmt)
        if word.lower() in ("tcp", "udp", "sctp"):
            vs.protocol, vs.protocol_place = word.lower(), stmt.place
        else:
            self.warn(stmt.place, "bad-protocol", f"protocol '{word}' is not TCP, UDP or SCTP: "
                      "keepalived ignores the line")

    def _ip_family(self, vs: _VirtualServer, stmt: Stmt) -> None:
        word = arg(stmt)
        family = {"inet": 4, "inet6": 6}.get(word)
        if family is None:
            self.warn(stmt.place, "bad-family", f"ip_family '{word}' is not inet or inet6: "
                      "keepalived ignores the line")
        elif vs.family and family != vs.family:
            self.warn(stmt.place, "bad-family", f"ip_family {word} conflicts with the IPv"
                      f"{vs.family} address: keepalived ignores the line")
        else:
            vs.family = family

    def _persistence_timeout(self, vs: _VirtualServer, stmt: Stmt) -> None:
        if len(stmt.words) < 2:
            vs.persistence_timeout = PERSISTENT_TIMEOUT
            return
        seconds = read_unsigned(stmt.words[1], 1, LVS_MAX_TIMEOUT, lenient=False)
        if seconds is None:
            now = (f"persistence stays at {vs.persistence_timeout} s" if vs.persistence_timeout
                   else "the service has no persistence")
            self.warn(stmt.place, "bad-persistence", f"persistence_timeout '{stmt.words[1]}' is "
                      f"not 1..{LVS_MAX_TIMEOUT}: keepalived 2.2.7 logs 'persistence_timeout "
                      f"invalid' and ignores the line (check/check_parser.c pto_handler), so "
                      f"{now}; imported so. To have persistence, write `persistence_timeout "
                      "SECONDS` (or `persistence: {timeout: SECONDS}`)")
            return
        vs.persistence_timeout = seconds

    def _granularity(self, vs: _VirtualServer, stmt: Stmt) -> None:
        word = arg(stmt)
        family = vs.family or (4 if "." in word else 6)
        if family == 6:
            prefix = read_unsigned(word, 1, 128, lenient=False)
            if prefix is None:
                self.warn(stmt.place, "bad-granularity", f"persistence_granularity '{word}' is "
                          "not an IPv6 prefix length 1..128: keepalived ignores the line")
                return
            vs.granularity = prefix
        else:
            mask = inet_aton(word)
            if mask is None:
                self.warn(stmt.place, "bad-granularity", f"persistence_granularity '{word}' is "
                          "not an IPv4 netmask: keepalived ignores the line")
                return
            vs.granularity = mask
        vs.granularity_place = stmt.place
        vs.family = vs.family or family
        if not vs.persistence_timeout:
            vs.persistence_timeout = PERSISTENT_TIMEOUT

    def _engine(self, vs: _VirtualServer, stmt: Stmt) -> None:
        vs.engine = (arg(stmt)[:15], stmt.place)

    def _flag(self, vs: _VirtualServer, stmt: Stmt) -> None:
        """lbflags_handler(): flag-N always; sh-*/mh-* only under that scheduler, as set so far."""
        kw = stmt.keyword
        if kw.startswith("flag-") or (vs.scheduler in ("sh", "mh") and
                                      kw.startswith(vs.scheduler)):
            vs.flags.add(kw)
        else:
            self.warn(stmt.place, "flag-order", f"{kw} counts only after 'lb_algo {kw[:2]}' "
                      "(keepalived reads the flags in order and ignores it here); not "
                      "translated")

    def _weight(self, vs: _VirtualServer, stmt: Stmt) -> None:
        weight = read_unsigned(arg(stmt), 1, WEIGHT_LIMIT, lenient=True)
        if weight is None:
            self.warn(stmt.place, "bad-weight", f"virtual_server weight '{stmt.words[1]}' is not "
                      f"1..{WEIGHT_LIMIT}: keepalived ignores the line")
        else:
            vs.weight = weight

    def _quorum(self, vs: _VirtualServer, stmt: Stmt) -> None:
        value = read_unsigned(arg(stmt), 1, UINT_MAX, lenient=True)
        if value is None:
            self.warn(stmt.place, "bad-quorum", f"quorum '{stmt.words[1]}' is not 1..{UINT_MAX}: "
                      "keepalived sets it to 1")
            value = 1
        vs.pool.quorum, vs.pool.quorum_place = value, stmt.place

    def _hysteresis(self, vs: _VirtualServer, stmt: Stmt) -> None:
        value = read_unsigned(arg(stmt), 0, UINT_MAX, lenient=True)
        if value is None:
            self.warn(stmt.place, "bad-quorum", f"hysteresis '{stmt.words[1]}' is not a "
                      "number: keepalived ignores the line")
        else:
            vs.pool.hysteresis = value
            vs.pool.quorum_place = vs.pool.quorum_place or stmt.place

    def _sorry_server(self, vs: _VirtualServer, stmt: Stmt) -> None:
        arg(stmt)
        found = endpoint(stmt.words)
        if found is None:
            self.warn(stmt.place, "bad-sorry", f"sorry_server {' '.join(stmt.args)}: not an IP "
                      "address [port] keepalived accepts: it skips the sorry server")
            return
        forward = vs.forward
        vs.sorry = _RealServer(stmt.place, found[0], found[1], forward)

    def _sorry_method(self, vs: _VirtualServer, stmt: Stmt) -> None:
        if vs.sorry is None:
            self.warn(stmt.place, "bad-sorry", "sorry_server_lvs_method before (or without) "
                      "sorry_server: keepalived ignores it")
            return
        forward = self._forwarding(stmt, vs.sorry.forward, None)
        if forward is not None:
            vs.sorry.forward = forward

    def _real_server_stmt(self, vs: _VirtualServer, stmt: Stmt) -> None:
        if stmt.skipped:
            return
        found = self._endpoint(stmt.words)
        assert found is not None
        rs = _RealServer(stmt.place, found[0], found[1], vs.forward)
        where = f"real_server {' '.join(stmt.words[1:3])}"
        for item in stmt.block or []:
            self._rs_keyword(vs, rs, item, where)
        # rs_end_handler: the families must match unless the real server is tunnelled.
        method = rs.forward.method if rs.forward is not None else None
        if method != "tunnel":
            if not vs.family:
                vs.family = rs.family
            elif vs.family != rs.family:
                self.warn(rs.place, "rs-family", f"IPv{rs.family} {where} in an IPv{vs.family} "
                          "virtual server needs TUN: keepalived skips it; skipped")
                return
        vs.real_servers.append(rs)

    def _rs_keyword(self, vs: _VirtualServer, rs: _RealServer, stmt: Stmt, where: str) -> None:
        kw, place = stmt.keyword, stmt.place
        if kw == "weight":
            weight = read_unsigned(arg(stmt), 0, WEIGHT_LIMIT, lenient=True)
            if weight is None:
                self.warn(place, "bad-weight", f"weight '{stmt.words[1]}' of {where} is not "
                          f"0..{WEIGHT_LIMIT}: keepalived ignores the line")
            else:
                rs.weight = weight
        elif kw == "lvs_method":
            forward = self._forwarding(stmt, rs.forward, None)
            if forward is not None:
                rs.forward = forward
        elif kw in ("uthreshold", "lthreshold"):
            value = read_unsigned(arg(stmt), 0, UINT_MAX, lenient=True)
            if value is None:
                self.warn(place, "bad-threshold", f"{kw} '{stmt.words[1]}' of {where}: "
                          "keepalived ignores the line")
            elif kw == "uthreshold":
                rs.upper = value
            else:
                rs.lower = value
        elif kw in ("retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
                    "inhibit_on_failure", "alpha", "virtualhost"):
            read_timing(self.notes, rs.timing, stmt, where)
        elif kw in ("notify_up", "notify_down"):
            vs.pool.scripts.append((place, kw))
        elif kw.isupper():
            checker = self.checks.read_checker(stmt, where, rs.port)
            if checker is not None:
                rs.checkers.append(checker)
        else:  # smtp_alert, snmp_name
            self.checks.untranslated(kw, place, where)

    _VS_HANDLERS: dict[str, Callable[[_Importer, _VirtualServer, Stmt], None]] = {
        "real_server": _real_server_stmt,
        "lb_algo": _lb_algo,
        "lvs_sched": _lb_algo,
        "lb_kind": _lb_kind,
        "lvs_method": _lb_kind,
        "protocol": _protocol,
        "ip_family": _ip_family,
        "persistence_timeout": _persistence_timeout,
        "persistence_granularity": _granularity,
        "persistence_engine": _engine,
        "weight": _weight,
        "quorum": _quorum,
        "hysteresis": _hysteresis,
        "sorry_server": _sorry_server,
        "sorry_server_lvs_method": _sorry_method,
    }

    def _vs_end(self, vs: _VirtualServer) -> None:
        """vs_end_handler(): the sorry server's family; a fwmark family from tunnelled servers."""
        sorry = vs.sorry
        if sorry is not None and (sorry.forward is None or sorry.forward.method != "tunnel"):
            if not vs.family:
                vs.family = sorry.family
            elif vs.family != sorry.family:
                self.warn(sorry.place, "bad-sorry", f"sorry server {sorry.ip} is IPv"
                          f"{sorry.family}, the virtual server IPv{vs.family}: keepalived skips "
                          "the sorry server")
                vs.sorry = None
        if not vs.family and vs.group is None:
            families = {rs.family for rs in vs.real_servers}
            if vs.sorry is not None:
                families.add(vs.sorry.family)
            vs.family = families.pop() if len(families) == 1 else 4

    # -- link_vsg_to_vs, validate_check_config, then what ipvs_cmd sends ------------------------

    def _link_groups(self) -> None:
        kept = []
        for vs in self.virtual_servers:
            if vs.group is None:
                kept.append(vs)
                continue
            group = self.groups.get(vs.group)
            if group is None:
                self.warn(vs.place, "vsg-missing", f"virtual_server group {vs.group}: no such "
                          "virtual_server_group (with entries): keepalived ignores this "
                          "virtual server; not imported")
                continue
            family = 0 if group.has4 == group.has6 else 4 if group.has4 else 6
            if group.has4 and group.has6 and vs.family:
                self.warn(vs.place, "vsg-family", f"virtual_server group {vs.group} holds IPv4 "
                          "and IPv6 but this virtual server has one family: keepalived ignores "
                          "it; not imported")
                continue
            if family and vs.family and family != vs.family:
                self.warn(vs.place, "vsg-family", f"virtual_server group {vs.group}: the "
                          "address family does not match its real servers': keepalived ignores "
                          "it; not imported")
                continue
            vs.family = vs.family or family
            kept.append(vs)
        self.virtual_servers = kept

    def _program(self, vs: _VirtualServer) -> None:
        if not vs.real_servers:
            self.warn(vs.place, "vs-empty", f"{vs.label} has no real servers (left): "
                      "keepalived ignores it; not imported")
            return
        group = self.groups.get(vs.group) if vs.group is not None else None
        by_address = vs.address is not None or (group is not None and group.addresses)
        if by_address:
            if vs.protocol is None:
                self.warn(vs.place, "no-protocol", "virtual_server has no 'protocol': "
                          "keepalived defaults to UDP; imported as udp (write `protocol TCP` if "
                          "that was meant)")
                vs.protocol = "udp"
            if vs.one_packet is not None and vs.protocol != "udp":
                self.warn(vs.one_packet, "ops-reset", "ops (one-packet scheduling) needs UDP: "
                          "keepalived resets it; not translated")
                vs.one_packet = None
            if not vs.persistence_timeout and (
                    (group is None and not vs.port) or
                    (group is not None and any(not e.port for e in group.addresses))):
                self.warn(vs.place, "port0-persistence", "port 0 (all ports) needs "
                          f"persistence: keepalived sets persistence_timeout "
                          f"{PERSISTENT_TIMEOUT}; imported so")
                vs.persistence_timeout = PERSISTENT_TIMEOUT
        if vs.protocol is not None and not by_address:
            self.warn(vs.protocol_place or vs.place, "fwmark-protocol", "protocol does not "
                      "apply to a fwmark virtual server: keepalived ignores it")
        scheduler = vs.scheduler
        if vs.bad_schedulers or not scheduler:
            scheduler = scheduler or DEFAULT_SCHEDULER
            for place, name in vs.bad_schedulers:
                lower = name.lower()
                meant = (f"write `lb_algo {lower}` (or `scheduler: {lower}`) if {lower} was "
                         "meant" if lower in SCHEDULERS else
                         "the schedulers are " + ", ".join(SCHEDULERS))
                self.warn(place, "bad-lb_algo", f"lb_algo '{name}' is not a scheduler keepalived "
                          f"knows (they are lower case): keepalived 2.2.7 logs 'Invalid "
                          f"lvs_scheduler' and ignores the line (check/check_parser.c "
                          f"lbalgo_handler), so the service runs {scheduler}; imported as "
                          f"{scheduler}; {meant}")
            if not vs.bad_schedulers:
                self.warn(vs.place, "no-lb_algo", f"virtual_server has no lb_algo: keepalived "
                          f"uses {DEFAULT_SCHEDULER}; imported as {DEFAULT_SCHEDULER}")
        servers = self._validate_real_servers(vs)
        sorry = self._sorry(vs, servers)
        spec = ServiceSpec(scheduler, self._flags(vs, scheduler), None, vs.one_packet is not None)
        for key, port_of in self._keys(vs, group):
            persistence = self._persistence(vs, key)
            service = Service(key, spec._replace(persistence=persistence),
                              source=str(vs.place))
            pairs = []
            for rs in servers:
                real_server = self._model_real_server(vs, key, rs, port_of)
                if real_server is not None and real_server.key not in service.real_servers:
                    service.real_servers[real_server.key] = real_server
                    pairs.append((rs, real_server.key, real_server.spec))
            self._add_service(service, vs.place)
            sorry_server = (self._model_real_server(vs, key, sorry, port_of, what="sorry server")
                            if sorry is not None else None)
            self.checks.service(key, pairs, vs.pool, sorry_server, vs.label, vs.place)

    def _sorry(self, vs: _VirtualServer, servers: list[_RealServer]) -> _RealServer | None:
        sorry = vs.sorry
        if sorry is None:
            return None
        if sorry.forward is None:
            sorry.forward = vs.forward or _Forward("nat")
        sorry.weight = 1
        if any(rs.ip == sorry.ip and rs.port == sorry.port for rs in servers):
            self.warn(sorry.place, "sorry-is-rs", f"sorry_server {sorry.ip} {sorry.port or ''} "
                      "is one of the real servers: it is in the pool anyway; not translated")
            return None
        return sorry

    def _validate_real_servers(self, vs: _VirtualServer) -> list[_RealServer]:
        kept: list[_RealServer] = []
        seen: set[tuple[str, int]] = set()
        for rs in vs.real_servers:
            if (address_text(rs.ip), rs.port) in seen:
                self.warn(rs.place, "rs-duplicate", f"real server {rs.ip} {rs.port or ''} is "
                          "listed twice: keepalived drops the second; skipped")
                continue
            seen.add((address_text(rs.ip), rs.port))
            if rs.forward is None:
                if vs.forward is None:
                    if vs.bad_forward:
                        for place, word in vs.bad_forward:
                            upper = word.upper()
                            meant = (f"write `lb_kind {upper}` (or `forward: "
                                     f"{_METHODS[upper]}`) if that was meant"
                                     if upper in _METHODS else "the methods are NAT, DR, TUN")
                            self.warn(place, "bad-lb_kind", f"lb_kind '{word}' is not NAT, DR "
                                      "or TUN (upper case): keepalived 2.2.7 logs 'unknown "
                                      "routing method' and ignores the line (check/"
                                      "check_parser.c svr_forwarding_handler), so the real "
                                      "servers run NAT (masquerading); imported as nat; "
                                      + meant)
                    else:
                        self.warn(vs.place, "no-lb_kind", "virtual_server has no lb_kind: "
                                  "keepalived defaults to NAT; imported as nat")
                    vs.forward = _Forward("nat")
                rs.forward = vs.forward
            if rs.weight is None:
                rs.weight = vs.weight
            kept.append(rs)
        return kept

    def _keys(self, vs: _VirtualServer, group: _Group | None
              ) -> list[tuple[ServiceKey, Callable[[_RealServer], int]]]:
        """The services keepalived creates for `vs`, each with the real-server port rule."""
        def masq_or(port: int) -> Callable[[_RealServer], int]:
            return lambda rs: rs.port if rs.forward and rs.forward.method == "nat" else port

        if group is None:
            if vs.address is None:
                return [(ServiceKey.mark(vs.fwmark, vs.family), masq_or(0))]
            key = _vip_key(vs.protocol or "udp", vs.address, vs.port)
            return [(key, lambda rs: (rs.port or vs.port) if rs.forward and
                     rs.forward.method == "nat" else vs.port)]
        keys: list[tuple[ServiceKey, Callable[[_RealServer], int]]] = []
        for entry in group.addresses:
            assert entry.first is not None and entry.last is not None
            for number in range(int(entry.first), int(entry.last) + 1):
                address = type(entry.first)(number)
                keys.append((_vip_key(vs.protocol or "udp", address, entry.port),
                             masq_or(entry.port)))
        for entry in group.fwmarks:
            family = entry.fwmark_family or vs.family or 4
            keys.append((ServiceKey.mark(entry.fwmark, family), masq_or(0)))
        if keys and group.addresses and group.fwmarks is not None:
            self.warn(vs.place, "vsg-expanded", f"virtual_server group {vs.group} expanded into "
                      f"the {len(keys):,} services keepalived creates, one per address and "
                      "fwmark, each with the same real servers")
        return keys

    def _flags(self, vs: _VirtualServer, scheduler: str) -> frozenset[str]:
        names: set[str] = set()
        for flag in sorted(vs.flags):
            number = (int(flag[-1]) if flag.startswith("flag-") else
                      SCHEDULER_FLAG_BITS[flag][1])
            name = scheduler_flag(scheduler, number)
            if name is None:
                self.warn(vs.place, "flag-meaningless", f"scheduler flag {flag} means nothing "
                          f"to scheduler {scheduler}; not translated")
            else:
                names.add(name)
        return frozenset(names)

    def _persistence(self, vs: _VirtualServer, key: ServiceKey) -> Persistence | None:
        if not vs.persistence_timeout:
            if vs.engine is not None:
                self.warn(vs.engine[1], "engine", f"persistence_engine {vs.engine[0]} without "
                          "persistence does nothing; not translated")
            return None
        full = 128 if key.family == 6 else 32
        prefix = full
        if vs.granularity is not None:
            place = vs.granularity_place or vs.place
            if key.family == 6:
                prefix = vs.granularity if vs.granularity <= 128 else full
            else:
                mask = vs.granularity & UINT_MAX
                ones = 32 - ((~mask & UINT_MAX).bit_length())
                if mask != (UINT_MAX << (32 - ones)) & UINT_MAX:
                    shown = ipaddress.IPv4Address(mask)
                    self.warn(place, "granularity-holes", f"persistence_granularity {shown} is "
                              "not a contiguous netmask: keepalived and the kernel use it as "
                              f"is (clients alike in its one bits share a server), ipvsctl "
                              f"takes prefix lengths; imported as /{ones}, its leading ones "
                              "(what ipvsctl reads back from that kernel table, so `plan` shows "
                              "no change; a new director gets the /"
                              f"{ones}); write the prefix you mean")
                prefix = ones
                if not prefix:
                    prefix = 1
        engine = None
        if vs.engine is not None:
            name, place = vs.engine
            if name not in PERSISTENCE_ENGINES:
                self.warn(place, "engine", f"persistence_engine '{name}' is not one the kernel "
                          f"has ({', '.join(PERSISTENCE_ENGINES)}): the kernel refuses the "
                          "service; imported without it")
            elif key.protocol != "udp":
                self.warn(place, "engine", f"persistence_engine {name} on {key} is not "
                          "translated: ipvsctl accepts persistence engines on UDP services only")
            else:
                engine = name
        return Persistence(vs.persistence_timeout, prefix, engine)

    def _model_real_server(self, vs: _VirtualServer, key: ServiceKey, rs: _RealServer,
                           port_of: Callable[[_RealServer], int], what: str = "real server"
                           ) -> RealServer | None:
        assert rs.forward is not None
        forward = rs.forward
        port = port_of(rs)
        if forward.method != "nat" and rs.port and rs.port != port:
            reset = ("cleared: a fwmark service's DR/TUN real servers have port 0"
                     if key.is_fwmark else
                     f"reset to the virtual server's {port}: only NAT maps ports")
            self.warn(rs.place, "rs-port", f"{what} port {rs.port} {reset} (keepalived does "
                      "the same)")
        rs_key = RealServerKey(address_text(rs.ip), port)  # RealServerKey.of, parsed already
        if not key.is_fwmark and rs_key.address == key.address:
            self.warn(rs.place, "rs-is-vip", f"{what} {rs_key} is the VIP itself; ipvsctl "
                      "does not manage a local real server; skipped")
            return None
        weight = rs.weight if rs.weight is not None else vs.weight
        if weight > WEIGHT[1]:
            self.warn(rs.place, "big-weight", f"weight {weight} exceeds ipvsctl's {WEIGHT[1]}; "
                      f"imported as {WEIGHT[1]}")
            weight = WEIGHT[1]
        upper, lower = rs.upper, rs.lower
        if upper and lower > upper:
            self.warn(rs.place, "thresholds", f"lthreshold {lower} exceeds uthreshold {upper}: "
                      "the kernel refuses such a real server; thresholds left out")
            upper = lower = 0
        tunnel = forward.tunnel if forward.method == "tunnel" else None
        spec = RealServerSpec(weight, forward.method, upper, lower, tunnel)
        return RealServer(rs_key, spec, source=str(rs.place))

    def _add_service(self, service: Service, place: Place) -> None:
        existing = self.services.get(service.key)
        if existing is None:
            self.services[service.key] = service
            self.first_place[service.key] = place
            return
        self.warn(place, "vs-duplicate", f"service {service.key} is defined again (first at "
                  f"{self.first_place[service.key]}): keepalived's second add finds it there and "
                  "keeps the first one's settings, adding only real servers it lacks; imported "
                  "so")
        for rs_key, rs in service.real_servers.items():
            existing.real_servers.setdefault(rs_key, rs)


def _vip_key(protocol: str, address: Address, port: int) -> ServiceKey:
    """ServiceKey.vip() of an address read already (not parsed again)."""
    return ServiceKey(address.version, protocol, address_text(address), port, 0)
