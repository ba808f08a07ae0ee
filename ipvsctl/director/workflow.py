"""Director workflow: observe the live kernel, plan against the file, apply under a lock.

What ipvsctl manages survives crashes: before any change, the record of managed services is
widened to everything this apply may create; after it, narrowed to what the file lists plus
what is still draining. A service ipvsctl never recorded (made by hand or by another tool) is
left alone unless the file's scope claims it or --prune is given.

A run may be narrowed to some services (`--service`): only those are read from the kernel,
compared and changed; IPVS timeouts and sysctls are not, and the record keeps what it says about
every other service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ipvsctl.director.drains import drain_id, drain_service
from ipvsctl.director.ops import DeleteRealServer, DeleteService, DrainRealServer
from ipvsctl.director.planner import Ownership, plan_director
from ipvsctl.director.record import Record
from ipvsctl.director.table import IpvsTable
from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from ipvsctl.host.locks import exclusive_lock
from ipvsctl.model import Cluster, Director, HaDirector, Observed, ServiceKey
from ipvsctl.plan.changes import Change, Plan
from ipvsctl.plan.executor import Outcome, Result, execute, partial_error

Only = frozenset[ServiceKey] | None  # the services a narrowed run compares; None: all
# Turns the file (narrowed, when the run is) and the table just read into the desired table:
# how `ipvsctl run` puts its pure health step between the loader and the planner.
Shape = Callable[[Cluster, Observed], Cluster]
# The lock every writer of one namespace's table holds: each `apply` for its run, `ipvsctl
# run` for its whole life (so an apply there is refused, naming the daemon's pid).
WRITER_LOCK = "apply"


def _open_table(netns: str | None, *, load_modules: bool = True) -> IpvsTable:
    """The live table; only a run that may change it loads kernel modules."""
    from ipvsctl.ipvs import IpvsAdapter  # the only module that speaks IPVS netlink

    return IpvsAdapter(netns, load_modules=load_modules)


def as_node(cluster: Cluster, node: str | None) -> Cluster:
    """The cluster as this director applies it. For a file with `ha`, that is one of its
    directors, chosen by `node` (a name or hostname) or else by this host's name; its share
    (the sync threads) becomes director settings. For a file with `bgp`, the same choice
    among bgp.directors gives `bgp_node` (its router id, neighbours). Otherwise the file as
    it is."""
    if cluster.bgp is not None:
        import dataclasses
        import socket

        from ipvsctl.ha.node import choose_bgp

        chosen = choose_bgp(cluster.bgp, node, socket.gethostname(), cluster.path)
        return dataclasses.replace(cluster, bgp_node=chosen)
    from ipvsctl.ha.node import for_node

    director = this_director(cluster, node)
    return cluster if director is None else for_node(cluster, director)


def this_director(cluster: Cluster, node: str | None) -> HaDirector | None:
    """The director of the file's pair this run acts as (None for a file without `ha`)."""
    if cluster.ha is None:
        if node is not None and cluster.bgp is None:
            raise ConfigError([f"--node {node}: {cluster.path or 'the cluster file'} has no "
                               "ha or bgp section (no directors to choose from)"])
        return None
    import socket

    from ipvsctl.ha.node import choose

    return choose(cluster.ha, node, socket.gethostname(), cluster.path)


def narrowed(cluster: Cluster, only: frozenset[ServiceKey]) -> Cluster:
    """What a narrowed run compares: the selected services of the file, and of the director
    section only the drain timeout (IPVS timeouts and sysctls are not read, so not set)."""
    return Cluster(services={k: s for k, s in cluster.services.items() if k in only},
                   director=Director(drain_timeout=cluster.director.drain_timeout),
                   scope=cluster.scope, path=cluster.path)


def _planned(cluster: Cluster, observed: Observed, record: Record, prune: bool, only: Only,
             now: float) -> Plan:
    plan = plan_director(cluster, observed, Ownership(frozenset(record.managed), prune),
                         now=now, drains=record.drains)
    if only is not None:
        plan.only = sorted(str(k) for k in only)
        present = observed.present()
        plan.warnings += [f"service {k}: neither in {cluster.path or 'the cluster file'} nor in "
                          "the kernel; nothing to do" for k in sorted(only)
                          if k not in cluster.services and k not in present]
    return plan


def plan_cluster(cluster: Cluster, *, netns: str | None = None, prune: bool = False,
                 adapter: IpvsTable | None = None, only: Only = None) -> tuple[Plan, Observed]:
    """Read-only: what would `apply` change right now? (Loads no module, writes nothing.)"""
    table = adapter or _open_table(netns, load_modules=False)
    try:
        with gc_paused():
            return _plan(cluster, table, netns, prune, only)
    finally:
        if adapter is None:
            table.close()


def _plan(cluster: Cluster, table: IpvsTable, netns: str | None, prune: bool,
          only: Only) -> tuple[Plan, Observed]:
    if only is not None:
        cluster = narrowed(cluster, only)
    observed = table.observe(only=only, expect=cluster.services)
    plan = _planned(cluster, observed, Record.load(netns), prune, only, time.time())
    return plan, observed


def apply_cluster(cluster: Cluster, *, netns: str | None = None, prune: bool = False,
                  dry_run: bool = False, progress: Callable[[Outcome], None] | None = None,
                  adapter: IpvsTable | None = None, only: Only = None) -> tuple[Plan, Result]:
    """Make the kernel match the cluster; the whole sequence runs under the writer lock."""
    with exclusive_lock(WRITER_LOCK, netns):
        table = adapter or _open_table(netns)
        try:
            with gc_paused():
                return apply_locked(cluster, table, netns=netns, prune=prune, dry_run=dry_run,
                                    progress=progress, only=only)
        finally:
            if adapter is None:
                table.close()


def apply_locked(cluster: Cluster, table: IpvsTable, *, netns: str | None, prune: bool = False,
                 dry_run: bool = False, progress: Callable[[Outcome], None] | None = None,
                 only: Only = None, shape: Shape | None = None,
                 record: Record | None = None) -> tuple[Plan, Result]:
    """`apply_cluster` for a caller that holds the writer lock already (`ipvsctl run`);
    `shape` makes the desired table from the file and what was just read. `record`: the
    ownership record as this caller last left it, updated in place and saved as usual (a
    holder of the lock is its only writer; at 10,000 services reading it costs more than a
    one-service plan)."""
    if only is not None:
        cluster = narrowed(cluster, only)
    if shape is None:
        observed = table.observe(only=only, expect=cluster.services)
    else:  # the desired table is known only after the read: no byte comparison with it
        observed = table.observe(only=only)
        cluster = shape(cluster, observed)
    record = record if record is not None else Record.load(netns)
    now = time.time()
    plan = _planned(cluster, observed, record, prune, only, now)
    if dry_run:
        return plan, Result()
    loaded = record.copy()
    if not plan:
        _settle(record, cluster, observed, [], now, only)
        record.save(netns, unless_same_as=loaded)
        return plan, Result()
    # Widen first: a crash from here on still knows every service it may have created.
    record.managed |= set(cluster.services)
    record.save(netns, unless_same_as=loaded)
    widened = record.copy()
    result = execute(plan, table, progress, raise_on_failure=False)
    _settle(record, cluster, observed, result.applied, now, only)
    record.save(netns, unless_same_as=widened)
    if not result.ok:
        raise partial_error(plan, result)
    return plan, result


def _settle(record: Record, cluster: Cluster, observed: Observed, applied: Iterable[Change],
            now: float, only: Only = None) -> None:
    """Narrow the record to what is in the file or still present, and track drains.

    A narrowed run saw only its services, so it settles only their part of the record: what
    the record says about every other service is kept as it was.
    """
    if only is None:
        _settle_all(record, cluster, observed, applied, now)
        return
    names = {str(k) for k in only}
    kept = Record({k for k in record.managed if k not in only},
                  {d: t for d, t in record.drains.items() if drain_service(d) not in names})
    record.managed -= kept.managed
    record.drains = {d: t for d, t in record.drains.items() if d not in kept.drains}
    _settle_all(record, cluster, observed, applied, now)
    record.managed |= kept.managed
    record.drains.update(kept.drains)


def _settle_all(record: Record, cluster: Cluster, observed: Observed, applied: Iterable[Change],
                now: float) -> None:
    deleted: set[ServiceKey] = set()
    for change in applied:
        op = change.op
        if isinstance(op, DeleteService):
            deleted.add(op.service.key)
        elif isinstance(op, DrainRealServer):
            record.drains.setdefault(drain_id(op.service, op.real_server), now)
        elif isinstance(op, DeleteRealServer):
            record.drains.pop(drain_id(op.service, op.real_server), None)
    present = observed.present() - deleted
    record.managed = set(cluster.services) | (record.managed & present)
    if not record.drains:  # nothing to forget (and 100,000 drain ids not worth computing)
        return
    # Forget drains of real servers that are back in the file or gone from the kernel.
    live = {drain_id(k, rs) for k, svc in observed.services.items() if k not in deleted
            for rs in svc.real_servers.values()}
    wanted = {drain_id(k, rs) for k, svc in cluster.services.items()
              for rs in svc.real_servers.values()}
    record.drains = {d: t for d, t in record.drains.items() if d in live and d not in wanted}


def apply_and_wait(cluster: Cluster, *, netns: str | None = None, prune: bool = False,
                   progress: Callable[[Outcome], None] | None = None,
                   waiting: Callable[[Plan], None] | None = None, interval: float = 2.0,
                   timeout: float | None = None,
                   sleep: Callable[[float], None] = time.sleep,
                   only: Only = None) -> tuple[Plan, Result]:
    """Apply, then keep applying until no drain is waiting on connections.

    Each round re-reads the kernel, so killing this loop and starting it again resumes the
    same drains: their state lives in the kernel (weight 0, not in the file) and their start
    times in the record, never only in this process's memory.
    """
    started = time.monotonic()
    total = Result()
    while True:
        plan, result = apply_cluster(cluster, netns=netns, prune=prune, progress=progress,
                                     only=only)
        total.applied.extend(result.applied)
        if not plan.waiting:
            return plan, total
        if waiting:
            waiting(plan)
        if timeout is not None and time.monotonic() - started >= timeout:
            from ipvsctl.errors import IpvsctlError

            raise IpvsctlError(f"--wait gave up after {timeout:.0f}s with "
                               f"{len(plan.waiting)} real server(s) still draining; "
                               "rerun to keep waiting")
        sleep(interval)
