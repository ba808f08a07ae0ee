"""Real-server setup for IPVS direct routing: VIPs on a non-ARP interface, ARP sysctls, files.

    observe host -> plan (pure) -> HostTarget executes through ipvsctl.plan.executor.execute()

The public API, also used by the lab for each real-server namespace:

    setup(vips, netns=..., client_interfaces=..., dry_run=...) -> (Plan, Result | None)
    teardown(netns=..., dry_run=...) -> (Plan, Result | None)
    check(vips, netns=..., ports=...) -> list[Finding]
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
from collections.abc import Iterator, Sequence

from ipvsctl.errors import ConfigError
from ipvsctl.host.identity import check_name, identify
from ipvsctl.host.locks import exclusive_lock
from ipvsctl.host.records import write_record
from ipvsctl.plan.changes import Plan
from ipvsctl.plan.executor import Progress, Result, execute
from ipvsctl.plan.findings import Finding
from ipvsctl.realserver.checker import check_host
from ipvsctl.realserver.facts import HostFacts
from ipvsctl.realserver.observer import observe, read_files
from ipvsctl.realserver.ops import WriteFile
from ipvsctl.realserver.planner import (
    plan_setup,
    plan_teardown,
    resolve_client_interfaces,
    wanted_sysctls,
)
from ipvsctl.realserver.record import RECORD_KIND
from ipvsctl.realserver.request import SetupRequest, build_request, parse_vips
from ipvsctl.realserver.target import HostTarget, load_record

__all__ = ["check", "file_diffs", "plan_for", "setup", "teardown"]
# jinja2 (the boot-time files) and the cluster-file loader load only when a run needs them;
# the CLI imports this module only when a real-server command runs.


def _cluster_vips(cluster_file: str, facts: HostFacts) -> tuple[list[str], list[str]]:
    from ipvsctl.config import load
    from ipvsctl.realserver.cluster import vips_for_host

    cluster = load(cluster_file)
    own = {a.address for a in facts.addresses}
    return vips_for_host(cluster, own, source=cluster_file)


@contextlib.contextmanager
def _locked(netns: str | None, dry_run: bool, scope: str | None = None) -> Iterator[None]:
    if dry_run:
        yield
        return
    with exclusive_lock(RECORD_KIND, netns, scope=scope):
        yield


def _image_scope(root: str, dry_run: bool) -> str | None:
    """The lock scope of an image tree (its folder's identity; made if missing, except by a
    dry run), after refusing a --root that is no folder or is the live system by another
    name."""
    real = os.path.realpath(root)
    if real == "/":
        raise ConfigError([f"--root {root}: resolves to /, the live system; use --persist "
                           "without --root, which records what it writes for teardown"])
    try:
        if not dry_run:
            os.makedirs(real, mode=0o755, exist_ok=True)
        st = os.stat(real)
    except FileNotFoundError:
        return None  # a dry run of a tree still to be made: every file is new
    except OSError as exc:
        raise ConfigError([f"--root {root}: {exc.strerror}"]) from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError([f"--root {root}: not a folder"])
    return f"root-{st.st_dev}-{st.st_ino}"


def _refuse_foreign_namespace(persist: str | None, netns: str | None, root: str | None) -> None:
    """Live --persist writes the host's /etc: only from the host's own namespace."""
    if persist is None or root is not None or netns is not None:
        return  # build_request refuses --persist with --netns
    if not identify(None).host:
        raise ConfigError(["--persist writes the host's boot-time files, but ipvsctl runs in "
                           "another network namespace (ip netns exec, a container): they "
                           "would describe this namespace; use --root DIR to render them"])


def plan_for(vips: Sequence[str] = (), *, netns: str | None = None, interface: str = "lo",
             client_interfaces: Sequence[str] | None = None, global_arp: bool = False,
             cluster_file: str | None = None, persist: str | None = None,
             root: str | None = None) -> tuple[SetupRequest, Plan]:
    """Validate, observe and plan a setup; touches nothing."""
    # Bad options fail before anything is observed.
    build_request(vips, interface=interface, client_interfaces=client_interfaces,
                  global_arp=global_arp, persist=persist, root=root, netns=netns,
                  require_vips=not cluster_file)
    facts = HostFacts() if root else observe(netns, vip_interface=interface)
    warnings: list[str] = []
    all_vips = list(vips)
    if cluster_file:
        if root:
            raise ConfigError(["--root with a cluster file: this host's addresses do not say "
                               "which VIPs the image serves; give them with --vip"])
        derived, warnings = _cluster_vips(cluster_file, facts)
        all_vips += derived
    req = build_request(all_vips, interface=interface, client_interfaces=client_interfaces,
                        global_arp=global_arp, persist=persist, root=root, netns=netns,
                        warnings=warnings)
    clients = resolve_client_interfaces(req, facts)
    files = []
    if req.persist:
        wanted, _ = wanted_sysctls(req, facts, clients)
        from ipvsctl.realserver.persist import render_files

        link = facts.links.get(req.interface)
        create_dummy = req.interface != "lo" and (link is None or link.kind == "dummy")
        files = render_files(req.persist, vips=req.vips, interface=req.interface,
                             create_dummy=create_dummy, sysctls=wanted)
        facts.files, facts.file_meta = read_files([f.path for f in files], req.root)
    return req, plan_setup(req, facts, clients, files)


def setup(vips: Sequence[str] = (), *, netns: str | None = None, interface: str = "lo",
          client_interfaces: Sequence[str] | None = None, global_arp: bool = False,
          cluster_file: str | None = None, persist: str | None = None, root: str | None = None,
          dry_run: bool = False, progress: Progress | None = None) -> tuple[Plan, Result | None]:
    """Put the VIPs on `interface` and quiet ARP for them; idempotent and recorded for teardown.

    Raises ConfigError / HostError before any change when the input or the host is unfit,
    PartialApplyError when a change fails part-way (rerun converges).
    """
    # Bad options fail before anything touches the disk: no lock file, no --root folder (and
    # a --netns name is checked even where --root means the namespace is never entered).
    if netns is not None:
        check_name(netns)
    build_request(vips, interface=interface, client_interfaces=client_interfaces,
                  global_arp=global_arp, persist=persist, root=root, netns=netns,
                  require_vips=not cluster_file)
    scope = _image_scope(root, dry_run) if root is not None else None
    _refuse_foreign_namespace(persist, netns, root)
    with _locked(netns, dry_run, scope):
        req, plan = plan_for(vips, netns=netns, interface=interface,
                             client_interfaces=client_interfaces, global_arp=global_arp,
                             cluster_file=cluster_file, persist=persist, root=root)
        if dry_run or not plan:
            return plan, None
        return plan, execute(plan, HostTarget(netns, root=req.root), progress)


def teardown(*, netns: str | None = None, dry_run: bool = False,
             progress: Progress | None = None) -> tuple[Plan, Result | None]:
    """Undo exactly what setup recorded, where it is still as setup left it."""
    with _locked(netns, dry_run):
        record = load_record(netns)
        facts = observe(netns)
        facts.files, facts.file_meta = read_files(list(record.get("files", {})), None)
        plan = plan_teardown(record, facts)
        if dry_run:
            return plan, None
        result = execute(plan, HostTarget(netns, undo=True), progress) if plan else None
        if record:  # all undone, or left on purpose and said so in the plan's warnings
            write_record(RECORD_KIND, netns, {})
        return plan, result


def check(vips: Sequence[str] = (), *, netns: str | None = None,
          cluster_file: str | None = None, ports: Sequence[int] = (),
          client_interfaces: Sequence[str] | None = None) -> list[Finding]:
    """Findings about this host as a DR real server; VIPs default to those setup recorded."""
    wanted = list(parse_vips(vips)) if vips else []
    bad_ports = [p for p in ports if not 0 < p < 65536]
    if bad_ports:
        raise ConfigError([f"--port {p}: must be 1..65535" for p in bad_ports])
    facts = observe(netns, listeners=bool(ports))
    warnings: list[str] = []
    if cluster_file:
        derived, warnings = _cluster_vips(cluster_file, facts)
        wanted += [v for v in derived if v not in wanted]
    if not wanted and not cluster_file:
        record = load_record(netns)
        wanted = [a["address"] for a in record.get("addresses", [])]
        if not wanted:
            raise ConfigError(["no VIP to check: give --vip ADDRESS or a cluster file "
                               "(nothing recorded by backend-setup here)"])
    req = build_request(wanted, client_interfaces=client_interfaces, require_vips=False)
    clients = resolve_client_interfaces(req, facts)
    findings = [Finding("warn", "cluster", w) for w in warnings]
    return findings + check_host(req.vips, facts, clients, ports)


def file_diffs(plan: Plan) -> dict[str, str]:
    """A unified diff per file the plan writes or removes (what a dry run shows)."""
    out = {}
    for c in plan.changes:
        op = c.op
        if not isinstance(op, WriteFile):
            continue
        new = f"-> {op.symlink_to}\n" if op.symlink_to else op.content or ""
        old = op.before or ""
        out[op.path] = "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=op.path if op.before is not None else "/dev/null",
            tofile=op.path if (op.content is not None or op.symlink_to) else "/dev/null"))
    return out
