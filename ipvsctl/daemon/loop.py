"""`ipvsctl run`: the director's control loop, on one asyncio loop in one thread.

Everything the loop writes goes through the workflow `apply` uses (planner, executor,
ownership record), with the pure health step between the file and the planner:

- start: the file is read (a bad one: the process exits, nothing changed) and applied with
  every check UNKNOWN, so each real server keeps the weight the kernel has until its first
  verdict: a restart, even after `kill -9`, changes nothing by itself;
- a health transition: the services of that target are planned (a narrowed read of just
  them) and written: one change for one weight;
- the file changed (inotify on its directory tells at once; a poll once a second is the
  fallback) or SIGHUP: a valid file is planned and applied, only the services the edit
  changed when it touched no director setting; an invalid one is logged as one
  `file:line:col` line and the table and the checks stay as they were. An edit of one real
  server's weight line is read without reading the rest of the file again
  (config/weight_edit.py): at 10,000 services that is the difference between seconds and
  milliseconds;
- every director.reconcile_interval: the whole live table is read and planned; what differs
  was changed by someone else, and is put back and logged as a repair;
- SIGTERM or SIGINT: checking stops and the table is left as it is (the data plane keeps
  forwarding; the next start picks up from the kernel).

For a file with `ha`, the loop also writes the health file keepalived's track_file reads
(ipvsctl/ha/health.py): "1" while every service has enough real servers up and the sync
warm-up is over, "0" otherwise and on SIGTERM, so a director that cannot serve gives way.

The process holds the writer lock of its namespace all its life, so `ipvsctl apply` there is
refused and names this process; the file is the one source of truth.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ipvsctl.config.loader import Cache, loads, read_text
from ipvsctl.config.weight_edit import Lines, weight_edit
from ipvsctl.daemon.announcer import Announcer
from ipvsctl.daemon.diff import Edit, edit_of
from ipvsctl.daemon.inotify import FileWatch
from ipvsctl.daemon.log import EventLog
from ipvsctl.daemon.notify import Notifier, watchdog_interval
from ipvsctl.daemon.snapshot import Reload, Repair, Snapshot
from ipvsctl.daemon.stats import Stats
from ipvsctl.daemon.status import snapshot_of
from ipvsctl.director.ops import DeleteService
from ipvsctl.director.record import Record
from ipvsctl.director.table import IpvsTable
from ipvsctl.director.workflow import WRITER_LOCK, Only, Shape, apply_locked, as_node
from ipvsctl.errors import IpvsctlError
from ipvsctl.gcpause import gc_paused
from ipvsctl.health.runner import Runner
from ipvsctl.health.spec import NoCheck
from ipvsctl.health.state import State, Tracker
from ipvsctl.health.step import step, via_vip_addresses
from ipvsctl.health.target import CheckTarget, Probe, Route, target_of
from ipvsctl.host.locks import exclusive_lock
from ipvsctl.host.routes import routes_to
from ipvsctl.metrics.events import DaemonMetrics
from ipvsctl.model import Cluster, Observed, RealServerKey, Service, ServiceKey
from ipvsctl.plan.changes import Change
from ipvsctl.plan.executor import Result

WATCH_INTERVAL = 1.0  # seconds between looks at the cluster file
BGP_TICK = 1.0  # seconds between looks at BIRD (alive, sessions, a failed write to retry)
SETTLE = 0.25  # seconds a changed file must hold still before it is read
GATHER = 0.05  # seconds the events of one save are gathered in before the file is read


def read(path: Path, node: str | None = None, cache: Cache = "off") -> Cluster:
    """The file as this director applies it (for a file with `ha` or `bgp`: the director
    `node` names, else the one this host's name picks). cache: at start, so the next start
    or `plan` of the same file finds its Cluster kept (config/result_cache.py); an edit is
    a new text, which the cache would only slow down."""
    return read_with_text(path, node, cache)[1]


def read_with_text(path: Path, node: str | None = None, cache: Cache = "off"
                   ) -> tuple[str, Cluster]:
    """`read`, and the text it was read from (the next edit is compared with it)."""
    text = read_text(path)
    return text, as_node(loads(text, str(path), cache), node)


Member = tuple[ServiceKey, str | None, RealServerKey]  # a real server of a named service
Stat = tuple[int, int, int]  # inode, size, mtime: has the file changed since?
Loaded = tuple[Stat | None, str, Cluster]  # the file as read at start, and its stat before


def members_of(cluster: Cluster, same: Mapping[CheckTarget, object] | None = None
               ) -> dict[CheckTarget, list[Member]]:
    """The real servers each check target's verdict is about (one target may serve many).
    `same`: a mapping whose keys are the targets already held (the probes), so each target
    is one object however many tables name it (100,000 of them are 8 MB a copy)."""
    members: dict[CheckTarget, list[Member]] = {}
    canonical = {t: t for t in same} if same is not None else {}
    for key, rules in cluster.health.items():
        service = cluster.services.get(key)
        if service is None:
            continue
        for rs_key in service.real_servers:
            spec = rules.check_of(rs_key)
            if not isinstance(spec, NoCheck):
                target = target_of(key, rs_key, spec)
                members.setdefault(canonical.get(target, target), []).append(
                    (key, service.name, rs_key))
    return members


def owners_of(cluster: Cluster) -> dict[CheckTarget, set[ServiceKey]]:
    """The services each check target's verdict weighs on."""
    return {target: {key for key, _, _ in members}
            for target, members in members_of(cluster).items()}


class Daemon:
    def __init__(self, path: Path, netns: str | None, table: IpvsTable,
                 log: EventLog | None = None, notifier: Notifier | None = None,
                 events: DaemonMetrics | None = None,
                 on_start: Callable[[], None] | None = None, node: str | None = None,
                 loaded: Loaded | None = None) -> None:
        self.path = path
        self._first = loaded  # read by the caller already (run_director): not read twice
        self.node = node  # the director of an `ha` pair this process acts as (None: by name)
        self.announcer: Announcer | None = None  # with a bgp section: BIRD's driver
        self.healthy: bool | None = None  # what the health file says (None: not written)
        self.table_ok = True  # the last plan was written without an error
        self.events = events  # the metrics the daemon pushes (None: no exporter)
        self._on_start = on_start  # called once the file is read and the lock held
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loaded = False  # self.cluster is the running file (not the empty placeholder)
        self.members: dict[CheckTarget, list[Member]] = {}
        self._check_seconds = 0.0
        self.netns = netns
        self.table = table
        self.log = log or EventLog()
        self.notifier = notifier or Notifier()
        self.cluster = Cluster()
        self.tracker = Tracker()
        self.stats = Stats()
        self.started = time.time()
        self.ready = False
        self.kernel: dict[ServiceKey, Service] = {}  # as last read or written
        self.probes: dict[CheckTarget, Probe] = {}
        self.routes: dict[str, Route | None] = {}
        self.notes: set[str] = set()
        self.kept: dict[ServiceKey, tuple[str, ...]] = {}  # failed servers min_healthy pools
        self.last_reload: Reload | None = None
        self.last_good_reload = self.started
        self.last_repair: Repair | None = None
        self.last_reconcile: float | None = None
        self._seen: Stat | None = None
        self.text: str | None = None  # the text self.cluster was read from
        self.lines: Lines | None = None  # where its services start (for a one-weight edit)
        self._watch_fd: FileWatch | None = None
        self._gather: asyncio.TimerHandle | None = None
        self._record: Record | None = None  # the ownership record, as the last apply left it
        self._pending: set[ServiceKey] = set()
        self._flush: asyncio.Handle | None = None
        self._runner: Runner | None = None
        self._stop: asyncio.Event | None = None

    # -- start and stop ------------------------------------------------------------------

    def run(self) -> None:
        """Own the namespace's table until SIGTERM; a bad file or a held lock raise at once."""
        holder = (f"ipvsctl run {self.path}" + (f" --netns {self.netns}" if self.netns else "")
                  + (f" --node {self.node}" if self.node else ""))
        hint = (f"it owns this table: edit {self.path} (it reloads on change or SIGHUP), "
                "or stop it first")
        with exclusive_lock(WRITER_LOCK, self.netns, holder=holder, hint=hint):
            if self._first is not None:  # a change since that stat is seen by the watch
                self._seen, self.text, self.cluster = self._first
                self._first = None
            else:
                self._seen = self._stat()
                self.text, self.cluster = read_with_text(self.path, self.node, cache="keep")
            self.loaded = True
            if self.events is not None:
                self.events.reloaded(True, time.time())
            asyncio.run(self._main())

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self._stop = asyncio.Event()
        self._runner = Runner(loop, self._report, timed=self._timed)
        if self._on_start is not None:
            self._on_start()
        self.log.event("start", f"{self.path}: {len(self.cluster.services)} services, "
                                f"pid {os.getpid()}" + (f", netns {self.netns}"
                                                        if self.netns else ""))
        self._reroute()
        if self.cluster.bgp is not None:
            self.announcer = Announcer(self.netns, self.log)
            self.announcer.start(self.cluster)
        self._apply(None, "apply", "start")
        self._retarget()
        self._count_kept()
        self.last_reconcile = time.time()
        self.ready = True
        self._health()
        self.lines = Lines(self.cluster)
        self._start_watch(loop)
        self.notifier.send(READY="1", STATUS=self._status())
        self.log.event("ready", f"checking {len(self.probes)} targets")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._guarded(self.reload, "SIGHUP"))
        tasks = [loop.create_task(self._watch()), loop.create_task(self._reconcile_timer()),
                 loop.create_task(self._bgp_timer())]
        ping = watchdog_interval()
        if ping is not None:
            tasks.append(loop.create_task(self._watchdog(ping)))
        try:
            await self._stop.wait()
        finally:
            self.notifier.send(STOPPING="1", STATUS="stopping; the table stays as it is")
            for task in tasks:
                task.cancel()
            self._stop_watch(loop)
            if self.announcer is not None:  # withdraw first, while the table still forwards
                self.notifier.send(STATUS="withdrawing the VIPs")
                await self.announcer.stop()
            await self._runner.aclose()
            if self.healthy is not None:  # a planned stop gives the VIPs away
                self._write_health(False, "stopping")
            self.log.event("stop", "checks stopped; the table is left as it is")

    # -- the four triggers ----------------------------------------------------------------

    def _timed(self, seconds: float) -> None:
        # The runner times a check just before it reports it: _report takes it from here.
        self.stats.check_seconds.observe(seconds)
        self._check_seconds = seconds

    def _report(self, target: CheckTarget, ok: bool, detail: str) -> None:
        moved = self.tracker.record(target, ok, detail, time.time())
        events = self.events
        if events is not None:
            kind = target.spec.kind
            for key, name, _ in self.members.get(target, ()):
                events.check(key, name, kind, ok, self._check_seconds)
            if moved is not None:
                for key, name, rs_key in self.members.get(target, ()):
                    events.transition(key, name, rs_key, kind, moved.new.value)
        if moved is None:
            return
        self.stats.transitions[f"{moved.old.value}->{moved.new.value}"] += 1
        self.log.event("transition", moved.describe(), target=target.describe(),
                       state=moved.new.value)
        self._pending.update(key for key, _, _ in self.members.get(target, ()))
        if self._flush is None:  # transitions of one tick share one plan
            self._flush = asyncio.get_running_loop().call_soon(self._apply_pending)

    def _apply_pending(self) -> None:
        self._flush = None
        only, self._pending = frozenset(self._pending), set()
        if only:
            self._apply(only, "apply", "health")
            self._status_changed()

    def reload(self, why: str) -> None:
        self._seen = self._stat()
        now = time.time()
        quick = None
        try:
            text = read_text(self.path)
            last = self.last_reload
            if why != "SIGHUP" and text == self.text and (last is None or last.ok):
                return  # saved again as it was (or seen by both the watch and the poll)
            if self.text is not None and self.lines is not None:
                quick = weight_edit(self.text, self.cluster, text, self.lines)
            new = quick.cluster if quick is not None else \
                as_node(loads(text, str(self.path)), self.node)
        except (IpvsctlError, OSError, ValueError) as exc:
            lines = exc.lines() if isinstance(exc, IpvsctlError) else [f"{self.path}: {exc}"]
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            self.stats.reloads_failed += 1
            self.last_reload = Reload(now, False, tuple(lines))
            self.log.event("invalid", f"{lines[0]}{more}; the table stays as it is",
                           level="error", trigger=why)
            if self.events is not None:
                self.events.reloaded(False, now)
            self._status_changed()
            return
        if quick is not None:  # one weight: nothing else moved, the checks stay as they are
            edit = Edit(frozenset((quick.service,)), False, True)
            whole = False
        else:
            edit = edit_of(self.cluster, new)
            whole = edit.director or via_vip_addresses(new) != via_vip_addresses(self.cluster)
            self.lines = Lines(new)
        self.cluster, self.text = new, text
        self.stats.reloads_ok += 1
        self.last_good_reload = now
        if self.events is not None:
            self.events.reloaded(True, now)
        if whole:
            self._reroute()
        self._rebgp(new)
        changes = self._apply(None if whole else edit.services, "apply", "reload") \
            if whole or edit.services else []
        if whole or not edit.weights_only:  # a weight edit leaves every check as it is
            self._retarget()
        if self.announcer is not None:  # an edit of `announce` alone plans no change
            self.announcer.decide(self.tracker.view(), set(self.kernel))
        self.last_reload = Reload(now, True, (), len(changes))
        how = f"; read as one weight edit of line {quick.line}" if quick is not None else ""
        self.log.event("reload", f"{self.path} ({why}): {len(edit.services)} service(s) "
                                 f"changed, {len(changes)} change(s) made{how}", trigger=why,
                       read="weight" if quick is not None else "file")
        self._status_changed()

    def reconcile(self) -> None:
        self._reroute()
        now = time.time()
        changes = self._apply(None, "repair", "drift")
        self._count_kept()
        self.last_reconcile = now
        if changes:
            self.stats.drift_repairs += len(changes)
            self.last_repair = Repair(now, tuple(c.text for c in changes))
            self._retarget()
            self._status_changed()

    def _start_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._watch_fd = FileWatch(self.path)
        except OSError as exc:
            self.log.event("warning", f"{self.path}: no inotify ({exc.strerror or exc}); "
                                      f"the file is looked at every {WATCH_INTERVAL:g} s",
                           level="warning")
            return
        loop.add_reader(self._watch_fd.fileno(), self._written)

    def _stop_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._watch_fd is not None:
            loop.remove_reader(self._watch_fd.fileno())
            self._watch_fd.close()
            self._watch_fd = None

    def _written(self) -> None:
        """inotify: the file was written and closed, or renamed over. The events of one save
        (a rename, then the editor's own touches) are gathered for a moment, then the file
        is read: closed or renamed, it is complete, so no settle is needed."""
        watch = self._watch_fd
        if watch is None or not watch.changed() or self._gather is not None:
            return
        loop = asyncio.get_running_loop()
        self._gather = loop.call_later(GATHER, self._gathered)

    def _gathered(self) -> None:
        self._gather = None
        self._guarded(self.reload, "file changed")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self._guarded(self._health)  # also ends the sync warm-up on time
            now = self._stat()
            if now == self._seen:
                continue
            # An editor writing in place may be caught mid-write, and a truncated file can
            # still be valid YAML: read it only once it has held still for a moment.
            await asyncio.sleep(SETTLE)
            if self._stat() == now:
                self._guarded(self.reload, "file changed")

    async def _bgp_timer(self) -> None:
        while True:
            await asyncio.sleep(BGP_TICK)
            self._guarded(self._bgp_tick)

    def _bgp_tick(self) -> None:
        if self.announcer is not None:
            self.announcer.tick(self.tracker.view(), set(self.kernel))

    def _rebgp(self, new: Cluster) -> None:
        """A reload's share of BGP: (re)configure, start, or withdraw and stop BIRD."""
        try:
            if new.bgp is not None and self.announcer is not None:
                self.announcer.reload(new)
            elif new.bgp is not None:
                self.announcer = Announcer(self.netns, self.log)
                self.announcer.start(new)
            elif self.announcer is not None:
                self.announcer.close()
                self.announcer = None
        except IpvsctlError as exc:
            self.log.event("error", f"bgp: {exc}", level="error")

    async def _reconcile_timer(self) -> None:
        while True:
            await asyncio.sleep(self.cluster.director.reconcile_interval)
            self._guarded(self.reconcile)

    def _guarded(self, fn: Callable[..., None], *args: str) -> None:
        """A trigger that fails is logged; the timers and the process carry on."""
        try:
            fn(*args)
        except Exception as exc:  # the loop must outlive any one trigger
            self.log.event("error", f"unexpected: {exc!r}", level="error")

    async def _watchdog(self, every: float) -> None:
        while True:
            runner = self._runner
            if runner is not None and runner.overdue() == 0:
                self.notifier.send(WATCHDOG="1")
            await asyncio.sleep(every)

    # -- planning and writing ---------------------------------------------------------------

    def _shape(self, only: Only, shaped: list[Cluster]) -> Shape:
        def shape(cluster: Cluster, observed: Observed) -> Cluster:
            self.kernel.update(observed.services)
            if only is None:
                for gone in [k for k in self.kernel if k not in observed.services]:
                    del self.kernel[gone]
            done = step(cluster, self.cluster.health, self.tracker.view(), observed,
                        only=only, routes=self.routes)
            self._note(done.notes, only)
            desired = done.desired
            if only is not None:  # a narrowed run reads no director settings, sets none
                desired = Cluster(services=desired.services, director=cluster.director,
                                  scope=desired.scope, path=cluster.path)
            shaped.append(desired)
            return desired
        return shape

    def _apply(self, only: Only, kind: str, cause: str) -> list[Change]:
        """Plan and write; `kind` words the log lines, `cause` labels the metrics (start,
        reload, health, drift)."""
        started = time.monotonic()
        shaped: list[Cluster] = []
        try:
            if self._record is None:
                self._record = Record.load(self.netns)
            with gc_paused():
                plan, result = apply_locked(self.cluster, self.table, netns=self.netns,
                                            only=only, shape=self._shape(only, shaped),
                                            record=self._record)
        except IpvsctlError as exc:
            self._record = None  # read again next time: a failed save may have left it apart
            for line in exc.lines():
                self.log.event("error", line.strip(), level="error")
            self._applied(cause, False, [], started)
            self.table_ok = False
            return []
        except Exception as exc:  # the loop must outlive any one write
            self._record = None
            self.log.event("error", f"unexpected: {exc!r}; retried at the next reconcile",
                           level="error")
            self._applied(cause, False, [], started)
            self.table_ok = False
            return []
        self.table_ok = result.ok
        self.stats.apply_seconds.observe(time.monotonic() - started)
        self._applied(cause, result.ok, result.applied, started)
        for warning in plan.warnings:
            self.log.event("warning", warning, level="warning")
        if result.applied:
            self.stats.applies += 1
        for change in result.applied:
            self.stats.changes[f"{change.action} {change.subject}"] += 1
            self.log.event(kind, change.text, target=change.target)
        if shaped:
            self._mirror(shaped[0], result)
        if self.announcer is not None:
            self.announcer.decide(self.tracker.view(), set(self.kernel))
        return result.applied

    def _applied(self, cause: str, ok: bool, changes: list[Change], started: float) -> None:
        if self.events is not None:
            self.events.applied(cause, ok, [(c.action, c.subject) for c in changes],
                                time.monotonic() - started)

    def _count_kept(self) -> None:
        """After a full plan: per service, the failed real servers min_healthy kept pooled."""
        if self.events is None:
            return
        states = self.tracker.view()
        for key, service in self.cluster.services.items():
            rules = self.cluster.health.get(key)
            live = self.kernel.get(key)
            if rules is None or live is None:
                continue
            kept = 0
            for rs_key in service.real_servers:
                spec = rules.check_of(rs_key)
                had = live.real_servers.get(rs_key)
                if (not isinstance(spec, NoCheck) and had is not None and had.spec.weight > 0
                        and states.get(target_of(key, rs_key, spec)) is State.DOWN):
                    kept += 1
            self.events.kept_by_min_healthy(key, service.name, kept)

    def _mirror(self, desired: Cluster, result: Result) -> None:
        """What the kernel holds now, as far as this process wrote it (the reconcile's full
        read corrects it): check marks are kept from it, status pages show its weights."""
        for change in result.applied:
            if isinstance(change.op, DeleteService):
                self.kernel.pop(change.op.service.key, None)
        if result.ok:
            self.kernel.update(desired.services)

    def _note(self, notes: list[str], only: Only) -> None:
        fresh = set(notes)
        for note in sorted(fresh - self.notes):
            self.log.event("pooled", note)
        if only is None:
            self.notes = fresh
        else:
            self.notes |= fresh

    def _retarget(self) -> None:
        """Check exactly what the file asks for now; kept targets keep their state."""
        done = step(self.cluster, self.cluster.health, self.tracker.view(),
                    Observed(self.kernel), routes=self.routes)
        self.probes = done.probes
        # The services a target weighs on are read from its members when it moves, not
        # kept per target: 100,000 one-key sets would be 25 MB.
        self.members = members_of(self.cluster, self.probes)
        self.tracker.keep_only(self.probes)
        if self._runner is not None:
            self._runner.update(self.probes)

    def _reroute(self) -> None:
        try:
            self.routes = routes_to(via_vip_addresses(self.cluster))
        except IpvsctlError as exc:
            self.log.event("error", str(exc), level="error")

    def _stat(self) -> Stat | None:
        return stat_of(self.path)

    # -- what others read -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return snapshot_of(self, self._runner, getattr(self.table, "writes", 0))

    def _status(self) -> str:
        states = self.tracker.view()
        down = sum(1 for t in self.probes if states.get(t) is State.DOWN)
        up = sum(1 for t in self.probes if states.get(t) is State.UP)
        last = self.last_reload
        tail = "" if last is None or last.ok else f"; last edit invalid: {last.errors[0]}"
        return (f"{len(self.cluster.services)} services, {len(self.probes)} checks: {up} up, "
                f"{down} down, {len(self.probes) - up - down} unknown{tail}")

    def _status_changed(self) -> None:
        self.notifier.send(STATUS=self._status())
        self._health()

    def _health(self) -> None:
        """Tell keepalived whether this director may hold the VIPs (files with `ha` only)."""
        if self.cluster.ha is None or not self.ready:
            return
        from ipvsctl.ha.health import verdict

        ok, why = verdict(self.cluster, self.tracker.view(), time.time() - self.started,
                          self.table_ok)
        if ok != self.healthy:
            self._write_health(ok, why)

    def _write_health(self, ok: bool, why: str) -> None:
        from ipvsctl.ha.health import write

        try:
            path = write(self.netns, ok)
        except (IpvsctlError, OSError) as exc:
            self.log.event("error", f"health file: {exc}", level="error")
            return
        self.healthy = ok
        self.log.event("health", f"{path}: {'1 (healthy)' if ok else '0 (not healthy)'}: {why}",
                       healthy=ok)


def stat_of(path: Path) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def run_director(path: Path, netns: str | None, log_format: str,
                 metrics: str | None = None, real_servers: str = "all",
                 node: str | None = None) -> None:
    """`ipvsctl run`: bind the status socket (and /metrics when asked), enter the namespace
    (before any thread starts, so every socket of the checks is there), open the table, and
    own it until SIGTERM.

    The exporter binds first: a bad or taken address, or a second daemon for the namespace,
    fails before anything is locked, entered or opened. Its sockets are made in the namespace
    `run` was started in, so Prometheus scrapes a daemon that manages a --netns namespace from
    the host's network."""
    from ipvsctl.daemon.view import DaemonSource
    from ipvsctl.host.netns import enter
    from ipvsctl.ipvs import IpvsAdapter
    from ipvsctl.metrics.exporter import Exporter

    # A bad file or --node fails here, before anything is locked; read once (at 10,000 x 10
    # a second read costs seconds, and tens of MB that the process never gives back).
    seen = stat_of(path)
    text, cluster = read_with_text(path, node, cache="keep")
    source = DaemonSource()
    exporter = Exporter(source, netns, metrics, real_servers)
    try:
        if netns is not None:
            enter(netns)
        log = EventLog(log_format)
        with IpvsAdapter(None) as table, IpvsAdapter(None) as reader:
            def serve() -> None:  # on the loop, before the first apply
                source.prime()
                exporter.start()

            daemon = Daemon(path, netns, table, log, events=exporter.events, on_start=serve,
                            node=node, loaded=(seen, text, cluster))
            del text, cluster  # the daemon's from now on: a reload frees the old ones
            source.attach(daemon, reader)
            daemon.run()
    finally:
        exporter.close()
