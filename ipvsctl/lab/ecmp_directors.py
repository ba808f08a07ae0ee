"""What runs on each lab director: `ipvsctl run`, which applies the table, checks the real
servers and drives its own BIRD, announcing each VIP while its service is healthy.

All directors run one generated cluster file per mode (`--node dN` picks each one's BGP
identity): the user's services on the mode's scheduler, a `bgp` section peering with the lab's
router, and on every TCP service `announce` plus a tcp check the lab's timing can count on
(the user's own checks would probe the lab's line servers with HTTP and fail).

Taking a director out: `kill` cuts its only link, freezes `run` and SIGKILLs its BIRD (a dead
machine says nothing: the router finds out when the hold time ends); `stop_gracefully` sends
`run` SIGTERM (it withdraws every VIP, waits `withdraw_wait`, stops BIRD, exits);
`fail_service` cuts the director off from its real servers, so its own checks fail and it
alone withdraws.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ipvsctl.errors import HostError
from ipvsctl.lab import ecmp_topology as topo_mod
from ipvsctl.lab.ecmp_plan import DIRECTOR_AS, ROUTER_AS, EcmpPlan, Timers
from ipvsctl.lab.ecmp_topology import EcmpTopology
from ipvsctl.model import Cluster, ServiceKey

DRIVER = "ipvsctl run (its BIRD announces each VIP by health)"
# The lab's checks: a failed service is out within fall x interval + timeout.
CHECK_INTERVAL, CHECK_TIMEOUT, CHECK_FALL = 1, 1, 2
CHECK: dict[str, Any] = {"type": "tcp", "interval": CHECK_INTERVAL, "timeout": CHECK_TIMEOUT,
                         "rise": 1, "fall": CHECK_FALL}
WITHDRAW_WAIT = 1  # seconds `run` waits after withdrawing, before it stops BIRD
STOP_TIMEOUT = 60.0


def detection_seconds() -> float:
    """How long the lab's checks take at most to call a failed service down."""
    return float(CHECK_FALL * CHECK_INTERVAL + CHECK_TIMEOUT)


def cluster_document(cluster: Cluster, plan: EcmpPlan, timers: Timers) -> dict[str, Any]:
    """The file every director runs for one mode (a JSON document; pure)."""
    from ipvsctl.config.dumper import _document

    tcp = {k for k in cluster.services if k.protocol == "tcp"}
    doc = _document(cluster, {k: {"check": CHECK} for k in tcp})
    by_place = sorted(cluster.services, key=_order)
    for key, svc in zip(by_place, doc["services"], strict=True):
        if key in tcp:
            svc["announce"] = True
    doc["bgp"] = {
        "local_as": DIRECTOR_AS, "hold_time": timers.hold, "withdraw_wait": WITHDRAW_WAIT,
        "neighbours": [{"address": plan.router, "as": ROUTER_AS}],
        "directors": [{"name": f"d{i}", "router_id": a, "local_address": a}
                      for i, a in enumerate(plan.directors, 1)]}
    return doc


def _order(key: Any) -> Any:
    from ipvsctl.config.dumper import _service_order

    return _service_order(key)


def write_file(path: Path, cluster: Cluster, plan: EcmpPlan, timers: Timers) -> None:
    """Write (or replace, atomically: `run` reloads it) the file every director runs."""
    doc = cluster_document(cluster, plan, timers)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def scheduler_of(netns: str, key: ServiceKey) -> str | None:
    """The scheduler the director's kernel has for the service (None: not there yet)."""
    from ipvsctl.ipvs import IpvsAdapter

    with IpvsAdapter(netns) as adapter:
        svc = adapter.observe(only=frozenset({key})).services.get(key)
    return svc.spec.scheduler if svc is not None else None


class Director:
    def __init__(self, topo: EcmpTopology, index: int, workdir: Path, file: Path) -> None:
        self.topo, self.index, self.workdir, self.file = topo, index, workdir, file
        self.name = f"d{index + 1}"
        self.netns = topo.directors[index]
        self.address = topo.plan.directors[index]
        self.log = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "ipvsctl", "run", str(self.file), "--netns", self.netns,
                "--node", self.name]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 6) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").strip().splitlines()
            return " | ".join(text[-lines:]) or "(nothing logged yet)"
        return "(no log)"

    def _bird_folder(self) -> Path:
        from ipvsctl.bgp.speaker import folder_for
        from ipvsctl.host.identity import identify
        from ipvsctl.host.locks import run_dir

        return folder_for(run_dir(), identify(self.netns).scoped("bird")).folder

    def _bird_pid(self) -> int | None:
        path = self._bird_folder() / "bird.pid"
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text().strip())
        return None

    def _signal_run(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        """The machine dies: its link goes, `run` freezes, its BIRD is SIGKILLed."""
        topo_mod.set_link(self.topo, self.index, up=False)
        self._signal_run(signal.SIGSTOP)
        bird = self._bird_pid()
        if bird is not None:
            _kill_and_wait(bird)

    def revive(self) -> None:
        """Back: the link returns, `run` thaws, finds its BIRD dead and starts a new one (as
        after any BIRD crash), so no interpreter start-up is paid here."""
        topo_mod.set_link(self.topo, self.index, up=True)
        self._signal_run(signal.SIGCONT)

    def stop_gracefully(self) -> None:
        self._signal_run(signal.SIGTERM)
        self._signal_run(signal.SIGCONT)  # a frozen one, too

    def finish_stop(self) -> None:
        """Wait for `run` to exit after SIGTERM (it withdraws, waits, stops BIRD)."""
        if self.proc is None:
            return
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise HostError(f"lab: ipvsctl run on {self.name} did not stop in "
                            f"{STOP_TIMEOUT:.0f} s after SIGTERM: {self.log_tail()}") from exc
        self.proc = None
        if rc != 0:
            raise HostError(f"lab: ipvsctl run on {self.name} exited {rc} on SIGTERM: "
                            f"{self.log_tail()}")

    def fail_service(self) -> None:
        topo_mod.isolate_real_servers(self.topo, self.index, isolated=True)

    def recover_service(self) -> None:
        topo_mod.isolate_real_servers(self.topo, self.index, isolated=False)

    def close(self) -> None:
        bird = self._bird_pid()
        if self.proc is not None and self.proc.poll() is None:
            self._signal_run(signal.SIGKILL)
            self._signal_run(signal.SIGCONT)
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.proc = None
        if bird is not None:
            _kill_and_wait(bird)
        # run keeps its speaker's files for the next run in this namespace; the namespace
        # goes now, and a later one may get its inode (the folder's name)
        shutil.rmtree(self._bird_folder(), ignore_errors=True)


def _kill_and_wait(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL BIRD (run's child in a session of its own) and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _is_bird(pid):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_bird(pid):
        time.sleep(0.05)


def _is_bird(pid: int) -> bool:
    """The pid still names a live BIRD (not a zombie, not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat.partition(") ")
    return name.endswith("(bird") and not rest.startswith("Z")
