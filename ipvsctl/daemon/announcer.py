"""`ipvsctl run`'s share of BGP: keep BIRD announcing exactly the VIPs announce.py decides.

- start: bird.conf is rendered and checked, the include files are kept as they are (a
  previous run's announcements stay until the checks decide); a BIRD already answering on
  the folder's socket is adopted (one systemd runs, templates/ipvsctl-bird.service.j2, or one
  a crashed run left), otherwise one is started as this process's child;
- after every plan (health, reload, repair): the pure step decides, and only when the set or
  a route's attributes changed are the include files rewritten and BIRD reconfigured;
- every second: a BIRD that died is started again (the files hold the set), a write that
  failed is retried, and the sessions' states are read for status and metrics;
- SIGTERM: everything is withdrawn, `withdraw_wait` seconds pass (the routers move the flows
  to the other directors while this one still forwards them), then BIRD is shut down if it
  is this process's child (an adopted one stays up, announcing nothing, for the next run).
  The IPVS table stays as it is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Set
from dataclasses import dataclass

from ipvsctl.bgp.announce import Verdict, announcements, routes_of
from ipvsctl.bgp.render import Route, bird_conf, session_name
from ipvsctl.bgp.speaker import Bird, folder_for
from ipvsctl.daemon.log import EventLog
from ipvsctl.errors import IpvsctlError
from ipvsctl.health.state import State
from ipvsctl.health.target import CheckTarget
from ipvsctl.host.identity import identify
from ipvsctl.host.locks import run_dir
from ipvsctl.model import Cluster, ServiceKey

ADOPTED_GRACE = 10  # ticks (seconds) an adopted BIRD may be away before run starts its own


@dataclass(frozen=True, slots=True)
class Session:
    name: str  # BIRD's protocol name
    neighbour: str
    asn: int
    state: str  # Established, Active, Connect, ... ("" before the first read)


@dataclass(frozen=True, slots=True)
class Announcement:
    """One VIP's state, for status and metrics."""

    address: str
    announced: bool  # in BIRD's files now
    wanted: bool  # what the last decision wanted (differs while a write fails)
    reason: str
    since: float
    services: tuple[ServiceKey, ...]


class Announcer:
    def __init__(self, netns: str | None, log: EventLog) -> None:
        self.bird = Bird(folder_for(run_dir(), identify(netns).scoped("bird")))
        self.log = log
        self.cluster: Cluster | None = None
        self.announced: set[str] = set()  # what the include files hold
        self.routes: dict[str, Route] = {}
        self.verdicts: dict[str, Verdict] = {}
        self.since: dict[str, float] = {}
        self.sessions: dict[str, str] = {}
        self.dirty = False  # a write failed: retried every second
        self.restarts = 0
        self.stopping = False
        self.adopted = False  # BIRD was running already: not ours to stop
        self.silent = 0  # ticks the adopted BIRD has not answered

    # -- start, reload, stop -------------------------------------------------------------

    def start(self, cluster: Cluster) -> None:
        self._configure_for(cluster)
        self.announced = self.bird.announced()
        now = time.time()
        self.since = dict.fromkeys(self.announced, now)
        if self.bird.answers():
            self.adopted = True
            self.log.event("bgp", f"adopted the BIRD answering on {self.bird.files.socket}; "
                                  f"{len(self.announced)} VIP(s) stay announced until the "
                                  "checks decide")
            try:
                self.bird.configure()
            except IpvsctlError as exc:
                self.log.event("error", f"bgp: {exc}; retried every second", level="error")
                self.dirty = True
        else:
            self.bird.start()
            self.log.event("bgp", f"started BIRD ({self.bird.files.conf}); "
                                  f"{len(self.announced)} VIP(s) announced until the checks "
                                  "decide")

    def reload(self, cluster: Cluster) -> None:
        """A new valid file: a changed bgp section rewrites bird.conf."""
        old = self.cluster
        if old is not None and (old.bgp, old.bgp_node) == (cluster.bgp, cluster.bgp_node):
            self.cluster = cluster
            return
        self._configure_for(cluster)
        try:
            self.bird.configure()
        except IpvsctlError as exc:
            self.log.event("error", f"bgp: {exc}", level="error")
            self.dirty = True

    def _configure_for(self, cluster: Cluster) -> None:
        assert cluster.bgp is not None and cluster.bgp_node is not None
        self.cluster = cluster
        self.bird.prepare(bird_conf(cluster.bgp, cluster.bgp_node, self.bird.files))

    async def stop(self) -> None:
        """Withdraw everything, wait withdraw_wait, shut BIRD down."""
        import asyncio

        self.stopping = True
        cluster = self.cluster
        wait = cluster.bgp.withdraw_wait if cluster and cluster.bgp else 0.0
        if self.announced:
            started = time.monotonic()
            self._write({}, "stopping")
            self.log.event("bgp", f"withdrew every VIP in {time.monotonic() - started:.3f}s; "
                                  f"stopping BIRD in {wait:g}s (withdraw_wait)")
        await asyncio.sleep(wait)
        if self.adopted:
            self.log.event("bgp", "BIRD left running (adopted), announcing nothing")
            return
        self.bird.stop()
        self.log.event("bgp", "BIRD stopped")

    def close(self) -> None:
        """The bgp section is gone from the file: withdraw at once and stop BIRD."""
        self.stopping = True
        if self.announced:
            self._write({}, "the bgp section was removed")
        self.bird.stop()
        self.log.event("bgp", "BIRD stopped (the file has no bgp section any more)")

    # -- after every plan -----------------------------------------------------------------

    def decide(self, states: Mapping[CheckTarget, State], present: Set[ServiceKey]) -> None:
        cluster = self.cluster
        if cluster is None or self.stopping:
            return
        self.verdicts = announcements(cluster, states, self.announced, present)
        wanted = {r.address: r for r in routes_of(self.verdicts)}
        if not self.dirty and set(wanted) == self.announced and wanted == self.routes:
            return
        self._write(wanted, "health")

    def _write(self, wanted: dict[str, Route], why: str) -> None:
        """Write and configure; `why` words the log line when no verdict does."""
        cluster = self.cluster
        assert cluster is not None and cluster.bgp is not None and cluster.bgp_node is not None
        try:
            self.bird.write(wanted.values(), cluster.bgp, cluster.bgp_node)
            self.bird.configure()
        except (IpvsctlError, OSError) as exc:
            if not self.dirty:
                self.log.event("error", f"bgp: {exc}; retried every second", level="error")
            self.dirty = True
            return
        self.dirty = False
        now = time.time()
        for address in sorted(set(wanted) - self.announced):
            self.since[address] = now
            verdict = self.verdicts.get(address)
            self.log.event("announce", f"{address}: {verdict.reason if verdict else why}",
                           vip=address)
        for address in sorted(self.announced - set(wanted)):
            self.since[address] = now
            verdict = self.verdicts.get(address)
            self.log.event("withdraw", f"{address}: {verdict.reason if verdict else why}",
                           vip=address)
        self.announced = set(wanted)
        self.routes = wanted

    # -- every second ---------------------------------------------------------------------

    def tick(self, states: Mapping[CheckTarget, State], present: Set[ServiceKey]) -> None:
        if self.stopping:
            return
        code = self.bird.exited()
        if self.adopted:
            if self.bird.answers():
                if self.silent:
                    self.log.event("bgp", "the adopted BIRD answers again")
                    self.silent = 0
                    self.dirty = True  # it may have started on older files: configure
            else:
                self.silent += 1
                if self.silent == 1:
                    self.log.event("error", "bgp: the adopted BIRD does not answer; waiting "
                                            f"{ADOPTED_GRACE:g}s for its unit to restart it",
                                   level="error")
                if self.silent < ADOPTED_GRACE:
                    return
                self.adopted, self.silent = False, 0
                code = -1  # nobody brought it back: run one of our own
        if code is not None:
            self.restarts += 1
            self.log.event("error", f"bgp: BIRD exited with status {code}; starting it again "
                                    "(its files hold the announced set)", level="error")
            try:
                self.bird.start()
            except IpvsctlError as exc:
                self.log.event("error", f"bgp: {exc}", level="error")
            return
        if self.dirty:
            self.decide(states, present)
        self.sessions = self.bird.sessions()

    # -- what others read -------------------------------------------------------------------

    def session_list(self) -> tuple[Session, ...]:
        node = self.cluster.bgp_node if self.cluster else None
        if node is None:
            return ()
        return tuple(Session(session_name(i, n), n.address, n.asn,
                             self.sessions.get(session_name(i, n), ""))
                     for i, n in enumerate(node.neighbours))

    def announcement_list(self) -> tuple[Announcement, ...]:
        out = []
        for address in sorted(set(self.verdicts) | self.announced):
            verdict = self.verdicts.get(address)
            out.append(Announcement(
                address, address in self.announced,
                verdict.announce if verdict else False,
                verdict.reason if verdict else "no service announces it",
                self.since.get(address, 0.0),
                tuple(v.service for v in verdict.votes) if verdict else ()))
        return tuple(out)
