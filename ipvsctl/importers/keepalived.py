"""Import the LVS part of a keepalived.conf: virtual_server and real_server blocks.

The result is what keepalived 2.2 would put in the kernel, including its defaults and
corrections (check/check_data.c validate_check_config): no lb_algo means wlc, no lb_kind means
NAT, no protocol means UDP, DR and tunnel real servers take the virtual server's port, a
virtual server without real servers is dropped. Each such correction is reported, as keepalived
itself reports it. Health checkers, quorum, sorry servers, VRRP and notification settings have
no ipvsctl equivalent: each is reported with its line and left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ipvsctl.config.vocabulary import (
    FWMARK,
    GENERIC_FLAGS,
    PERSISTENCE_ENGINES,
    PERSISTENCE_TIMEOUT,
    PORT,
    PREFIX_V6,
    PROTOCOLS,
    SCHEDULER_FLAG_BITS,
    SCHEDULERS,
    THRESHOLD,
    TIMEOUT,
    TUNNEL_CSUMS,
    TUNNEL_PORT,
    TUNNEL_TYPES,
    WEIGHT,
    scheduler_flag,
)
from ipvsctl.importers._common import (
    ImportResult,
    LineError,
    Notes,
    parse_ip,
    prefix_of_netmask,
)
from ipvsctl.importers.keepalived_syntax import Stmt, parse_tree
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

DEFAULT_SCHEDULER = "wlc"  # keepalived's IPVS_DEF_SCHED
LVS_TIMEOUT = (0, TIMEOUT[1])  # lvs_timeouts: 0 leaves a timeout unchanged
CHECKERS = ("HTTP_GET", "SSL_GET", "TCP_CHECK", "SMTP_CHECK", "MISC_CHECK", "DNS_CHECK",
            "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK")
# Settings that only tune health checking; reported together, once per virtual server.
CHECK_TUNING = ("delay_loop", "retry", "delay_before_retry", "warmup", "connect_timeout",
                "alpha", "omega", "ha_suspend", "smtp_alert", "virtualhost", "snmp_name",
                "nb_get_retry")
QUORUM = ("quorum", "quorum_up", "quorum_down", "hysteresis")
# Top-level blocks outside ipvsctl's job: director HA (VRRP), BFD, keepalived process settings.
OUT_OF_SCOPE = {
    "vrrp_instance": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_sync_group": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_script": "VRRP / director high availability is out of scope for ipvsctl",
    "vrrp_track_process": "VRRP / director high availability is out of scope for ipvsctl",
    "garp_group": "VRRP / director high availability is out of scope for ipvsctl",
    "static_ipaddress": "ipvsctl does not manage director addresses or routes",
    "static_routes": "ipvsctl does not manage director addresses or routes",
    "static_rules": "ipvsctl does not manage director addresses or routes",
    "linkbeat_interfaces": "VRRP / director high availability is out of scope for ipvsctl",
    "bfd_instance": "ipvsctl runs no health checks (BFD included)",
    "track_file": "ipvsctl runs no health checks",
    "track_process": "ipvsctl runs no health checks",
    "SSL": "ipvsctl runs no health checks (SSL only configures SSL_GET)",
    "net_namespace": "choose the namespace with `ipvsctl --netns` instead",
    "net_namespace_ipvs": "choose the namespace with `ipvsctl --netns` instead",
    "instance": "keepalived process settings do not apply",
    "use_pid_dir": "keepalived process settings do not apply",
    "virtual_server_group": "virtual_server_group is not expanded; write one virtual_server per "
                            "member (or one ipvsctl service each)",
}
HA_HINT = ("; keep a VRRP daemon (keepalived without virtual_server blocks) for VIP failover and "
           "run `ipvsctl apply` on each director")
NO_CHECKS = "ipvsctl does not run health checks"


def parse(text: str, path: str = "keepalived.conf") -> ImportResult:
    """Translate keepalived.conf text into a Cluster; raises ConfigError on untranslatable input."""
    return _Importer(path).run(text)


@dataclass(slots=True)
class _Forward:
    method: str  # dr | tunnel | nat
    tunnel: Tunnel | None


@dataclass(slots=True)
class _RealServer:
    address: str
    port: int
    line: int
    weight: int | None = None
    forward: _Forward | None = None
    upper: int = 0
    lower: int = 0


@dataclass(slots=True)
class _VirtualServer:
    line: int
    label: str  # "virtual_server 192.0.2.10 80", for messages
    fwmark: int = 0
    address: str = ""
    port: int = 0
    family: int = 0  # 0 = not known yet (fwmark without ip_family)
    scheduler: str | None = None
    flag_bits: int = 0
    forward: _Forward | None = None
    protocol: str | None = None
    protocol_line: int = 0
    persistence_timeout: int | None = None
    granularity: tuple[str, int] | None = None  # (text, line)
    engine: tuple[str, int] | None = None
    ops_line: int = 0
    weight: int = 1
    real_servers: list[_RealServer] = field(default_factory=list)
    tuning: list[tuple[str, int]] = field(default_factory=list)


def _integer(stmt: Stmt, lo: int, hi: int, index: int = 1) -> int:
    words = stmt.words
    text = words[index] if index < len(words) else ""
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise LineError(f"{words[0]}: '{text}' must be an integer {lo}..{hi}")
    return int(text)


class _Importer:
    def __init__(self, path: str) -> None:
        self.notes = Notes(path)
        self.services: dict[ServiceKey, Service] = {}
        self.service_lines: dict[ServiceKey, int] = {}
        self.timeouts = Timeouts()
        self.skipped: dict[str, list[int]] = {}

    def run(self, text: str) -> ImportResult:
        tree = parse_tree(text, self.notes)
        for stmt in tree:
            try:
                self._top(stmt)
            except LineError as exc:
                self.notes.error(stmt.line, str(exc))
        for keyword, lines in self.skipped.items():
            where = f" (lines {', '.join(map(str, lines))})" if len(lines) > 1 else ""
            hint = HA_HINT if "VRRP" in OUT_OF_SCOPE[keyword] else ""
            self.notes.warn(lines[0], f"{keyword} blocks{where} are not translated: "
                                      f"{OUT_OF_SCOPE[keyword]}{hint}")
        self.notes.raise_if_errors()
        self.notes.warnings.sort(key=_line_of)
        cluster = Cluster(services=self.services, director=Director(timeouts=self.timeouts),
                          path=self.notes.path)
        return ImportResult(cluster, self.notes.warnings)

    def _top(self, stmt: Stmt) -> None:
        if stmt.keyword == "virtual_server":
            self._virtual_server(stmt)
        elif stmt.keyword == "global_defs":
            self._global_defs(stmt)
        elif stmt.keyword in OUT_OF_SCOPE:
            self.skipped.setdefault(stmt.keyword, []).append(stmt.line)
        else:
            self.notes.warn(stmt.line, f"unknown top-level keyword '{stmt.keyword}'; ignored")

    # -- global_defs ----------------------------------------------------------------------------

    def _global_defs(self, stmt: Stmt) -> None:
        others: list[str] = []
        for item in stmt.block or []:
            if item.keyword == "lvs_timeouts":
                try:
                    self._lvs_timeouts(item)
                except LineError as exc:
                    self.notes.error(item.line, str(exc))
            elif item.keyword == "lvs_sync_daemon":
                self.notes.warn(item.line, "lvs_sync_daemon is not translated: ipvsctl does not "
                                           "manage the IPVS connection-sync daemon")
            elif item.keyword not in others:
                others.append(item.keyword)
        if others:
            self.notes.warn(stmt.line, "global_defs settings " + ", ".join(others) + " are not "
                            "translated: they configure keepalived itself (notification, VRRP, "
                            "process), not the IPVS table")

    def _lvs_timeouts(self, stmt: Stmt) -> None:
        values: dict[str, int | None] = {"tcp": self.timeouts.tcp,
                                         "tcpfin": self.timeouts.tcpfin,
                                         "udp": self.timeouts.udp}
        args = stmt.args
        if not args or len(args) % 2:
            raise LineError("lvs_timeouts takes pairs: [tcp SECONDS] [tcpfin SECONDS] "
                             "[udp SECONDS]")
        for index in range(0, len(args), 2):
            name = args[index]
            if name not in values:
                raise LineError(f"lvs_timeouts: unknown timeout '{name}' (tcp, tcpfin, udp)")
            seconds = _integer(stmt, *LVS_TIMEOUT, index + 2)
            values[name] = seconds or None  # 0 leaves the kernel's value alone
        self.timeouts = Timeouts(**values)

    # -- virtual_server -------------------------------------------------------------------------

    def _virtual_server(self, stmt: Stmt) -> None:
        args = stmt.args
        if not args:
            raise LineError("virtual_server needs IP [PORT], 'fwmark N' or 'group NAME'")
        vs = _VirtualServer(stmt.line, " ".join(stmt.words[:3]))
        if args[0] == "group":
            self.notes.warn(stmt.line, f"virtual_server group {' '.join(args[1:])} is not "
                            "translated: virtual_server_group is not expanded; write one "
                            "virtual_server per group member")
            return
        if args[0] == "fwmark":
            vs.fwmark = _integer(stmt, *FWMARK, 2)
        else:
            ip = parse_ip(args[0].strip("[]"))
            if ip is None or ip.is_multicast or ip.is_unspecified:
                raise LineError(f"virtual_server: '{args[0]}' is not a unicast IP address")
            vs.address, vs.family = ip.compressed, ip.version
            vs.port = _integer(stmt, *PORT, 2) if len(args) > 1 else 0
        if stmt.block is None:
            raise LineError("virtual_server needs a { ... } block")
        for item in stmt.block:
            try:
                self._vs_keyword(vs, item)
            except LineError as exc:
                self.notes.error(item.line, str(exc))
        service = self._service(vs)
        if service is None:
            return
        if service.key in self.services:
            raise LineError(f"duplicate virtual_server {service.key}, first at line "
                             f"{self.service_lines[service.key]}")
        self.services[service.key] = service
        self.service_lines[service.key] = vs.line

    def _vs_keyword(self, vs: _VirtualServer, stmt: Stmt) -> None:
        kw = stmt.keyword
        if kw == "real_server":
            self._real_server(vs, stmt)
        elif kw in ("lb_algo", "lvs_sched"):
            name = stmt.args[0] if stmt.args else ""
            if name not in SCHEDULERS:
                raise LineError(f"{kw}: unknown scheduler '{name}' (known: "
                                 + ", ".join(SCHEDULERS) + ")")
            vs.scheduler = name
        elif kw in ("lb_kind", "lvs_method"):
            vs.forward = self._forwarding(stmt)
        elif kw == "protocol":
            name = (stmt.args[0] if stmt.args else "").lower()
            if name not in PROTOCOLS:
                raise LineError(f"protocol: '{name}' is not TCP, UDP or SCTP")
            vs.protocol, vs.protocol_line = name, stmt.line
        elif kw == "ip_family":
            family = {"inet": 4, "inet6": 6}.get(stmt.args[0] if stmt.args else "")
            if family is None:
                raise LineError("ip_family: expected inet or inet6")
            if vs.family and family != vs.family:
                raise LineError(f"ip_family {stmt.args[0]} conflicts with the IPv{vs.family} "
                                 "virtual server address")
            vs.family = family
        elif kw == "persistence_timeout":
            vs.persistence_timeout = _integer(stmt, *PERSISTENCE_TIMEOUT) \
                if stmt.args else DEFAULT_PERSISTENCE_TIMEOUT
        elif kw == "persistence_granularity":
            vs.granularity = (stmt.args[0] if stmt.args else "", stmt.line)
        elif kw == "persistence_engine":
            vs.engine = (stmt.args[0] if stmt.args else "", stmt.line)
        elif kw == "ops":
            vs.ops_line = stmt.line
        elif kw == "hashed":
            pass  # the kernel's own HASHED bit: nothing to configure
        elif kw in GENERIC_FLAGS:
            vs.flag_bits |= 1 << GENERIC_FLAGS.index(kw)
        elif kw in SCHEDULER_FLAG_BITS:
            owner, number = SCHEDULER_FLAG_BITS[kw]
            if vs.scheduler != owner:
                self.notes.warn(stmt.line, f"{kw} is ignored by keepalived unless 'lb_algo "
                                           f"{owner}' comes before it; not translated")
            else:
                vs.flag_bits |= 1 << (number - 1)
        elif kw == "weight":
            vs.weight = _integer(stmt, *WEIGHT)
        elif kw == "inhibit_on_failure":
            self.notes.warn(stmt.line, f"inhibit_on_failure is not translated: {NO_CHECKS}; "
                                       "to take a server out, set its weight to 0 or declare "
                                       "`state: draining`")
        elif kw in QUORUM:
            self.notes.warn(stmt.line, f"{kw} is not translated: {NO_CHECKS}, so the pool never "
                                       "loses quorum")
        elif kw == "sorry_server":
            self.notes.warn(stmt.line, f"sorry_server {' '.join(stmt.args)} is not translated: "
                                       f"{NO_CHECKS}, so nothing would switch to it; add it as a "
                                       "real server with weight 0 to keep it ready")
        elif kw in ("sorry_server_inhibit", "sorry_server_lvs_method"):
            pass  # covered by the sorry_server warning
        elif kw in CHECK_TUNING or kw in ("notify_up", "notify_down"):
            vs.tuning.append((kw, stmt.line))
        elif kw in CHECKERS:
            self.notes.warn(stmt.line, f"{kw} health checker is not translated: {NO_CHECKS}")
        else:
            self.notes.warn(stmt.line, f"unknown keyword '{kw}' in virtual_server; ignored")

    def _forwarding(self, stmt: Stmt) -> _Forward:
        """`lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`."""
        args = stmt.args
        method = {"NAT": "nat", "DR": "dr", "TUN": "tunnel"}.get(args[0] if args else "")
        if method is None:
            raise LineError(f"{stmt.keyword}: expected NAT, DR or TUN")
        kind, port, csum = "ipip", 0, "nocsum"
        rest = args[1:]
        if rest and method != "tunnel":
            raise LineError(f"{stmt.keyword}: tunnel options need TUN, not {args[0]}")
        i = 0
        while i < len(rest):
            word = rest[i]
            if word in ("type", "port") and i + 1 >= len(rest):
                raise LineError(f"{stmt.keyword}: '{word}' needs a value")
            if word == "type":
                kind = rest[i + 1]
                if kind not in TUNNEL_TYPES:
                    raise LineError(f"{stmt.keyword}: unknown tunnel type '{kind}'")
                i += 2
            elif word == "port":
                port = _integer(stmt, *TUNNEL_PORT, i + 3)
                i += 2
            elif word in TUNNEL_CSUMS:
                csum = word
                i += 1
            else:
                raise LineError(f"{stmt.keyword}: unknown tunnel option '{word}'")
        if (kind == "gue") != (port != 0):
            raise LineError(f"{stmt.keyword}: gue tunnels need 'port N', other types take none")
        if kind == "ipip" and csum != "nocsum":
            raise LineError(f"{stmt.keyword}: ipip tunnels carry no checksum")
        if kind == "gre" and csum == "remcsum":
            raise LineError(f"{stmt.keyword}: gre tunnels do not support remcsum")
        return _Forward(method, Tunnel(kind, port, csum) if method == "tunnel" else None)

    # -- real_server ----------------------------------------------------------------------------

    def _real_server(self, vs: _VirtualServer, stmt: Stmt) -> None:
        args = stmt.args
        ip = parse_ip(args[0].strip("[]")) if args else None
        if ip is None or ip.is_multicast or ip.is_unspecified:
            raise LineError(f"real_server: '{args[0] if args else ''}' is not a unicast IP "
                             "address")
        port = _integer(stmt, *PORT, 2) if len(args) > 1 else 0
        rs = _RealServer(ip.compressed, port, stmt.line)
        where = f"real server {' '.join(args[:2])} ({vs.label})"
        for item in stmt.block or []:
            try:
                self._rs_keyword(vs, rs, item, where)
            except LineError as exc:
                self.notes.error(item.line, str(exc))
        vs.real_servers.append(rs)

    def _rs_keyword(self, vs: _VirtualServer, rs: _RealServer, stmt: Stmt, where: str) -> None:
        kw = stmt.keyword
        if kw == "weight":
            rs.weight = _integer(stmt, *WEIGHT)
        elif kw == "lvs_method":
            rs.forward = self._forwarding(stmt)
        elif kw == "uthreshold":
            rs.upper = _integer(stmt, *THRESHOLD)
        elif kw == "lthreshold":
            rs.lower = _integer(stmt, *THRESHOLD)
        elif kw in CHECKERS:
            self.notes.warn(stmt.line, f"{kw} health checker of {where} is not translated: "
                                       f"{NO_CHECKS}; the server keeps its weight whatever its "
                                       "health")
        elif kw == "inhibit_on_failure":
            self.notes.warn(stmt.line, f"inhibit_on_failure of {where} is not translated: "
                                       f"{NO_CHECKS}")
        elif kw in ("notify_up", "notify_down"):
            self.notes.warn(stmt.line, f"{kw} script of {where} is not translated: {NO_CHECKS}, "
                                       "so nothing would run it")
        elif kw in CHECK_TUNING:
            vs.tuning.append((kw, stmt.line))
        elif kw == "track_file":
            self.notes.warn(stmt.line, f"track_file of {where} is not translated: {NO_CHECKS}")
        else:
            self.notes.warn(stmt.line, f"unknown keyword '{kw}' in real_server; ignored")

    # -- keepalived's validate_check_config, then the model ---------------------------------------

    def _service(self, vs: _VirtualServer) -> Service | None:
        notes, line = self.notes, vs.line
        if vs.tuning:
            names = ", ".join(f"{kw} (line {n})" for kw, n in vs.tuning)
            notes.warn(line, f"health-check settings {names} are not translated: {NO_CHECKS}")
        if not vs.real_servers:
            notes.warn(line, "virtual_server has no real servers: keepalived ignores it; skipped")
            return None
        servers = self._families(vs)
        if vs.fwmark:
            key = ServiceKey.mark(vs.fwmark, vs.family)
            if vs.protocol:
                notes.warn(vs.protocol_line, "protocol does not apply to a fwmark virtual "
                                             "server (keepalived ignores it)")
        else:
            if vs.protocol is None:
                notes.warn(line, "virtual_server has no 'protocol': keepalived defaults to UDP; "
                                 "imported as udp")
            key = ServiceKey.vip(vs.protocol or "udp", vs.address, vs.port)
        one_packet = bool(vs.ops_line)
        if one_packet and not key.is_fwmark and key.protocol != "udp":
            notes.warn(vs.ops_line, "ops (one-packet scheduling) needs UDP: keepalived resets "
                                    "it; not translated")
            one_packet = False
        scheduler = vs.scheduler
        if scheduler is None:
            notes.warn(line, f"virtual_server has no lb_algo: keepalived uses "
                             f"{DEFAULT_SCHEDULER}; imported as {DEFAULT_SCHEDULER}")
            scheduler = DEFAULT_SCHEDULER
        spec = ServiceSpec(scheduler, self._flags(vs, scheduler), self._persistence(vs, key),
                           one_packet)
        service = Service(key, spec, source=f"{notes.path}:{line}")
        if vs.forward is None and any(rs.forward is None for rs in servers):
            notes.warn(line, "virtual_server has no lb_kind: keepalived defaults to NAT; "
                             "imported as nat")
        for rs in servers:
            real_server = self._model_real_server(vs, key, rs)
            if real_server is None:
                continue
            if real_server.key in service.real_servers:
                notes.warn(rs.line, f"real server {real_server.key} is listed twice: keepalived "
                                    "drops the second; skipped")
                continue
            service.real_servers[real_server.key] = real_server
        return service

    def _families(self, vs: _VirtualServer) -> list[_RealServer]:
        """Settle the family as keepalived does; drop non-tunnel servers of the other one."""
        kept: list[_RealServer] = []
        for rs in vs.real_servers:
            method = (rs.forward or vs.forward or _Forward("nat", None)).method
            family = 6 if ":" in rs.address else 4
            if method != "tunnel":
                vs.family = vs.family or family
                if family != vs.family:
                    self.notes.warn(rs.line, f"IPv{family} real server {rs.address} in an "
                                             f"IPv{vs.family} virtual server needs TUN: "
                                             "keepalived skips it; skipped")
                    continue
            kept.append(rs)
        if not vs.family:  # only tunnelled servers: their common family, else IPv4
            families = {6 if ":" in rs.address else 4 for rs in kept}
            vs.family = families.pop() if len(families) == 1 else 4
        return kept

    def _flags(self, vs: _VirtualServer, scheduler: str) -> frozenset[str]:
        names: set[str] = set()
        for number in range(1, len(GENERIC_FLAGS) + 1):
            if not vs.flag_bits & 1 << (number - 1):
                continue
            name = scheduler_flag(scheduler, number)
            if name is None:
                self.notes.warn(vs.line, f"scheduler flag flag-{number} means nothing "
                                         f"to scheduler {scheduler}; not translated")
            else:
                names.add(name)
        return frozenset(names)

    def _persistence(self, vs: _VirtualServer, key: ServiceKey) -> Persistence | None:
        timeout = vs.persistence_timeout
        if timeout is None and vs.granularity is not None:
            timeout = DEFAULT_PERSISTENCE_TIMEOUT  # keepalived: granularity implies persistence
        if timeout is None and not key.is_fwmark and key.port == 0:
            self.notes.warn(vs.line, "port 0 (all ports) needs persistence: keepalived sets "
                                     f"persistence_timeout {DEFAULT_PERSISTENCE_TIMEOUT}; "
                                     "imported so")
            timeout = DEFAULT_PERSISTENCE_TIMEOUT
        engine = None
        if vs.engine is not None:
            name, line = vs.engine
            if name not in PERSISTENCE_ENGINES:
                raise LineError(f"persistence_engine: unknown engine '{name}' (known: "
                                 + ", ".join(PERSISTENCE_ENGINES) + ")")
            if timeout is None:
                self.notes.warn(line, f"persistence_engine {name} without persistence does "
                                      "nothing; not translated")
            elif key.protocol != "udp":
                self.notes.warn(line, f"persistence_engine {name} on {key} is not translated: "
                                      "ipvsctl accepts persistence engines on UDP services only")
            else:
                engine = name
        if timeout is None:
            return None
        prefix = 128 if key.family == 6 else 32
        if vs.granularity is not None:
            text, line = vs.granularity
            if key.family == 6:
                lo, hi = PREFIX_V6
                if not text.isdigit() or not lo <= int(text) <= hi:
                    self.notes.error(line, f"persistence_granularity '{text}' must be an IPv6 "
                                           f"prefix length {lo}..{hi}")
                else:
                    prefix = int(text)
            elif (found := prefix_of_netmask(text)) is None:
                self.notes.error(line, f"persistence_granularity '{text}' is not a contiguous "
                                       "dotted netmask such as 255.255.255.0")
            else:
                prefix = found
        return Persistence(timeout, prefix, engine)

    def _model_real_server(self, vs: _VirtualServer, key: ServiceKey, rs: _RealServer
                           ) -> RealServer | None:
        forward = rs.forward or vs.forward or _Forward("nat", None)
        port = rs.port
        if forward.method == "nat":
            if not key.is_fwmark and not port:
                port = key.port
        elif key.is_fwmark:
            if port:
                self.notes.warn(rs.line, f"real server port {port} cleared: a fwmark service's "
                                         f"{forward.method} real servers have port 0 "
                                         "(keepalived clears it too)")
            port = 0
        elif port and port != key.port:
            self.notes.warn(rs.line, f"real server port {port} reset to the virtual server's "
                                     f"port {key.port}: only NAT maps ports (keepalived resets "
                                     "it too)")
            port = key.port
        else:
            port = key.port
        rs_key = RealServerKey.of(rs.address, port)
        if not key.is_fwmark and rs_key.address == key.address:
            self.notes.warn(rs.line, f"real server {rs_key} is the VIP itself; ipvsctl does not "
                                     "manage a local real server; skipped")
            return None
        if rs.upper and rs.lower > rs.upper:
            self.notes.error(rs.line, f"lthreshold {rs.lower} exceeds uthreshold {rs.upper}")
        weight = vs.weight if rs.weight is None else rs.weight
        spec = RealServerSpec(weight, forward.method, rs.upper, rs.lower, forward.tunnel)
        return RealServer(rs_key, spec, source=f"{self.notes.path}:{rs.line}")


def _line_of(message: str) -> int:
    """Sort key: the line number in 'path:LINE: message'."""
    try:
        return int(message.split(": ", 1)[0].rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0
