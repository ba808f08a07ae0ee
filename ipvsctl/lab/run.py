"""One lab run: build the namespaces, apply the file, set up real servers, send traffic, judge.

The director is configured through `director.workflow.apply_cluster` and each real server
through `realserver.workflow.setup`: the very code paths of `ipvsctl apply` and
`ipvsctl backend-setup`.
Everything is torn down afterwards, also on failure, Ctrl-C or SIGTERM, unless `keep` is set.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from ipvsctl.errors import ConfigError, HostError
from ipvsctl.host.records import files_of, forget
from ipvsctl.lab import topology as topo_mod
from ipvsctl.lab.addressing import lab_services, plan_addresses
from ipvsctl.lab.report import LabReport, RunReport, ServiceRun, Transfer, judge
from ipvsctl.lab.servers import LabServers
from ipvsctl.lab.topology import Topology
from ipvsctl.lab.traffic import Answer, http_get, udp_ask
from ipvsctl.model import Cluster, Service, ServiceKey, Stats

Progress = Callable[[str], None]
STATS_WAIT = 6.0  # the kernel folds per-CPU counters into what it reports every 2 s


@dataclass(frozen=True, slots=True)
class LabOptions:
    clients: int = 1
    requests: int = 12  # per service; a multiple of the wrr cycle gives an exact split
    large_count: int = 5  # large responses per run ...
    large_bytes: int = 1 << 20  # ... of this size, on the first TCP service
    compare_nat: bool = False
    keep: bool = False
    skip_backend_setup: tuple[str, ...] = ()  # real servers left unprepared (ARP/VIP)
    down: tuple[str, ...] = ()  # real servers with no listener
    vip_without_arp: tuple[str, ...] = ()  # VIP on lo but no ARP sysctls: ARP flux on purpose
    timeout: float = 3.0  # seconds a request may take before it counts as lost
    run_director: bool = False  # then `ipvsctl run` owns the director; a listener stops


def run_lab(cluster: Cluster, options: LabOptions = LabOptions(),
            progress: Progress | None = None) -> LabReport:
    """The DR run, and with compare_nat the same run in NAT mode; never raises on a FAIL."""
    _validate(cluster, options)
    say = progress or (lambda _: None)
    started = time.monotonic()
    report = LabReport(cluster.path or "<cluster>", [])
    with _signals_interrupt():
        report.runs.append(run_once(cluster, "dr", options, say))
        if options.compare_nat:
            report.runs.append(run_once(as_nat(cluster), "nat", options, say))
    report.duration = time.monotonic() - started
    return report


def as_nat(cluster: Cluster) -> Cluster:
    """The same cluster with every real server forwarded by NAT (masquerading)."""
    services = {
        key: replace(svc, real_servers={
            rk: replace(rs, spec=rs.spec._replace(forward="nat"))
            for rk, rs in svc.real_servers.items()})
        for key, svc in cluster.services.items()}
    return replace(cluster, services=services)


def _validate(cluster: Cluster, options: LabOptions) -> None:
    problems = lab_services(cluster)
    reals = {rs.key.address for s in cluster.services.values() for rs in s.real_servers.values()}
    for opt, values in (("--skip-backend-setup", options.skip_backend_setup),
                        ("--down", options.down), ("--vip-without-arp", options.vip_without_arp)):
        problems += [f"{opt} {v}: not a real server in {cluster.path or 'the cluster'} "
                     f"({', '.join(sorted(reals))})" for v in values if v not in reals]
    if not 1 <= options.requests <= 10000:
        problems.append(f"--requests {options.requests}: must be 1..10000")
    if not 0 <= options.large_count <= 100 or not 0 < options.large_bytes <= 64 << 20:
        problems.append("large responses: 0..100 of at most 64 MiB each")
    if options.run_director:
        from ipvsctl.lab.director import choose_victim

        victim = choose_victim(cluster)
        if isinstance(victim, str):
            problems.append(f"--run-director: {cluster.path or 'the cluster'}: {victim}")
        if cluster.path is None:
            problems.append("--run-director: `ipvsctl run` needs the cluster as a file")
        if options.down or options.skip_backend_setup or options.vip_without_arp:
            problems.append("--run-director: runs with every real server prepared and "
                            "listening (without --down, --skip-backend-setup, "
                            "--vip-without-arp)")
    if problems:
        raise ConfigError(problems)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt like Ctrl-C, so the finally blocks tear the lab down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            # A forked helper (pyroute2 forks to open netlink sockets in a namespace, then
            # SIGTERMs it) must die as it would have, not unwind into the lab's teardown.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while tearing down: half a teardown is worse than a late exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    old = {s: signal.signal(s, signal.SIG_IGN) for s in held}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def run_once(cluster: Cluster, mode: str, options: LabOptions, say: Progress) -> RunReport:
    topo = topo_mod.describe(plan_addresses(cluster, options.clients), mode)
    dr = mode == "dr"
    run = RunReport(mode, topo.prefix, topo.plan, down=options.down,
                    skipped_setup=options.skip_backend_setup if dr else (),
                    vip_without_arp=options.vip_without_arp if dr else ())
    servers = LabServers()
    owner = os.getpid()
    try:
        _phase(run, "build", say, f"[{mode}] building namespaces {topo.prefix}-* "
               f"({len(topo.nodes)} nodes on one bridge)", lambda: topo_mod.build(topo))
        _phase(run, "apply", say, f"[{mode}] applying {cluster.path or 'the cluster'} on the "
               "director (ipvsctl apply)", lambda: _apply(cluster, topo, say))
        _phase(run, "backend", say, f"[{mode}] preparing real servers (ipvsctl backend-setup)"
               if mode == "dr" else f"[{mode}] real servers route clients via the director",
               lambda: _prepare_real_servers(cluster, topo, run, say))
        _phase(run, "servers", say, f"[{mode}] starting listeners",
               lambda: _start_servers(cluster, topo, servers, run))
        _phase(run, "traffic", say, f"[{mode}] sending {options.requests} requests per service"
               f" and {options.large_count} x {options.large_bytes >> 10} KiB responses",
               lambda: _traffic(cluster, topo, options, run))
        _phase(run, "observe", say, f"[{mode}] reading director counters and neighbour tables",
               lambda: _observe(topo, run))
        if dr and options.run_director:
            _phase(run, "director", say, f"[{mode}] handing the director to `ipvsctl run`; "
                   "a real server's listener stops, then comes back",
                   lambda: _failover(cluster, topo, servers, run, say))
        run.checks = judge(run)
    finally:
        if os.getpid() != owner:  # a forked helper unwinding: the lab is not its to remove
            os._exit(1)
        with _uninterrupted():
            servers.close()
            if options.keep:
                kept = [str(p) for ns in topo.namespaces for p in _records_of(ns)]
                run.kept = [*topo.delete_commands(), *([f"rm -f {' '.join(kept)}"] if kept
                                                       else [])]
            else:
                _teardown(topo, say)
    return run


def _phase(run: RunReport, name: str, say: Progress, text: str, fn: Callable[[], object]) -> None:
    say(text)
    t0 = time.monotonic()
    fn()
    run.timings[name] = time.monotonic() - t0


def _apply(cluster: Cluster, topo: Topology, say: Progress) -> None:
    from ipvsctl.director.workflow import apply_cluster
    from ipvsctl.plan.printer import progress_line

    apply_cluster(cluster, netns=topo.director.netns,
                  progress=lambda outcome: say(progress_line(outcome)))


def _prepare_real_servers(cluster: Cluster, topo: Topology, run: RunReport,
                          say: Progress) -> None:
    if topo.mode != "dr":
        return
    from ipvsctl.plan.printer import progress_line
    from ipvsctl.realserver.cluster import vips_for_host
    from ipvsctl.realserver.workflow import setup

    for address, node in topo.real_servers.items():
        vips, _ = vips_for_host(cluster, [address])
        if address in run.skipped_setup:
            say(f"  ! {address}: backend setup skipped on purpose")
            continue
        if address in run.vip_without_arp:
            say(f"  ! {address}: VIPs on lo WITHOUT the ARP sysctls, on purpose (ARP flux)")
            topo_mod.add_loopback_vips(node.netns, vips)
            continue
        say(f"  {address}: backend-setup --vip {' --vip '.join(vips)}")
        setup(vips, netns=node.netns, progress=lambda o: say("  " + progress_line(o)))


def _start_servers(cluster: Cluster, topo: Topology, servers: LabServers,
                   run: RunReport) -> None:
    for key, svc in cluster.services.items():
        for rs in svc.real_servers.values():
            if rs.key.address in run.down:
                continue
            node = topo.real_servers[rs.key.address]
            # DR: serve the VIP itself (replies must come from it); NAT: the director rewrote
            # the destination to the real server's own address.
            bind = key.address if topo.mode == "dr" else rs.key.address
            if key.protocol == "tcp":
                servers.start_http(node.netns, bind, rs.key.port, rs.key.address, freebind=True)
            elif key.protocol == "udp":
                servers.start_echo(node.netns, bind, rs.key.port, rs.key.address, freebind=True)
    run.listeners = list(servers.listeners)


def _count(svc: ServiceRun, answer: Answer) -> None:
    if answer.server is not None:
        svc.hits[answer.server] = svc.hits.get(answer.server, 0) + 1
    else:
        svc.errors[answer.error or "lost"] = svc.errors.get(answer.error or "lost", 0) + 1


def _traffic(cluster: Cluster, topo: Topology, options: LabOptions, run: RunReport) -> None:
    clients = topo.clients
    for key in sorted(cluster.services):
        svc = cluster.services[key]
        if key.protocol not in ("tcp", "udp"):
            continue  # sctp: nothing to speak it with here
        result = ServiceRun(key, svc.spec.scheduler, svc.spec.persistence is not None,
                            {rs.key.address: rs.spec.weight for rs in svc.real_servers.values()})
        held: list[socket.socket] = []  # UDP: every request from a source port of its own
        try:
            for i in range(options.requests):
                ns = clients[i % len(clients)].netns
                answer = (http_get(ns, key.address, key.port, timeout=options.timeout)
                          if key.protocol == "tcp"
                          else udp_ask(ns, key.address, key.port, timeout=options.timeout,
                                       hold=held))
                result.sent += 1
                result.connections += 1
                _count(result, answer)
        finally:
            for sock in held:
                sock.close()
        run.services.append(result)
    tcp = [s for s in run.services if s.key.protocol == "tcp"]
    if tcp and options.large_count:
        _large(tcp[0], topo, options, run)


def _large(svc: ServiceRun, topo: Topology, options: LabOptions, run: RunReport) -> None:
    """Large responses, with the director's interface counters read around them."""
    t = Transfer(str(svc.key), options.large_count, options.large_bytes)
    rx0, tx0 = topo_mod.iface_bytes(topo.director.netns)
    for i in range(options.large_count):
        ns = topo.clients[i % len(topo.clients)].netns
        answer = http_get(ns, svc.key.address, svc.key.port, f"/big?bytes={options.large_bytes}",
                          timeout=max(options.timeout, 10.0))
        svc.connections += 1
        t.client_bytes += answer.received
        t.answered += answer.ok and answer.received >= options.large_bytes
    rx1, tx1 = topo_mod.iface_bytes(topo.director.netns)
    t.director_rx, t.director_tx = rx1 - rx0, tx1 - tx0
    run.transfer = t


def _observe(topo: Topology, run: RunReport) -> None:
    from ipvsctl.ipvs import IpvsAdapter

    wanted = {s.key: s.connections for s in run.services}
    deadline = time.monotonic() + STATS_WAIT
    with IpvsAdapter(topo.director.netns) as adapter:
        while True:
            stats = _stats(adapter.observe(with_stats=True).services)
            settled = all(stats.get(k, Stats()).conns >= n for k, n in wanted.items())
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    for s in run.services:
        s.ipvs = stats.get(s.key)
    run.director_mac = topo_mod.mac_of(topo.director.netns)
    run.real_server_macs = {a: topo_mod.mac_of(n.netns) for a, n in topo.real_servers.items()}
    tables = {c.address: topo_mod.neighbours(c.netns) for c in topo.clients}
    for vip in topo.plan.vips:
        run.vip_macs[vip] = {c: table.get(vip) for c, table in tables.items()}
        run.arp_answers[vip] = sorted(topo_mod.arp_responders(topo.clients[0].netns, vip))


def _failover(cluster: Cluster, topo: Topology, servers: LabServers, run: RunReport,
              say: Progress) -> None:
    from ipvsctl.lab.director import choose_victim, failover

    victim = choose_victim(cluster)
    assert not isinstance(victim, str)  # refused by _validate before anything was built
    run.failover = failover(cluster, victim, topo, servers, say)


def _stats(services: dict[ServiceKey, Service]) -> dict[ServiceKey, Stats]:
    return {k: s.stats for k, s in services.items() if s.stats is not None}


def _teardown(topo: Topology, say: Progress) -> None:
    if not topo.created:
        return
    say(f"[{topo.mode}] tearing down {topo.prefix}-*")
    # The records apply and backend-setup kept go with their namespaces (found by the
    # namespace itself, so first, while it exists).
    for ns in topo.namespaces:
        with contextlib.suppress(HostError):
            forget(ns)
    topo_mod.teardown(topo)


def _records_of(netns: str) -> list[Path]:
    try:
        return files_of(netns)
    except HostError:
        return []
