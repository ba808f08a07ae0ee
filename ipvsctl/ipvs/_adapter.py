"""IpvsAdapter: the one object that reads and changes the kernel's IPVS table.

Methods are thin: the wire format lives in _wire, model translation in _translate, the socket in
_socket and the wording of refusals in _explain.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from ipvsctl import model as m
from ipvsctl.config.vocabulary import PAIR_SYSCTLS
from ipvsctl.director.ops import (
    REAL_SERVER_OPS,
    SERVICE_OPS,
    AddRealServer,
    AddService,
    DeleteRealServer,
    DeleteService,
    DrainRealServer,
    EditRealServer,
    EditService,
    RestartSyncDaemon,
    SetInterfaceSysctl,
    SetSysctl,
    SetTimeouts,
    StartSyncDaemon,
    StopSyncDaemon,
)
from ipvsctl.errors import HostError, IpvsctlError, KernelError
from ipvsctl.gcpause import gc_paused
from ipvsctl.host.netns import run_in_netns
from ipvsctl.host.sysctl import sysctl_path_parts, write_sysctl
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _daemon as sd
from ipvsctl.ipvs import _decode as d
from ipvsctl.ipvs import _fast as f
from ipvsctl.ipvs import _match as match
from ipvsctl.ipvs import _translate as t
from ipvsctl.ipvs import _wire as w
from ipvsctl.ipvs._explain import change_error
from ipvsctl.ipvs._modules import modprobe, module_loaded
from ipvsctl.ipvs._socket import Channel, FamilyMissing, Refused
from ipvsctl.plan.changes import Change, Operation
from ipvsctl.plan.executor import Outcome
from ipvsctl.tunables import CHECK_PATH

BATCH = 256  # requests per send(): measured fast, and a failure costs at most one batch
VS_SYSCTL_DIR = Path("/proc/sys/net/ipv4/vs")
CONF_SYSCTL_DIR = Path("/proc/sys/net/ipv4/conf")
CHECK_PATH_SETTINGS = tuple(dict.fromkeys(t.setting for t in CHECK_PATH))
_FLAGS_AT = 6  # offset of nlmsg_flags in a request
_ACKED = struct.pack("=H", C.NLM_F_REQUEST | C.NLM_F_ACK)
# The operations sent in batches, and the IPVS command each becomes.
_COMMAND: dict[type[Operation], int] = {
    AddService: C.CMD_NEW_SERVICE, EditService: C.CMD_SET_SERVICE,
    DeleteService: C.CMD_DEL_SERVICE, AddRealServer: C.CMD_NEW_DEST,
    EditRealServer: C.CMD_SET_DEST, DrainRealServer: C.CMD_SET_DEST,
    DeleteRealServer: C.CMD_DEL_DEST,
}


class _Pending(NamedTuple):
    change: Change
    seq: int
    request: bytes
    module_problem: str | None


class IpvsAdapter:
    """Implements ipvsctl.plan.executor.Target for one network namespace's IPVS table."""

    def __init__(self, netns: str | None = None, *, load_modules: bool = True) -> None:
        self.netns = netns
        self.load_modules = load_modules
        self.writes = 0  # netlink write requests sent (one per change)
        self._chan: Channel | None = None
        self._idents: dict[m.ServiceKey, bytes] = {}
        self._dest_heads: dict[tuple[m.ServiceKey, int], bytes] = {}  # w.dest_head
        self._module_problems: dict[str, str | None] = {}
        self._dests = f.DestDecoder()
        self._services = f.ServiceDecoder()
        self._counters = f.CounterDecoder()
        self._match_layouts: dict[int, match.Layout | None] = {}
        self._templates: dict[match.Layout, match.Templates] = {}

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> IpvsAdapter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._chan is not None:
            self._chan.close()
            self._chan = None

    def _channel(self) -> Channel:
        if self._chan is None:
            try:
                self._chan = Channel.open(self.netns)
            except FamilyMissing:
                if not self.load_modules:
                    raise KernelError("IPVS is not available: the ip_vs kernel module is not "
                                      "loaded (this command loads none; `modprobe ip_vs` "
                                      "loads it, and so does `ipvsctl apply`)") from None
                problem = modprobe("ip_vs")
                if problem is not None:
                    raise KernelError("IPVS is not available: the ip_vs kernel module is not "
                                      "loaded and could not be loaded (modprobe ip_vs: "
                                      f"{problem})") from None
                try:
                    self._chan = Channel.open(self.netns)
                except FamilyMissing:
                    raise KernelError("IPVS is not available: modprobe ip_vs succeeded but "
                                      "the kernel has no IPVS netlink family") from None
        return self._chan

    def ensure_module(self, name: str, what: str = "module") -> str | None:
        """Load a scheduler or persistence-engine module; None if present, else the problem."""
        if name not in self._module_problems:
            problem = None
            if not module_loaded(name) and self.load_modules:
                why = modprobe(name)
                if why is not None:
                    problem = f"{what} {name} is not available (modprobe {name}: {why})"
            self._module_problems[name] = problem
        return self._module_problems[name]

    # ---- reading -----------------------------------------------------------------------------

    def observe(self, *, with_stats: bool = False,
                only: frozenset[m.ServiceKey] | None = None,
                expect: Mapping[m.ServiceKey, m.Service] | None = None) -> m.Observed:
        """The live table. With `only`, just those services (one request each instead of the
        whole-table dump) and no director settings: what a narrowed (--service) run compares.

        With `expect` (the desired services), a service found exactly as expected is compared
        on the wire and not built: its key goes into Observed.as_desired instead (_match)."""
        with gc_paused():  # several objects per real server, none in a cycle
            return self._observe(with_stats, only, None if with_stats else expect)

    def _observe(self, with_stats: bool, only: frozenset[m.ServiceKey] | None,
                 expect: Mapping[m.ServiceKey, m.Service] | None) -> m.Observed:
        chan = self._channel()
        entries: list[d.ServiceEntry] = []
        counters: list[tuple[int, ...] | None] = []  # per entry, when `show` asks for them
        if only is not None or with_stats:
            if only is None:
                def service(buf: bytearray, start: int, end: int) -> d.ServiceRecord:
                    span = w.genl_attrs(buf, start, end)[C.CMD_ATTR_SERVICE]
                    return d.service_record(buf, span, with_stats)

                records = chan.dump(C.CMD_GET_SERVICE, b"", service)
            else:
                each = (self._service_record(chan, key, with_stats) for key in sorted(only))
                records = [rec for rec in each if rec is not None]
            entries = [d.service_entry(rec) for rec in records]
            counters = [rec.stats for rec in records]
        else:  # a full read without counters: the lean decoder
            decode, family = self._services.decode_buffer, chan.family

            def parse(buf: bytearray, n: int, seq: int) -> tuple[bool, w.Ack | None]:
                return decode(buf, n, seq, family, entries.append)

            chan.dump_into(C.CMD_GET_SERVICE, b"", parse)
            counters = [None] * len(entries)
        services: dict[m.ServiceKey, m.Service] = {}
        as_desired: set[m.ServiceKey] = set()
        for entry, stats in zip(entries, counters, strict=True):
            svc = t.service_from(entry, stats)
            want = expect.get(svc.key) if expect is not None else None
            try:
                if want is not None and want.spec == svc.spec:
                    found = self._compared(chan, entry.ident, entry.af, want)
                    if found is None:
                        as_desired.add(svc.key)
                        continue
                    svc.real_servers = found
                else:
                    svc.real_servers = self._real_servers(chan, entry.ident, entry.af,
                                                          with_stats)
            except Refused as exc:
                if exc.errno == errno.ESRCH:
                    continue  # deleted by someone else since the service dump
                raise
            services[svc.key] = svc
        if only is not None:
            return m.Observed(services=services, as_desired=frozenset(as_desired))
        return m.Observed(services=services, timeouts=self.timeouts(),
                          sysctls=self.sysctls(), interface_sysctls=self.interface_sysctls(),
                          sync_daemons=self.sync_daemons(),
                          as_desired=frozenset(as_desired))

    def _compared(self, chan: Channel, ident: bytes, af: int,
                  want: m.Service) -> dict[m.RealServerKey, m.RealServer] | None:
        """None if the service's destinations are exactly want's real servers (compared as
        bytes, nothing built); else its real servers, decoded from the same replies."""
        first = next(iter(want.real_servers), None)
        family = 0 if first is None else C.AF_INET6 if ":" in first.address else C.AF_INET
        dump = match.DumpMatch(self._match_layouts, chan.family, family)
        kept: list[bytes] = []

        def parse(buf: bytearray, n: int, seq: int) -> tuple[bool, w.Ack | None]:
            kept.append(bytes(buf[:n]))  # a few kilobytes: decoded again only if it differs
            return dump.parse(buf, n, seq)

        chan.dump_into(C.CMD_GET_DEST, w.nested(C.CMD_ATTR_SERVICE, ident), parse)
        if dump.same(len(want.real_servers)):
            if dump.layout is None:
                return None  # no real servers, as desired
            templates = self._templates.get(dump.layout)
            if templates is None:
                templates = self._templates[dump.layout] = match.Templates(
                    dump.layout, t.spec_of, t.FWD_NUM, t.TUN_TYPE_NUM, t.TUN_CSUM_NUM)
            expected = match.expected_slices(want.real_servers, templates, t.address_text)
            if expected is not None and expected == (dump.slices, family):
                return None
        found: dict[m.RealServerKey, m.RealServer] = {}
        add, seq = t.real_servers_into(found), chan.seq
        for data in kept:
            self._dests.decode_buffer(bytearray(data), len(data), seq, chan.family, af, add)
        return found

    @staticmethod
    def _service_record(chan: Channel, key: m.ServiceKey,
                        with_stats: bool) -> d.ServiceRecord | None:
        """One service by its key (IPVS_CMD_GET_SERVICE without NLM_F_DUMP); None if absent."""
        try:
            replies = chan.request(C.CMD_GET_SERVICE,
                                   w.nested(C.CMD_ATTR_SERVICE, t.service_ident(key)))
        except Refused as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise
        for attrs in replies:
            raw = attrs.get(C.CMD_ATTR_SERVICE)
            if raw is not None:
                return d.service_record(raw, (0, len(raw)), with_stats)
        return None

    def _real_servers(self, chan: Channel, ident: bytes, af: int,
                      with_stats: bool) -> dict[m.RealServerKey, m.RealServer]:
        request = w.nested(C.CMD_ATTR_SERVICE, ident)
        if with_stats:  # `show`: counters too, message by message
            decode, translate = self._dests.decode, t.real_server_of

            def dest(buf: bytearray, start: int, end: int) -> m.RealServer:
                return translate(decode(buf, start, end, af, True))

            return {rs.key: rs for rs in chan.dump(C.CMD_GET_DEST, request, dest)}
        found: dict[m.RealServerKey, m.RealServer] = {}
        decode_buffer, family = self._dests.decode_buffer, chan.family
        add = t.real_servers_into(found)

        def parse(buf: bytearray, n: int, seq: int) -> tuple[bool, w.Ack | None]:
            return decode_buffer(buf, n, seq, family, af, add)

        chan.dump_into(C.CMD_GET_DEST, request, parse)
        return found

    def counters(self) -> list[m.ServiceCounters]:
        """Every service's and real server's counters, connection counts and kernel weight:
        what a metrics scrape reads (the 64-bit counters; one small tuple per real server)."""
        with gc_paused():
            chan = self._channel()

            def service(buf: bytearray, start: int, end: int) -> d.ServiceRecord:
                span = w.genl_attrs(buf, start, end)[C.CMD_ATTR_SERVICE]
                return d.service_record(buf, span, True)

            out: list[m.ServiceCounters] = []
            for rec in chan.dump(C.CMD_GET_SERVICE, b"", service):
                entry = d.service_entry(rec)
                rows: list[m.RealServerCounters] = []
                decode, family, af = self._counters.decode_buffer, chan.family, entry.af
                add = t.counter_rows_into(rows)

                def parse(buf: bytearray, n: int, seq: int) -> tuple[bool, w.Ack | None]:
                    return decode(buf, n, seq, family, af, add)  # noqa: B023 (called at once)

                try:
                    chan.dump_into(C.CMD_GET_DEST, w.nested(C.CMD_ATTR_SERVICE, entry.ident),
                                   parse)
                except Refused as exc:
                    if exc.errno == errno.ESRCH:
                        continue  # deleted by someone else since the service dump
                    raise
                out.append(t.service_counters(entry, rec.stats, rows))
            return out

    def timeouts(self) -> m.Timeouts:
        (attrs,) = self._channel().request(C.CMD_GET_CONFIG)

        def get(kind: int) -> int | None:
            raw = attrs.get(kind)
            return int.from_bytes(raw[:4], "little") if raw else None

        return m.Timeouts(get(C.CMD_ATTR_TIMEOUT_TCP), get(C.CMD_ATTR_TIMEOUT_TCP_FIN),
                          get(C.CMD_ATTR_TIMEOUT_UDP))

    def sync_daemons(self) -> dict[str, m.SyncDaemon]:
        """The running sync threads by state (IPVS_CMD_GET_DAEMON: one reply per thread)."""
        found = self._channel().dump(C.CMD_GET_DAEMON, b"", sd.daemon_of)
        return {daemon.state: daemon for daemon in found if daemon is not None}

    def sysctls(self) -> dict[str, m.SysctlValue]:
        """Every integer in /proc/sys/net/ipv4/vs/ of the namespace, and the two integers of
        sync_threshold ("3\t50"); others (e.g. cpu lists) are skipped."""

        def read() -> dict[str, m.SysctlValue]:
            out: dict[str, m.SysctlValue] = {}
            if not VS_SYSCTL_DIR.is_dir():
                return out
            for path in sorted(VS_SYSCTL_DIR.iterdir()):
                try:
                    words = path.read_text().split()
                    if len(words) == 1:
                        out[path.name] = int(words[0])
                    elif len(words) == 2 and path.name in PAIR_SYSCTLS:
                        out[path.name] = (int(words[0]), int(words[1]))
                except (OSError, ValueError):
                    continue
            return out

        return run_in_netns(self.netns, read)

    def interface_sysctls(self) -> dict[tuple[str, str], int]:
        """The per-interface settings `ipvsctl run` may manage (tunables.CHECK_PATH), for every
        interface of the namespace: two small reads each."""

        def read() -> dict[tuple[str, str], int]:
            out: dict[tuple[str, str], int] = {}
            if not CONF_SYSCTL_DIR.is_dir():
                return out
            for folder in sorted(CONF_SYSCTL_DIR.iterdir()):
                if folder.name in ("all", "default"):
                    continue
                for setting in CHECK_PATH_SETTINGS:
                    try:
                        out[(folder.name, setting)] = int((folder / setting).read_text())
                    except (OSError, ValueError):
                        continue
            return out

        return run_in_netns(self.netns, read)

    def info(self) -> tuple[str, int]:
        """(IPVS version, connection hash table size), as `ipvsadm` prints in its header."""
        (attrs,) = self._channel().request(C.CMD_GET_INFO)
        version = int.from_bytes(attrs.get(C.INFO_ATTR_VERSION, b"\0" * 4)[:4], "little")
        size = int.from_bytes(attrs.get(C.INFO_ATTR_CONN_TAB_SIZE, b"\0" * 4)[:4], "little")
        return f"{version >> 16 & 0xFF}.{version >> 8 & 0xFF}.{version & 0xFF}", size

    # ---- whole-table commands ----------------------------------------------------------------

    def zero(self) -> None:
        """Zero every counter."""
        self.writes += 1
        self._channel().request(C.CMD_ZERO)

    def flush(self) -> None:
        """Delete every service of this namespace."""
        self.writes += 1
        self._channel().request(C.CMD_FLUSH)

    # ---- changes -----------------------------------------------------------------------------

    def execute(self, changes: Sequence[Change]) -> Iterator[Outcome]:
        chan = self._channel()
        pending: list[_Pending] = []
        for change in changes:
            if type(change.op) in _COMMAND:
                try:
                    pending.append(self._encode(chan, change))
                except IpvsctlError as exc:
                    if (yield from self._flush(chan, pending)):
                        return
                    yield Outcome(change, str(exc))
                    return
                if len(pending) >= BATCH:
                    failed = yield from self._flush(chan, pending)
                    pending = []
                    if failed:
                        return
                continue
            failed = yield from self._flush(chan, pending)
            pending = []
            if failed:
                return
            outcome = self._apply_other(chan, change)
            yield outcome
            if not outcome.ok:
                return
        yield from self._flush(chan, pending)

    def _ident(self, key: m.ServiceKey) -> bytes:
        ident = self._idents.get(key)
        if ident is None:
            ident = t.service_ident(key)
            if len(self._idents) < 200_000:
                self._idents[key] = ident
        return ident

    def _encode(self, chan: Channel, change: Change) -> _Pending:
        op = change.op
        cmd = _COMMAND[type(op)]
        seq = chan.next_seq()
        flags = C.NLM_F_REQUEST
        problem = None
        if isinstance(op, REAL_SERVER_OPS):  # first: a first apply is mostly real-server adds
            rs = op.real_server
            dest = t.dest_ident(rs.key) if cmd == C.CMD_DEL_DEST else t.dest_body(rs)
            heads = self._dest_heads
            head = heads.get((op.service, cmd))
            if head is None:
                head = w.dest_head(cmd, self._ident(op.service))
                if len(heads) < 200_000:
                    heads[op.service, cmd] = head
            request = w.dest_request_after(head, chan.family, flags, seq, dest)
        elif isinstance(op, SERVICE_OPS):
            svc = op.service
            ident = self._ident(svc.key)
            if cmd == C.CMD_DEL_SERVICE:
                body = ident
            else:
                problem = self.ensure_module(f"ip_vs_{svc.spec.scheduler}", "scheduler module")
                if svc.spec.persistence and svc.spec.persistence.engine:
                    problem = problem or self.ensure_module(
                        f"ip_vs_pe_{svc.spec.persistence.engine}", "persistence engine module")
                body = t.service_body(svc.key, svc.spec, ident)
            request = w.svc_request(chan.family, cmd, flags, seq, body)
        else:
            raise KernelError(f"the IPVS adapter cannot {op.action} a {op.subject}")
        return _Pending(change, seq, request, problem)

    def _flush(self, chan: Channel,
               pending: list[_Pending]) -> Generator[Outcome, None, bool]:
        """Send one batch; yield an Outcome per change; return True if any failed."""
        if not pending:
            return False
        requests = [p.request for p in pending]
        last = requests[-1]
        requests[-1] = last[:_FLAGS_AT] + _ACKED + last[_FLAGS_AT + 2:]
        self.writes += len(requests)
        try:
            failures = chan.batch(requests, pending[0].seq, pending[-1].seq)
        except KernelError as exc:
            for p in pending:
                yield Outcome(p.change, str(exc))
            return True
        for p in pending:
            a = failures.get(p.seq)
            if a is None:
                yield Outcome(p.change)
                continue
            text = change_error(a.error, p.change.op, p.module_problem)
            yield Outcome(p.change, text + (f" (kernel: {a.message})" if a.message else ""))
        return bool(failures)

    def _apply_other(self, chan: Channel, change: Change) -> Outcome:
        op = change.op
        try:
            if isinstance(op, SetTimeouts):
                self._set_timeouts(chan, op)
            elif isinstance(op, SetSysctl):
                path = sysctl_path_parts("net", "ipv4", "vs", op.name)
                write_sysctl(path, m.sysctl_text(op.value), self.netns)
            elif isinstance(op, SetInterfaceSysctl):
                path = sysctl_path_parts("net", "ipv4", "conf", op.interface, op.setting)
                write_sysctl(path, str(int(op.value)), self.netns)
            elif isinstance(op, StartSyncDaemon):
                self._daemon(chan, op, C.CMD_NEW_DAEMON, sd.start_body(op.daemon))
            elif isinstance(op, StopSyncDaemon):
                self._daemon(chan, op, C.CMD_DEL_DAEMON, sd.stop_body(op.daemon.state))
            elif isinstance(op, RestartSyncDaemon):
                self._daemon(chan, op, C.CMD_DEL_DAEMON, sd.stop_body(op.old.state))
                self._daemon(chan, op, C.CMD_NEW_DAEMON, sd.start_body(op.new))
            else:
                return Outcome(change, f"the IPVS adapter cannot {op.action} a {op.subject}")
        except (KernelError, HostError) as exc:
            return Outcome(change, str(exc))
        return Outcome(change)

    def _daemon(self, chan: Channel, op: Operation, cmd: int, body: bytes) -> None:
        self.writes += 1
        try:
            chan.request(cmd, body)
        except Refused as exc:
            raise KernelError(change_error(exc.errno, op)) from exc

    def _set_timeouts(self, chan: Channel, op: SetTimeouts) -> None:
        # An absent attribute keeps the kernel's current value (and so does 0).
        value = op.timeouts
        body = w.timeouts_body(value.tcp, value.tcpfin, value.udp)
        if not body:
            return
        self.writes += 1
        try:
            chan.request(C.CMD_SET_CONFIG, body)
        except Refused as exc:
            raise KernelError(change_error(exc.errno, op)) from exc


def ipvs_available(netns: str | None = None) -> bool:
    """True if IPVS answers in netns right now (no module is loaded to find out)."""
    try:
        Channel.open(netns).close()
    except (FamilyMissing, IpvsctlError, OSError):
        return False
    return True
