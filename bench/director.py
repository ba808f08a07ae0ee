"""Detection: from a listener stopping to weight 0 in the kernel, `ipvsctl run` against
keepalived with the same check settings, in the same run (issue 15, benchmark 2).

    python bench/director.py [--rounds 3] [--json FILE]       (bench/run --director)

Needs root and a kernel with IPVS (keepalived's checker will not start without it; bench/run
--director starts the test VM when the host has none). A director and three DR real servers
in namespaces (the lab's topology), a TCP listener on each. The same settings for both tools:
a TCP connect check every 1 s, timeout 1 s, down after 2 failures, up after 1 success
(ipvsctl `interval: 1, timeout: 1, fall: 2, rise: 1`, `via: address`, as keepalived checks;
keepalived `delay_loop 1`, `connect_timeout 1`, `retry 1`, `delay_before_retry 1`, and
`inhibit_on_failure`, so that it sets weight 0 as ipvsctl does instead of deleting). One
listener is stopped; the time until `ipvsadm -Sn` shows its weight 0 is measured, then it is
started again and the time until its weight is back. Each tool runs `--rounds` times, the
tools one after the other against the same topology; the ratio is of the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ipvsctl.config import loads  # noqa: E402
from ipvsctl.host.netns import run_in_netns  # noqa: E402
from ipvsctl.lab import topology as topo_mod  # noqa: E402
from ipvsctl.lab.addressing import plan_addresses  # noqa: E402
from ipvsctl.realserver.workflow import setup  # noqa: E402

VIP = "10.30.0.100"
SERVERS = ("10.30.0.11", "10.30.0.12", "10.30.0.13")
INTERVAL, TIMEOUT, FALL, RISE, WEIGHT = 1, 1, 2, 1, 3
IP, IPVSADM = "/usr/sbin/ip", "/usr/sbin/ipvsadm"
POLL = 0.05  # seconds between two `ipvsadm -Sn` reads

CLUSTER = f"""\
services:
  - vip: {VIP}
    port: 80
    check:
      type: tcp
      via: address
      interval: {INTERVAL}
      timeout: {TIMEOUT}
      rise: {RISE}
      fall: {FALL}
    real_servers: [{", ".join(f"{{address: {a}, weight: {WEIGHT}}}" for a in SERVERS)}]
"""


def keepalived_conf() -> str:
    """keepalived's parser wants one keyword a line, every block opened at a line's end."""
    lines = ["global_defs {", "router_id bench", "}", f"virtual_server {VIP} 80 {{",
             f"delay_loop {INTERVAL}", "lb_algo wrr", "lb_kind DR", "protocol TCP"]
    for address in SERVERS:
        lines += [f"real_server {address} 80 {{", f"weight {WEIGHT}", "inhibit_on_failure",
                  "TCP_CHECK {", f"connect_timeout {TIMEOUT}", f"retry {FALL - 1}",
                  f"delay_before_retry {INTERVAL}", "}", "}"]
    return "\n".join([*lines, "}"]) + "\n"


def say(text: str) -> None:
    print(text, flush=True)


def weight_of(netns: str, address: str) -> int | None:
    out = subprocess.run([IP, "netns", "exec", netns, IPVSADM, "-Sn"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[:3] == ["-a", "-t", f"{VIP}:80"] and parts[4] == f"{address}:80":
            return int(parts[parts.index("-w") + 1])
    return None


class Poller:
    """Reads the kernel's weight until it is the one wanted; counts its own reads."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.reads = 0
        self.read_s = 0.0

    def wait(self, address: str, weight: int, most: float = 120) -> float:
        started = time.monotonic()
        while True:
            t0 = time.monotonic()
            now = weight_of(self.netns, address)
            self.reads += 1
            self.read_s += time.monotonic() - t0
            if now == weight:
                return time.monotonic() - started
            if time.monotonic() - started > most:
                raise SystemExit(f"{address} never reached weight {weight} within {most} s "
                                 f"(it has {now})")
            time.sleep(POLL)


class Listener:
    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.sock: socket.socket | None = None

    def start(self) -> None:
        def make() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", 80))  # noqa: S104 (a throwaway namespace)
            s.listen(64)
            return s

        sock = self.sock = run_in_netns(self.netns, make)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    @staticmethod
    def _serve(sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None


def start(tool: str, work: Path, director: str) -> subprocess.Popen[bytes]:
    log = (work / f"{tool}.log").open("ab")
    if tool == "ipvsctl":
        path = work / "cluster.yaml"
        argv = [sys.executable, "-m", "ipvsctl", "run", str(path), "--netns", director,
                "--log-format", "json"]
    else:
        conf = work / "keepalived.conf"
        conf.write_text(keepalived_conf())
        argv = [IP, "netns", "exec", director, "/usr/sbin/keepalived", "--dont-fork",
                "--log-console", "--check", "-f", str(conf), "-p", str(work / "k.pid"),
                "-c", str(work / "kc.pid")]
    with log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def detection(work: Path, rounds: int) -> dict[str, Any]:
    path = work / "cluster.yaml"
    path.write_text(CLUSTER)
    topo = topo_mod.describe(plan_addresses(loads(CLUSTER, str(path)), 1), "dr")
    listeners = {a: Listener(n.netns) for a, n in topo.real_servers.items()}
    director = topo.director.netns
    victim = SERVERS[0]
    out: dict[str, Any] = {"settings": {"interval": INTERVAL, "timeout": TIMEOUT,
                                        "fall": FALL, "rise": RISE}, "rounds": rounds}
    try:
        topo_mod.build(topo)
        for address, node in topo.real_servers.items():
            setup([VIP], netns=node.netns)
            listeners[address].start()
        for tool in ("ipvsctl", "keepalived"):
            subprocess.run([IP, "netns", "exec", director, IPVSADM, "-C"], check=True)
            poller = Poller(director)
            started = time.monotonic()
            proc = start(tool, work, director)
            try:
                for address in SERVERS:
                    poller.wait(address, WEIGHT, 300)
                ready = time.monotonic() - started
                downs, ups = [], []
                for _ in range(rounds):
                    time.sleep(INTERVAL)  # a round starts mid-cycle, wherever the checks are
                    listeners[victim].stop()
                    downs.append(poller.wait(victim, 0))
                    listeners[victim].start()
                    ups.append(poller.wait(victim, WEIGHT))
                if proc.poll() is not None:
                    raise SystemExit(f"{tool} exited {proc.returncode} during the run")
            finally:
                stop(proc)
            out[tool] = {"down_s": downs, "up_s": ups, "ready_s": ready,
                         "down_median_s": statistics.median(downs),
                         "up_median_s": statistics.median(ups),
                         "poll_s": poller.read_s / poller.reads}
            say(f"{tool:<10} to weight 0: {', '.join(f'{d:.2f}' for d in downs)} s "
                f"(median {statistics.median(downs):.2f}); back: "
                f"{', '.join(f'{u:.2f}' for u in ups)} s (median {statistics.median(ups):.2f}); "
                f"one ipvsadm -Sn read {poller.read_s / poller.reads:.3f} s")
    finally:
        for listener in listeners.values():
            listener.stop()
        topo_mod.teardown(topo)
    ours, theirs = out["ipvsctl"], out["keepalived"]
    out["down_ratio"] = ours["down_median_s"] / theirs["down_median_s"]
    out["up_ratio"] = ours["up_median_s"] / theirs["up_median_s"]
    bound = FALL * INTERVAL + TIMEOUT
    say(f"detection, ipvsctl / keepalived (medians): to weight 0 {out['down_ratio']:.2f}x, "
        f"back {out['up_ratio']:.2f}x; the timers' bound for both: fall x interval + timeout "
        f"= {bound} s out, rise x interval = {RISE * INTERVAL} s back")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["IPVSCTL_STATE_DIR"] = str(work / "state")
        os.environ["IPVSCTL_RUN_DIR"] = str(work / "run")
        results = {"detection": detection(work, args.rounds)}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
