"""Check cost: ipvsctl's health checker against keepalived's, same targets, same run (issue 15).

    python bench/checks.py [--sizes 1000,10000] [--types tcp,http] [--window 20] [--json FILE]

Needs root and a kernel with IPVS (keepalived's checker will not start without it; bench/run
--checks starts the test VM when the host has none). For each size N and check type, N real
servers are checked every second:
  - ipvsctl: the health runner and state machine (ipvsctl.health), one process, checks
    TcpCheck / HttpCheck(path=/) at interval 1 s, timeout 1 s, via address;
  - keepalived (Debian's): TCP_CHECK / HTTP_GET (status 200) with delay_loop 1,
    connect_timeout 1, the real servers in virtual servers of 10, lb_kind DR,
    in turns against the same targets. Measured over the same window after a warm-up:
  - CPU seconds per 1,000 checks: utime + stime of the checker's processes (keepalived: the
    parent and its checker child) from /proc/PID/stat, divided by the checks done;
  - checks done: TCP passive opens in the targets' namespace (the same oracle for both);
    ipvsctl's runner also says how many of its checks completed, failed and timed out in
    the window (keepalived does not count its checks), so a rate of connections that never
    became completed checks shows;
  - achieved check rate: checks done / window, against the full rate N per second;
  - whole-machine CPU per 1,000 checks: every CPU's busy time over the window from
    /proc/stat (checker, nginx, and the kernel's work for both, wherever it ran). A checker
    that closes with a reset (ipvsctl: no TIME_WAIT on the director) does the server side's
    teardown in its own context; one that closes gracefully (keepalived) leaves it to the
    server's: this figure counts both the same way.
The targets: N addresses of 10.200.0.0/16 made local in one namespace by one `local` route,
served by nginx (Debian's; one C listener that keeps up, `return 200`), reached over a veth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ipvsctl.host.netns import run_in_netns  # noqa: E402

TARGET_NET = "10.200.0.0/16"
TARGET0 = int(ipaddress.IPv4Address("10.200.0.1"))
VS0 = int(ipaddress.IPv4Address("10.201.0.1"))
CHECKER_IP, SERVER_IP = "10.199.0.1", "10.199.0.2"
PER_VS = 10
TICKS = os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def sh(*argv: str, check: bool = True, **kw: Any) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kw)
    if check and done.returncode != 0:
        raise SystemExit(f"{argv}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def targets(n: int) -> list[str]:
    return [str(ipaddress.IPv4Address(TARGET0 + i)) for i in range(n)]


# ---- the network ---------------------------------------------------------------------------

class Net:
    def __init__(self) -> None:
        tag = os.getpid()
        self.checker, self.server = f"bench-chk-{tag}", f"bench-srv-{tag}"

    def build(self) -> None:
        for ns in (self.checker, self.server):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.checker, "link", "add", "eth0", "type", "veth", "peer", "name",
           "eth0", "netns", self.server)
        for ns, ip in ((self.checker, CHECKER_IP), (self.server, SERVER_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.server, "route", "add", "local", TARGET_NET, "dev", "lo")
        sh("ip", "-n", self.checker, "route", "add", TARGET_NET, "via", SERVER_IP)
        for ns in (self.checker, self.server):
            for name, value in (("net/core/somaxconn", "65535"),
                                ("net/ipv4/tcp_max_syn_backlog", "65535"),
                                ("net/ipv4/ip_local_port_range", "1024 65000")):
                sh("ip", "netns", "exec", ns, "sh", "-c", f"echo {value} > /proc/sys/{name}")

    def passive_opens(self) -> int:
        text = sh("ip", "netns", "exec", self.server, "cat", "/proc/net/snmp")
        lines = [line.split() for line in text.splitlines() if line.startswith("Tcp:")]
        return int(lines[1][lines[0].index("PassiveOpens")])

    def teardown(self) -> None:
        for ns in (self.checker, self.server):
            sh("ip", "netns", "delete", ns, check=False)


def nginx(net: Net, work: Path) -> subprocess.Popen[bytes]:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
worker_rlimit_nofile 200000;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log error;
events {{ worker_connections 100000; multi_accept on; }}
http {{
  access_log off;
  keepalive_timeout 0;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{ listen 80 backlog=65535; location / {{ return 200 "ok\\n"; }} }}
}}
""")
    proc = subprocess.Popen(["ip", "netns", "exec", net.server, "/usr/sbin/nginx", "-c",
                             str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
    until = time.monotonic() + 60
    while time.monotonic() < until:
        with contextlib.suppress(OSError):
            run_in_netns(net.checker, lambda: socket.create_connection(("10.200.0.1", 80), 2)
                         .close())
            return proc
        time.sleep(0.5)
    raise SystemExit("nginx did not start")



# ---- CPU of a set of processes -------------------------------------------------------------

def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of these processes so far."""
    user = system = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11])
            system += int(fields[12])
    return user / TICKS, system / TICKS


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (every CPU; idle and iowait left out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def settle(most: float = 120.0, quiet: float = 0.1) -> float:
    """Wait until the machine is quiet (under `quiet` of one CPU busy over 2 s) or `most`
    seconds have passed; how long that took. A namespace torn down after a run is cleaned
    up by the kernel afterwards (keepalived's 10,000 real servers in IPVS, every socket),
    which would be charged to the next run. In the 2026-12-03 VM runs the wait was 2-4 s."""
    start = time.monotonic()
    end = start + most
    while time.monotonic() < end:
        busy, t = machine_busy(), time.monotonic()
        time.sleep(2)
        if machine_busy() - busy < quiet * (time.monotonic() - t):
            break
    return round(time.monotonic() - start, 1)


def quiet() -> float:
    waited = settle()
    say(f"machine quiet after {waited:g} s")
    return waited


def warm_up(net: Net, n: int, most: float) -> float:
    """Wait until the targets see the full rate (90% of N per second over 2 s) or `most`
    seconds have passed; the last rate seen."""
    end = time.monotonic() + most
    rate = 0.0
    while time.monotonic() < end:
        opens, t = net.passive_opens(), time.monotonic()
        time.sleep(2)
        rate = (net.passive_opens() - opens) / (time.monotonic() - t)
        if rate >= 0.9 * n:
            break
    return rate


def measure(net: Net, n: int, pids: list[int], warmup: float, window: float,
            counted: Any = None) -> dict[str, Any]:
    """The window's figures; `counted()`, when given, returns the checker's own counters
    (read at both ends of the window)."""
    seen = warm_up(net, n, warmup)
    say(f"warm: {seen:.0f} checks/s; measuring for {window:g} s")
    own0 = counted() if counted else None
    cpu0, opens0, t0 = cpu_seconds(pids), net.passive_opens(), time.monotonic()
    busy0 = machine_busy()
    time.sleep(window)
    busy1 = machine_busy()
    cpu1, opens1, t1 = cpu_seconds(pids), net.passive_opens(), time.monotonic()
    own1 = counted() if counted else None
    checks = opens1 - opens0
    seconds = t1 - t0
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    figures = {"cpu_seconds": round(user + system, 3), "user_s": round(user, 3),
               "system_s": round(system, 3), "checks": checks,
               "window_s": round(seconds, 2), "rate": round(checks / seconds, 1),
               "cpu_per_1000": round((user + system) / checks * 1000, 4) if checks else None,
               "machine_cpu_s": round(busy1 - busy0, 3),
               "machine_cpu_per_1000": (round((busy1 - busy0) / checks * 1000, 4)
                                        if checks else None)}
    if own0 is not None and own1 is not None:
        figures["window_counters"] = {
            k: (round(own1[k] - own0[k], 3) if isinstance(own1[k], float) else own1[k] - own0[k])
            for k in own1 if k != "lag"}
        figures["lag_s"] = own1.get("lag")
    return figures


# ---- ipvsctl -------------------------------------------------------------------------------

def run_ipvsctl(net: Net, n: int, kind: str, warmup: float, window: float,
                kept: bool = True) -> dict[str, Any]:
    """`kept=False`: every check on a fresh socket (the runner before its socket pool), the
    same-run baseline for what keeping sockets saves."""
    argv = ["ip", "netns", "exec", net.checker, sys.executable, str(Path(__file__).resolve()),
            "--worker", kind, "--targets", str(n), *([] if kept else ["--fresh"])]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready = proc.stdout.readline()  # after its imports (seconds, under emulation)
        if ready.strip() != "ready":
            raise SystemExit(f"the ipvsctl worker did not start: {ready!r}")
        say(f"ipvsctl{'' if kept else ' (fresh sockets)'}: checking {n} real servers ({kind})")

        def counted() -> dict[str, Any]:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("counters\n")
            proc.stdin.flush()
            result: dict[str, Any] = json.loads(proc.stdout.readline())
            return result

        figures = measure(net, n, [proc.pid], warmup, window, counted)
        proc.stdin.close()  # the worker's signal to stop and report
        figures["worker"] = json.loads(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            proc.wait(120)
    return figures


def worker(kind: str, n: int, fresh: bool) -> None:
    """The ipvsctl side, inside the checker namespace: runner + state machine, N targets."""
    from ipvsctl.health import HttpCheck, Probe, TcpCheck, Tracker
    from ipvsctl.health.runner import Runner
    from ipvsctl.health.target import CheckTarget

    spec = TcpCheck(interval=1, timeout=1) if kind == "tcp" else HttpCheck(interval=1, timeout=1)
    probes = {t: Probe(t) for t in (CheckTarget(spec, a, 80) for a in targets(n))}
    tracker = Tracker()
    transitions = 0

    def report(target: CheckTarget, ok: bool, detail: str) -> None:
        nonlocal transitions
        if tracker.record(target, ok, detail) is not None:
            transitions += 1

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, report, kept=0 if fresh else None)

        def figures() -> dict[str, Any]:
            c = runner.counters
            return {"started": c.started, "succeeded": c.succeeded, "failed": c.failed,
                    "timed_out": c.timed_out, "overrun": c.overrun, "capped": c.capped,
                    "late": c.late, "stalled_s": round(c.stalled, 3),
                    "lag": round(runner.lag(), 3), "transitions": transitions}

        runner.update(probes)
        print("ready", flush=True)
        # One line of counters per line asked; the driver closes stdin to stop.
        while await loop.run_in_executor(None, sys.stdin.readline):
            print(json.dumps(figures()), flush=True)
        final = figures()
        await runner.aclose()
        return final

    print(json.dumps(asyncio.run(main())), flush=True)


# ---- keepalived ----------------------------------------------------------------------------

def keepalived_conf(n: int, kind: str) -> str:
    """keepalived's parser wants one keyword a line, every block opened at a line's end."""
    check = (["TCP_CHECK {", "connect_timeout 1", "}"] if kind == "tcp" else
             ["HTTP_GET {", "url {", "path /", "status_code 200", "}", "connect_timeout 1",
              "}"])
    lines = ["global_defs {", "router_id bench", "}"]
    addresses = targets(n)
    for v in range(0, n, PER_VS):
        vip = ipaddress.IPv4Address(VS0 + v // PER_VS)
        lines += [f"virtual_server {vip} 80 {{", "delay_loop 1", "lb_algo wrr", "lb_kind DR",
                  "protocol TCP"]
        for address in addresses[v:v + PER_VS]:
            lines += [f"real_server {address} 80 {{", "weight 1", "inhibit_on_failure",
                      *check, "}"]
        lines.append("}")
    return "\n".join(lines) + "\n"


def run_keepalived(net: Net, n: int, kind: str, warmup: float, window: float, work: Path
                   ) -> dict[str, Any]:
    conf = work / f"keepalived-{kind}-{n}.conf"
    conf.write_text(keepalived_conf(n, kind))
    pidfile, checker_pidfile = work / "keepalived.pid", work / "checkers.pid"
    log = (work / "keepalived.log").open("w")
    argv = ["ip", "netns", "exec", net.checker, "/usr/sbin/keepalived", "--dont-fork",
            "--log-console", "--check", "-f", str(conf), "-p", str(pidfile),
            "-c", str(checker_pidfile)]
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        # Warm-up starts once keepalived has programmed every real server into IPVS.
        until = time.monotonic() + 900
        while time.monotonic() < until:
            table = sh("ip", "netns", "exec", net.checker, "cat", "/proc/net/ip_vs", check=False)
            if table.count("->") >= n + 1 and checker_pidfile.exists():
                break
            time.sleep(1)
        else:
            tail = (work / "keepalived.log").read_text()[-2000:]
            raise SystemExit(f"keepalived did not program its real servers:\n{tail}")
        say(f"keepalived: {n} real servers in IPVS; warming up")
        child = int(checker_pidfile.read_text().split()[0])
        figures = measure(net, n, [proc.pid, child], warmup, window)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return figures


# ---- the driver ----------------------------------------------------------------------------

def against(ours: dict[str, Any], theirs: dict[str, Any], key: str) -> float | None:
    return (round(ours[key] / theirs[key], 2) if ours.get(key) and theirs.get(key) else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--types", default="tcp,http")
    parser.add_argument("--warmup", type=float, default=90.0,
                        help="at most this long until the full check rate is reached")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--json")
    parser.add_argument("--keep", help="keep the work files (configs, logs) in this folder")
    parser.add_argument("--tools", default="ipvsctl,keepalived",
                        help="ipvsctl alone runs without IPVS (profiling on any host); "
                             "ipvsctl-fresh adds the runner without kept sockets")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--targets", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.targets, args.fresh)
        return
    tools = args.tools.split(",")
    for tool in ("/usr/sbin/keepalived", "/usr/sbin/nginx"):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} is missing (scripts/bootstrap installs it)")
    results: dict[str, Any] = {"machine": {"kernel": platform.release(), "cpus": os.cpu_count(),
                                           "python": platform.python_version()},
                               "window_s": args.window, "runs": []}
    print(f"# check cost, kernel {platform.release()}, {os.cpu_count()} CPUs, "
          f"window {args.window:g} s after {args.warmup:g} s warm-up")
    print(f"{'N':>6} {'type':5} {'tool':13} {'rate/s':>8} {'of N':>6} {'CPU s/1000':>10} "
          f"{'ratio':>6} {'machine/1000':>12} {'ratio':>6}")
    for n in (int(s) for s in args.sizes.split(",")):
        for kind in args.types.split(","):
            net = Net()
            work = Path(tempfile.mkdtemp(prefix="bench-checks-", dir=args.keep))
            try:
                net.build()
                server = nginx(net, work)
                try:
                    waited = quiet()
                    ours = {**run_ipvsctl(net, n, kind, args.warmup, args.window),
                            "settled_s": waited}
                    fresh = None
                    if "ipvsctl-fresh" in tools:
                        waited = quiet()
                        fresh = {**run_ipvsctl(net, n, kind, args.warmup, args.window,
                                               kept=False), "settled_s": waited}
                    theirs: dict[str, Any] = {"rate": 0.0, "cpu_per_1000": None, "checks": 0}
                    if "keepalived" in tools:
                        waited = quiet()
                        theirs = {**run_keepalived(net, n, kind, args.warmup, args.window,
                                                   work), "settled_s": waited}
                finally:
                    server.terminate()
                    server.wait(30)
            finally:
                net.teardown()
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
            ratio = against(ours, theirs, "cpu_per_1000")
            machine = against(ours, theirs, "machine_cpu_per_1000")
            results["runs"].append({"n": n, "type": kind, "ipvsctl": ours,
                                    "keepalived": theirs, "cpu_ratio": ratio,
                                    "machine_cpu_ratio": machine,
                                    **({"ipvsctl_fresh": fresh} if fresh else {})})
            print(f"# ipvsctl runner: {ours['worker']}", flush=True)
            print(f"# ipvsctl in the window: {ours.get('window_counters')}, lag at its end "
                  f"{ours.get('lag_s')} s", flush=True)
            rows = [("ipvsctl", ours, ratio, machine)]
            if fresh:
                print(f"# ipvsctl-fresh runner: {fresh['worker']}", flush=True)
                rows.append(("ipvsctl-fresh", fresh, against(fresh, theirs, "cpu_per_1000"),
                             against(fresh, theirs, "machine_cpu_per_1000")))
            rows.append(("keepalived", theirs, 1.0, 1.0))
            for tool, fig, cpu, whole in rows:
                print(f"{n:>6} {kind:5} {tool:13} {fig['rate']:>8} "
                      f"{fig['rate'] / n:>6.2f} {fig['cpu_per_1000'] or 0:>10.4f} "
                      f"{cpu or 0:>6} {fig.get('machine_cpu_per_1000') or 0:>12.4f} "
                      f"{whole or 0:>6}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
