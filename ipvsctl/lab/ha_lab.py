"""`ipvsctl lab FILE --ha`: two directors fail over under real traffic, sync on and off.

Per mode, in throwaway namespaces on one bridge: two directors, each running Debian's
keepalived (VRRP only, on the file ipvsctl renders) and `ipvsctl run` (table, sync threads,
health file); the real servers; a client holding long-lived connections and sending a steady
stream of new requests, with an ARP prober. The lab kills the master the way a power cut does
(its link first, then keepalived and run with SIGKILL, its table, VIP, sync threads and /run
gone), brings it back like a reboot (link, run, keepalived), and reports from the client's
side. Nothing but the namespaces it made is touched; everything is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ipvsctl.config import load
from ipvsctl.errors import HostError
from ipvsctl.ha.keepalived import Hooks, render
from ipvsctl.ha.notify import health_path
from ipvsctl.host.netns import NETNS_DIR, run_in_netns
from ipvsctl.host.records import forget
from ipvsctl.host.sysctl import sysctl_path, write_sysctl
from ipvsctl.lab.ha_figures import CONVERGE, Events, ModeFigures, figures
from ipvsctl.lab.ha_picture import svg
from ipvsctl.lab.ha_plan import IFACE, HaLabPlan, lab_file, plan
from ipvsctl.lab.ha_traffic import Client, ClientOptions, Server
from ipvsctl.lab.topology import _ip_batch, add_loopback_vips, mac_of
from ipvsctl.model import Cluster

Progress = Callable[[str], None]
KEEPALIVED = "/usr/sbin/keepalived"
IPVSADM = "/usr/sbin/ipvsadm"
IP = "/usr/sbin/ip"
START_WAIT = 180.0  # keepalived and a Python start take tens of seconds in an emulated VM


@dataclass(frozen=True, slots=True)
class HaLabOptions:
    out: Path
    client: ClientOptions = ClientOptions()  # noqa: RUF009 (frozen: immutable)
    before: float = 4.0  # seconds of steady traffic before the master dies
    down: float = 10.0  # seconds the master stays dead
    settle: float = 6.0  # seconds of traffic after the master holds the VIP again
    modes: tuple[bool, ...] = (True, False)  # sync on, sync off
    # The master comes back in these modes (without sync no connection is left to break, so
    # the return is skipped there: a Python start costs a minute in a loaded emulated VM).
    returns: tuple[bool, ...] = (True,)


@dataclass(slots=True)
class HaLabReport:
    source: str
    advert_seconds: float
    modes: list[ModeFigures] = field(default_factory=list)
    picture: str | None = None
    duration: float = 0.0

    @property
    def target_seconds(self) -> float:
        return 3 * self.advert_seconds + 1.0

    def checks(self) -> list[tuple[str, bool]]:
        out = []
        for m in self.modes:
            tag = f"sync {'on' if m.sync else 'off'}"
            f = m.failover_seconds
            out.append((f"{tag}: failover {f if f is not None else 'never'} s <= "
                        f"{self.target_seconds:g} s (3 x advert + 1 s)",
                        f is not None and f <= self.target_seconds))
            out.append((f"{tag}: split brain after convergence {m.split_brain_converged} = 0 "
                        f"({m.split_brain} of {m.probes} ARP probes answered twice, "
                        f"within {CONVERGE:g} s of a takeover or not)",
                        m.split_brain_converged == 0))
            if m.sync:
                out.append((f"{tag}: {m.survived}/{m.established} established connections "
                            "survived >= 99%", m.survived >= 0.99 * m.established))
                out.append((f"{tag}: the master's return broke {m.died_after_return} "
                            f"connections = 0 ({m.failed_after_return} new requests failed "
                            "after it)", m.died_after_return == 0 and m.return_seconds
                            is not None))
        return out

    @property
    def ok(self) -> bool:
        return bool(self.modes) and all(ok for _, ok in self.checks())

    def to_json(self) -> dict[str, Any]:
        return {"file": self.source, "advert_seconds": self.advert_seconds,
                "target_failover_seconds": self.target_seconds, "ok": self.ok,
                "modes": [m.to_json() for m in self.modes], "picture": self.picture,
                "checks": [{"check": text, "ok": ok} for text, ok in self.checks()],
                "duration_seconds": round(self.duration, 1)}


def ha_report_lines(report: HaLabReport) -> list[str]:
    lines = [f"lab --ha {report.source}: advert {report.advert_seconds:g} s, "
             f"{report.duration:.0f} s"]
    for m in report.modes:
        f = f"{m.failover_seconds:.2f} s" if m.failover_seconds is not None else "never"
        lines += [f"  sync {'on ' if m.sync else 'off'}: failover {f}; new requests failed "
                  f"{m.failed_in_failover} in the failover, {m.failed} of {m.sent} in all; "
                  f"connections survived {m.survived}/{m.established}; split brain "
                  f"{m.split_brain_converged} (+{m.split_brain - m.split_brain_converged} "
                  "within takeovers); "
                  + (f"master back in {m.return_seconds} s, broke {m.died_after_return} "
                     "connections" if m.return_seconds is not None else "no return")]
    lines += [f"  {'ok  ' if ok else 'FAIL'} {text}" for text, ok in report.checks()]
    if report.picture:
        lines.append(f"  picture: {report.picture}")
    lines.append("PASS" if report.ok else "FAIL")
    return lines


def run_ha_lab(cluster: Cluster, options: HaLabOptions,
               progress: Progress | None = None) -> HaLabReport:
    say = progress or (lambda _: None)
    lab = plan(cluster)  # a file the lab cannot use fails here, before anything is made
    for program in (KEEPALIVED, IPVSADM, IP):
        if not os.access(program, os.X_OK):
            raise HostError(f"lab --ha: {program} is missing (Debian packages keepalived, "
                            "ipvsadm, iproute2; scripts/bootstrap installs them)")
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report = HaLabReport(lab.source, lab.advert_seconds)
    for sync in options.modes:
        report.modes.append(ModeRun(lab, sync, options, say).run())
    picture = options.out / "failover.svg"
    picture.write_text(svg(f"ipvsctl lab --ha {lab.source}: the master dies at 0 s",
                           report.modes, options.down, [d.name for d in lab.directors]))
    report.picture = str(picture)
    report.duration = time.monotonic() - started
    (options.out / "report.json").write_text(json.dumps(report.to_json(), indent=1) + "\n")
    return report


def set_link(netns: str, ifname: str, up: bool) -> None:
    """IFF_UP on or off with one rtnetlink message: no exec, so the crash has one moment."""
    def do() -> None:
        index = socket.if_nametoindex(ifname)
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:
            body = struct.pack("=BxHiII", 0, 0, index, 1 if up else 0, 1)
            sock.send(struct.pack("=IHHII", 16 + len(body), 16, 0x5, 1, 0) + body)
            err = struct.unpack_from("=i", sock.recv(4096), 16)[0]
            if err:
                raise HostError(f"lab: link {ifname} in {netns}: {os.strerror(-err)}")
    run_in_netns(netns, do)


def hook_program(folder: Path) -> str:
    """An ipvsctl keepalived will run as root: a wrapper in a root-only folder (keepalived's
    script security refuses hooks anyone but root could change)."""
    program = folder / "ipvsctl"
    program.write_text(f"#!/bin/sh\nexec {sys.executable} -m ipvsctl \"$@\"\n")
    program.chmod(0o755)
    return str(program)


class ModeRun:
    def __init__(self, lab: HaLabPlan, sync: bool, options: HaLabOptions, say: Progress) -> None:
        self.lab, self.sync, self.o, self.say = lab, sync, options, say
        self.tag = "sync" if sync else "nosync"
        self.prefix = f"ipvsha-{os.getpid() % 10000}-{self.tag}"
        self.ns = {d.name: f"{self.prefix}-{d.name}"[:40] for d in lab.directors}
        self.rs = {a: f"{self.prefix}-rs{i}" for i, a in enumerate(lab.real_servers, 1)}
        self.bridge, self.client_ns = f"{self.prefix}-br", f"{self.prefix}-c"
        self.port = {d.name: f"d{i}" for i, d in enumerate(lab.directors, 1)}
        self.dir = options.out / self.tag
        self.file = self.dir / "pair.json"
        self.runs: dict[str, subprocess.Popen[bytes]] = {}
        self.kas: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []
        self.made: list[str] = []

    # -- the whole mode ------------------------------------------------------------------

    def run(self) -> ModeFigures:
        master, backup = (d.name for d in self.lab.directors)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(lab_file(self.lab, self.sync), indent=1) + "\n")
        try:  # /run: a root-only path keepalived's script security accepts
            hooks = Path(tempfile.mkdtemp(prefix="ipvsctl-lab-", dir="/run"))
        except OSError:
            hooks = Path(tempfile.mkdtemp(prefix="ipvsctl-lab-"))
        servers: list[Server] = []
        client: Client | None = None
        try:
            self._build()
            servers = [Server(ns, f"rs{i}", self.lab.port)
                       for i, ns in enumerate(self.rs.values(), 1)]
            for server in servers:
                server.start()
            self.say(f"[{self.tag}] network built; starting ipvsctl run on both directors")
            for name in (master, backup):
                self._start_run(name)
            for name in (master, backup):
                self._wait(self._healthy(name), f"{name}: run healthy")
            program = hook_program(hooks)
            self._start_keepalived(master, program)
            self._wait(lambda: self._has_vip(master), f"{master}: keepalived holds the VIP")
            self._start_keepalived(backup, program)
            self._wait(lambda: b"Entering BACKUP STATE" in self._ka_log(backup),
                       f"{backup}: keepalived is backup")
            macs = {mac_of(self.ns[n]): n for n in (master, backup)}
            client = Client(self.client_ns, self.lab.client, self.lab.vip, self.lab.port,
                            self.o.client)
            client.start()
            self._wait(client.ready.is_set, "the client's connections")
            if client.error is not None:
                raise HostError(f"lab: the client could not connect: {client.error}")
            self.say(f"[{self.tag}] {self.o.client.connections} connections held; "
                     f"killing {master} in {self.o.before:g} s")
            time.sleep(self.o.before)
            kill = time.time()
            self._crash(master)
            time.sleep(max(0.0, kill + self.o.down - time.time()))
            back = time.time()
            back_master = None
            if self.sync in self.o.returns:
                self.say(f"[{self.tag}] {master} comes back")
                self._reboot(master, program)
                mine = next(m for m, n in macs.items() if n == master)
                self._wait(lambda: any(t > back and m == mine for t, m in client.seen.garps),
                           f"{master}: the VIP back")
                back_master = next(t for t, m in client.seen.garps if t > back and m == mine)
            time.sleep(self.o.settle)
            client.stop.set()
            client.join(self.o.client.final + 30)
            result = figures(client.seen, Events(kill, back, back_master), self.sync, macs)
            (self.dir / "figures.json").write_text(json.dumps(result.to_json()) + "\n")
            self.say(f"[{self.tag}] failover {result.failover_seconds} s, survived "
                     f"{result.survived}/{result.established}, split brain "
                     f"{result.split_brain}")
            return result
        finally:
            if client is not None:
                client.stop.set()
            self._stop_all()
            for server in servers:
                server.stop.set()
            self._teardown()
            with contextlib.suppress(OSError):
                (hooks / "ipvsctl").unlink()
                hooks.rmdir()

    # -- building and removing -----------------------------------------------------------

    def _build(self) -> None:
        lab = self.lab
        everything = [self.bridge, *self.ns.values(), *self.rs.values(), self.client_ns]
        for ns in everything:
            if (NETNS_DIR / ns).exists():
                raise HostError(f"lab: network namespace {ns} already exists")
        self.made = everything
        _ip_batch(f"netns add {ns}" for ns in everything)
        nodes = {**{self.port[n]: ns for n, ns in self.ns.items()},
                 **{f"rs{i}": ns for i, ns in enumerate(self.rs.values(), 1)},
                 "c": self.client_ns}
        bridge = ["link set lo up", "link add br0 type bridge", "link set br0 up"]
        for port, ns in nodes.items():
            bridge += [f"link add {port} type veth peer name {IFACE} netns {ns}",
                       f"link set {port} master br0", f"link set {port} up"]
        _ip_batch(bridge, self.bridge)
        clients = f"{lab.client.rsplit('.', 1)[0]}.0/{lab.client_prefix}"
        for d in lab.directors:
            ns = self.ns[d.name]
            # A default route, as a director has: `via: vip` checks from the backup (which
            # does not hold the VIP) need a route to it before IPVS steers them.
            _ip_batch(["link set lo up", f"link set {IFACE} up",
                       f"address add {d.address}/{lab.prefix} dev {IFACE}",
                       f"route add {clients} dev {IFACE}", f"route add default dev {IFACE}"],
                      ns)
            for scope in ("all", IFACE):  # ARP for the VIP only where it is (keepalived's)
                write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_ignore"), "1", ns)
                write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_announce"), "2", ns)
        for address, ns in self.rs.items():
            _ip_batch(["link set lo up", f"link set {IFACE} up",
                       f"address add {address}/{lab.prefix} dev {IFACE}",
                       f"route add {clients} dev {IFACE}"], ns)
            add_loopback_vips(ns, [lab.vip])
            for scope in ("all", IFACE):
                write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_ignore"), "1", ns)
                write_sysctl(sysctl_path(f"net.ipv4.conf.{scope}.arp_announce"), "2", ns)
        _ip_batch(["link set lo up", f"link set {IFACE} up",
                   f"address add {lab.client}/{lab.client_prefix} dev {IFACE}",
                   f"route add default dev {IFACE}"], self.client_ns)

    def _teardown(self) -> None:
        for ns in self.ns.values():
            with contextlib.suppress(OSError, HostError):
                health_path(ns).unlink(missing_ok=True)
            forget(ns)
        gone = [ns for ns in self.made if (NETNS_DIR / ns).exists()]
        if gone:
            _ip_batch((f"netns delete {ns}" for ns in gone), force=True)

    # -- the directors' programs ---------------------------------------------------------

    def _log(self, name: str) -> IO[bytes]:
        fh = open(self.dir / name, "ab")  # noqa: SIM115 (kept open for the child)
        self.logs.append(fh)
        return fh

    def _start_run(self, name: str) -> None:
        ns = self.ns[name]
        argv = [sys.executable, "-m", "ipvsctl", "run", str(self.file), "--netns", ns,
                "--node", name]
        log = self._log(f"{name}.run.log")
        self.runs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT)

    def _start_keepalived(self, name: str, program: str) -> None:
        ns = self.ns[name]
        pair = load(self.file)
        director = next(d for d in pair.ha.directors if d.name == name) if pair.ha else None
        if director is None:
            raise HostError(f"lab: {self.file} names no director {name}")
        conf = self.dir / f"{name}.keepalived.conf"
        conf.write_text(render(pair, director, Hooks(program, str(health_path(ns)), ns)))
        argv = [IP, "netns", "exec", ns, KEEPALIVED, "-n", "-l", "-D", "-P", "-f", str(conf),
                "-p", str(self.dir / f"{name}.pid"), "-r", str(self.dir / f"{name}.vrrp.pid")]
        self.kas[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=self._log(f"{name}.keepalived.log"),
                                          stderr=subprocess.STDOUT)

    def _ka_log(self, name: str) -> bytes:
        try:
            return (self.dir / f"{name}.keepalived.log").read_bytes()
        except OSError:
            return b""

    def _health(self, name: str) -> str | None:
        try:
            return health_path(self.ns[name]).read_text().strip()
        except OSError:
            return None

    def _healthy(self, name: str) -> Callable[[], bool]:
        return lambda: self._health(name) == "1"

    def _has_vip(self, name: str) -> bool:
        done = subprocess.run([IP, "-n", self.ns[name], "-o", "address", "show", "dev", IFACE],
                              capture_output=True, text=True, check=False)
        return f" {self.lab.vip}/32 " in done.stdout

    def _wait(self, what: Callable[[], bool], label: str) -> None:
        deadline = time.monotonic() + START_WAIT
        while not what():
            for name, proc in self.runs.items():
                if proc.poll() is not None:
                    raise HostError(f"lab: ipvsctl run of {name} exited with "
                                    f"{proc.returncode} (log: {self.dir / (name + '.run.log')})")
            if time.monotonic() > deadline:
                raise HostError(f"lab: {label}: not within {START_WAIT:g} s (logs in "
                                f"{self.dir})")
            time.sleep(0.1)

    def _kill(self, name: str) -> None:
        """SIGKILL keepalived (both processes: -P keeps a VRRP child) and run."""
        pids = []
        with contextlib.suppress(OSError, ValueError):
            pids.append(int((self.dir / f"{name}.vrrp.pid").read_text()))
        with contextlib.suppress(OSError, ValueError):
            pids.append(int((self.dir / f"{name}.pid").read_text()))
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for proc in (self.kas.pop(name, None), self.runs.pop(name, None)):
            if proc is not None:
                proc.kill()
                proc.wait()

    def _crash(self, name: str) -> None:
        """Power cut: off the segment at once, then every bit of state lost."""
        ns = self.ns[name]
        set_link(self.bridge, self.port[name], up=False)
        self._kill(name)
        subprocess.run([IP, "netns", "exec", ns, IPVSADM, "-C"], check=False,
                       capture_output=True)
        for state in ("master", "backup"):
            subprocess.run([IP, "netns", "exec", ns, IPVSADM, "--stop-daemon", state],
                           check=False, capture_output=True)
        subprocess.run([IP, "-n", ns, "address", "del", f"{self.lab.vip}/32", "dev", IFACE],
                       check=False, capture_output=True)
        with contextlib.suppress(OSError):  # a reboot's /run is empty
            health_path(ns).unlink()
        forget(ns)

    def _reboot(self, name: str, program: str) -> None:
        """As systemd starts them: both at once. keepalived reads no health file yet (no
        bonus), so the master claims the VIPs only once `run` says 1."""
        set_link(self.bridge, self.port[name], up=True)
        self._start_run(name)
        self._start_keepalived(name, program)

    def _stop_all(self) -> None:
        for procs in (self.kas, self.runs):
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for name in self.ns:
            self._kill(name)
        for fh in self.logs:
            fh.close()
