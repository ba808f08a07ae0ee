"""`ipvsctl run` holding a large file (issue #15, benchmarks 3 and 4), for bench/bench.py.

Given a namespace whose table is already the file's (bench.py's ipvsctl namespace after its
runs), `held_edit` starts `ipvsctl run FILE --netns NS --log-format json` there, waits for
its `ready` line and then measures, in this order:
  - the daemon's RSS (VmRSS and VmHWM from /proc/PID/status) once ready and again after the
    edit; with `checked` every real server has a tcp check (`via: address`, interval 3600 s,
    fall 3: checks run, none can change a weight during the run), which is benchmark 4;
  - with `checked`, the edited service's own check is every 2 s with rise 1, and its real
    servers' addresses are made local in the namespace and served by a listener: the edit
    waits for the edited server's `up` transition, since a server without a verdict keeps its
    kernel weight by design (and its edit would write nothing);
  - `ipvsadm -Sn` of that same table, the yardstick (median of 3);
  - a one-line edit: one real server's weight, written as a new file renamed over the old
    one, and the time from the rename to the daemon's `reload` line (which includes the
    daemon noticing the file: inotify, or its poll as the fallback), with every `apply` line
    (one per change written) in between; the kernel must show the new weight afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gen
from measure import measure

CHECK = "{type: tcp, via: address, interval: 3600, timeout: 1, rise: 2, fall: 3}"
EDITED_CHECK = "{type: tcp, via: address, interval: 2, timeout: 1, rise: 1, fall: 3}"
LISTENER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {port}))
s.listen(512)
while True:
    s.accept()[0].close()
"""


# A reconcile is a full read and plan of the table (a no-op plan's cost: about a minute at
# 10,000 x 10 in the VM), and the loop runs one thing at a time: at the default 30 s, an edit
# would often wait behind one. The edit's own path is what is measured here.
DIRECTOR = "director: {reconcile_interval: 3600}\n"


def cluster_text(n: int, per: int, changed: int | None, checked: bool) -> str:
    text = DIRECTOR + gen.cluster_yaml(n, per, changed=changed)
    if not checked:
        return text
    vip = edited_service(n, per)[0]
    head = f"  - vip: {vip}\n    port: {gen.PORT}\n    scheduler: wrr\n"
    text = text.replace(head, f"{head}    check: {EDITED_CHECK}\n", 1)
    return f"defaults:\n  check: {CHECK}\n{text}"


def edited_service(n: int, per: int) -> tuple[str, list[tuple[str, int]]]:
    return next(s for i, s in enumerate(gen.table(n, per)) if i == n // 2)


def events(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:  # a line still being written
                break
    return out


def wait_event(proc: subprocess.Popen[bytes], log: Path, kind: str, after: int,
               most: float) -> dict[str, Any]:
    until = time.monotonic() + most
    while time.monotonic() < until:
        for event in events(log)[after:]:
            if event["event"] == kind:
                return event
        if proc.poll() is not None:
            raise RuntimeError(f"ipvsctl run exited {proc.returncode}: "
                               f"{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"no {kind} line from ipvsctl run within {most:.0f} s: "
                       f"{log.read_text()[-3000:]}")


def wait_verdict(proc: subprocess.Popen[bytes], log: Path, address: str, most: float
                 ) -> float:
    """When the check of `address` went up (monotonic clock)."""
    until = time.monotonic() + most
    while time.monotonic() < until:
        for event in events(log):
            if event["event"] == "transition" and event.get("state") == "up" \
                    and f" {address}:" in f" {event.get('target', '')}":
                return time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"ipvsctl run exited {proc.returncode}: "
                               f"{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"no up verdict for {address} within {most:.0f} s")


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def weight_in(table: str, vip: str, rip: str) -> int | None:
    for line in table.splitlines():
        parts = line.split()
        if parts[:5] == ["-a", "-t", f"{vip}:{gen.PORT}", "-r", f"{rip}:{gen.PORT}"]:
            return int(parts[parts.index("-w") + 1])
    return None


def held_edit(n: int, per: int, netns: str, data: Path, env: dict[str, str], *,
              checked: bool, base_changed: int | None, edit_changed: int | None,
              most: float = 3600) -> dict[str, Any]:
    """One `ipvsctl run` over the table in `netns`, which must be the file's with
    `base_changed`; the edit rewrites it as the file with `edit_changed`."""
    name = "checked" if checked else "plain"
    path, log = data / f"run-{name}.yaml", data / "log" / f"run-{name}.err"
    log.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cluster_text(n, per, base_changed, checked))
    vip, servers = edited_service(n, per)
    rip = servers[0][0]
    listener = None
    if checked:  # the edited service's servers answer its checks
        for address, _ in servers:
            subprocess.run(["ip", "-n", netns, "addr", "add", f"{address}/32", "dev", "lo"],
                           check=True)
        listener = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c",
                                     LISTENER.format(port=gen.PORT)])
    started = time.monotonic()
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ipvsctl", "run", str(path),
                                 "--netns", netns, "--log-format", "json"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, **env})
    out: dict[str, Any] = {"services": n, "real_servers_per_service": per, "checked": checked}
    try:
        ready = wait_event(proc, log, "ready", 0, most)
        out["start_to_ready_s"] = round(time.monotonic() - started, 3)
        out["ready_line"] = ready["message"]
        out["memory_ready"] = memory(proc.pid)
        if checked:
            up = wait_verdict(proc, log, rip, min(most, 600))  # a 2 s check
            out["ready_to_verdict_s"] = round(up - started - out["start_to_ready_s"], 3)
        saves = [measure(["ip", "netns", "exec", netns, "ipvsadm", "-Sn"],
                         out=data / "log" / f"run-{name}-Sn-{i}").check() for i in range(3)]
        save = sorted(saves, key=lambda r: r.seconds)[1]
        out["ipvsadm_Sn_s"] = round(save.seconds, 3)
        before = weight_in(save.stdout, vip, rip)
        after = len(events(log))
        tmp = path.with_suffix(".new")
        tmp.write_text(cluster_text(n, per, edit_changed, checked))
        renamed = time.time()
        os.replace(tmp, path)
        reload = wait_event(proc, log, "reload", after, most)
        took = reload["time"] - renamed
        time.sleep(0.5)  # let any straggling line land
        later = events(log)[after:]
        writes = [e["message"] for e in later if e["event"] in ("apply", "repair")]
        table = subprocess.run(["ip", "netns", "exec", netns, "ipvsadm", "-Sn"],
                               capture_output=True, text=True, check=True).stdout
        now = weight_in(table, vip, rip)
        out.update({
            "edit_to_reload_s": round(took, 3), "ratio_Sn": round(took / save.seconds, 4),
            "reload_line": reload["message"], "writes": len(writes), "write_lines": writes,
            "weight_before": before, "weight_after": now,
            "other_events": sorted({e["event"] for e in later} - {"apply", "reload"}),
            "memory_after_edit": memory(proc.pid)})
        if before == now:
            raise RuntimeError(f"the edit never reached the kernel: {out}")
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(600)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out["exit_status"] = proc.returncode
    return out
