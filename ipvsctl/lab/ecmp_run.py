"""The ECMP lab: several directors behind a BGP router, one taken out while flows are held.

Per mode (mh + sloppy_tcp, then wrr): every director starts on the mode's table and announces
the VIPs; for each way of losing a director (kill, graceful stop) a fresh round of long-lived
flows is opened, counted per director (their IPVS entries), asked once, d1 is taken out, the
router's route is watched until d1 is gone, and the flows are asked again: those that answer
survived through the other directors. Then a service fails on d1 alone, and the router must
drop d1 and keep every other director. Everything is torn down afterwards, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ipvsctl.errors import HostError, IpvsctlError
from ipvsctl.host.records import forget
from ipvsctl.lab import ecmp_topology as topo_mod
from ipvsctl.lab.ecmp_bird import Bird, lab_dir, render_router
from ipvsctl.lab.ecmp_directors import CHECK, DRIVER, Director, scheduler_of, write_file
from ipvsctl.lab.ecmp_flows import LineServers, established_by, open_round, probe
from ipvsctl.lab.ecmp_plan import MODES, EcmpOptions, EcmpPlan, Mode, for_mode, plan_ecmp
from ipvsctl.lab.ecmp_report import EVENTS, EcmpReport, Event, ModeRun, ServiceFailure
from ipvsctl.lab.ecmp_topology import EcmpTopology, NextHops
from ipvsctl.lab.run import _signals_interrupt, _uninterrupted
from ipvsctl.lab.servers import LabServers
from ipvsctl.model import Cluster

Progress = Callable[[str], None]
# Seconds for `ipvsctl run` to start, apply and announce: an interpreter start-up costs tens
# of seconds in an emulated VM under load.
START_TIMEOUT = 240.0


DEFAULT = EcmpOptions()


def run_ecmp(cluster: Cluster, options: EcmpOptions = DEFAULT,
             progress: Progress | None = None, modes: tuple[Mode, ...] = MODES) -> EcmpReport:
    """Run the lab; a host problem half-way ends it with `error` set, never with a raise."""
    if cluster.bgp is not None:  # the file's own hold time, on both ends of every session
        options = replace(options, timers=replace(options.timers, hold=cluster.bgp.hold_time,
                                                  keepalive=cluster.bgp.keepalive))
    plan = plan_ecmp(cluster, options)
    say = progress or (lambda _: None)
    report = EcmpReport(cluster.path or "<cluster>",
                        {f"d{i}": a for i, a in enumerate(plan.directors, 1)}, DRIVER,
                        str(plan.flow_service), options.flows, options.timers, dict(CHECK))
    started = time.monotonic()
    with _signals_interrupt():
        lab = _Lab(cluster, plan, options, say)
        try:
            lab.build()
            for mode in modes:
                report.modes.append(lab.run_mode(mode))
        except IpvsctlError as exc:
            report.error = "; ".join(exc.lines())
        finally:
            with _uninterrupted():
                lab.close()
    report.duration = time.monotonic() - started
    return report


class _Lab:
    def __init__(self, cluster: Cluster, plan: EcmpPlan, options: EcmpOptions,
                 say: Progress) -> None:
        self.cluster, self.plan, self.options, self.say = cluster, plan, options, say
        self.topo: EcmpTopology = topo_mod.describe(plan)
        self.workdir = Path(tempfile.gettempdir()) / self.topo.prefix
        self.router = Bird(self.topo.router, "router", self.workdir)
        self.file = self.workdir / "cluster.json"  # every director runs it, mode by mode
        self.directors = [Director(self.topo, i, self.workdir, self.file)
                          for i in range(len(plan.directors))]
        self.lines = LineServers()
        self.echo = LabServers()
        self.hops: NextHops | None = None
        self.rounds = 0
        self.owner = os.getpid()

    # -- building ------------------------------------------------------------------------
    def build(self) -> None:
        topo = self.topo
        self.say(f"[ecmp] building namespaces {topo.prefix}-* (router, client, "
                 f"{len(self.directors)} directors, {len(topo.real_servers)} real servers)")
        topo_mod.build(topo)
        lab_dir(self.workdir)
        self.say("[ecmp] starting the router's BIRD (merge paths, L4 multipath hash)")
        self.router.start(render_router(self.plan, self.options.timers))
        self.hops = NextHops(topo.router)
        self._real_servers()

    def _real_servers(self) -> None:
        from ipvsctl.realserver.cluster import vips_for_host
        from ipvsctl.realserver.workflow import setup

        for address, ns in self.topo.real_servers.items():
            vips, _ = vips_for_host(self.cluster, [address])
            self.say(f"[ecmp]   {address}: backend-setup --vip {' --vip '.join(vips)}")
            setup(vips, netns=ns)
        for key, svc in self.cluster.services.items():
            for rs in svc.real_servers.values():
                ns = self.topo.real_servers[rs.key.address]
                if key.protocol == "tcp":
                    self.lines.listen(ns, key.address, rs.key.port, rs.key.address)
                elif key.protocol == "udp":
                    self.echo.start_echo(ns, key.address, rs.key.port, rs.key.address,
                                         freebind=True)

    # -- one mode ------------------------------------------------------------------------
    def _wait(self, want: list[str], why: str, timeout: float | None = None) -> float:
        """Seconds until the router's route has exactly these next hops (`why` names the
        moment in the error)."""
        assert self.hops is not None
        try:
            return self.hops.wait(self.plan.flow_service.address, set(want),
                                  timeout or self.options.route_timeout)
        except HostError as exc:
            sessions = self.router.birdc("show", "protocols").stdout.split("\n", 1)[-1]
            summary = "; ".join(" ".join(line.split()) for line in sessions.splitlines()
                                if " BGP " in line)
            logs = "; ".join(f"{d.name} ({'running' if d.alive() else 'exited'}): "
                             f"{d.log_tail(4)}" for d in self.directors)
            raise HostError(f"{why}: {exc}; the router's sessions: {summary}; {logs}") from exc

    def _all(self) -> list[str]:
        return list(self.plan.directors)

    def _others(self) -> list[str]:
        return list(self.plan.directors[1:])

    def run_mode(self, mode: Mode) -> ModeRun:
        label = mode.name + (" + sloppy_tcp" if mode.sloppy_tcp else "")
        self.say(f"[ecmp] {label}: starting {len(self.directors)} directors")
        started = time.monotonic()
        write_file(self.file, for_mode(self.cluster, mode), self.plan, self.options.timers)
        for d in self.directors:
            if not d.alive():
                d.start()
        self._wait_tables(mode)  # a running director reloads the rewritten file
        t = self._wait(self._all(), "all directors announce", START_TIMEOUT)
        t = time.monotonic() - started
        self.say(f"[ecmp] {label}: the router has {len(self.directors)} next hops "
                 f"({t:.1f} s)")
        result = ModeRun(mode)
        for kind in EVENTS:
            result.events[kind] = self._event(kind, label)
        result.service_failure = self._service_failure(label)
        return result

    def _wait_tables(self, mode: Mode) -> None:
        """Until every director's kernel has the mode's scheduler (the file is applied)."""
        key = self.plan.flow_service
        deadline = time.monotonic() + START_TIMEOUT
        for d in self.directors:
            while (now := scheduler_of(d.netns, key)) != mode.scheduler:
                if not d.alive() or time.monotonic() > deadline:
                    raise HostError(f"lab: {d.name} never applied {mode.scheduler} to {key} "
                                    f"(it has {now}): {d.log_tail()}")
                time.sleep(0.5)

    def _event(self, kind: str, label: str) -> Event:
        plan, svc = self.plan, self.plan.flow_service
        source = plan.round_source(self.rounds)
        self.rounds += 1
        topo_mod.add_client_address(self.topo, source)
        rnd = open_round(self.topo.client, source, svc.address, svc.port, self.options.flows)
        try:
            per_dir = {d.name: established_by(d.netns, source, rnd.ports, svc.address)
                       for d in self.directors}
            opened = len(rnd.opened)
            established = probe(rnd, self.options.probe_seconds)
            d1 = self.directors[0]
            self.say(f"[ecmp] {label}: {len(rnd.opened)} flows from {source} "
                     f"({'/'.join(str(n) for n in per_dir.values())} per director); "
                     f"{'killing' if kind == 'kill' else 'stopping'} d1")
            t0 = time.monotonic()
            if kind == "kill":
                d1.kill()
            else:
                d1.stop_gracefully()
            self._wait(self._others(), f"d1 {kind}")
            withdrawn = time.monotonic() - t0
            survived = probe(rnd, self.options.probe_seconds)
            self.say(f"[ecmp] {label}: router dropped d1 after {withdrawn:.2f} s; "
                     f"{survived}/{established} connections survived")
        finally:
            rnd.close()
        if kind == "kill":
            d1.revive()
        else:
            d1.finish_stop()
            d1.start()
        self._wait(self._all(), "d1 back", START_TIMEOUT)
        return Event(kind, source, per_dir, dict(rnd.by_server), opened, rnd.failed,
                     established, survived, withdrawn)

    def _service_failure(self, label: str) -> ServiceFailure:
        assert self.hops is not None
        d1 = self.directors[0]
        vip = self.plan.flow_service.address
        before = self.hops.of(vip)
        self.say(f"[ecmp] {label}: the service fails on d1 only")
        t0 = time.monotonic()
        d1.fail_service()
        with contextlib.suppress(HostError):
            self._wait(self._others(), "d1 withdraws")
        seconds = time.monotonic() - t0
        after = self.hops.of(vip)
        self.say(f"[ecmp] {label}: router kept {', '.join(after) or 'nothing'} "
                 f"({seconds:.2f} s)")
        d1.recover_service()
        self._wait(self._all(), "d1 recovered")
        return ServiceFailure(d1.address, before, after, seconds)

    # -- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        if os.getpid() != self.owner:
            os._exit(1)
        for d in self.directors:  # as an operator would: withdraw, stop, clean up
            d.stop_gracefully()
        for d in self.directors:
            with contextlib.suppress(HostError, OSError):
                d.finish_stop()
            with contextlib.suppress(HostError, OSError):
                d.close()
        self.lines.close()
        self.echo.close()
        with contextlib.suppress(HostError, OSError):
            self.router.stop(hard=True)
        if self.hops is not None:
            self.hops.close()
        if self.options.keep:
            self.say("[ecmp] kept: " + "; ".join(self.topo.delete_commands()))
            return
        if self.topo.created:
            self.say(f"[ecmp] tearing down {self.topo.prefix}-*")
        for ns in self.topo.created:
            with contextlib.suppress(HostError):
                forget(ns)
        topo_mod.teardown(self.topo)
        with contextlib.suppress(OSError):
            for f in self.workdir.iterdir():
                f.unlink()
            self.workdir.rmdir()
