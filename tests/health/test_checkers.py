"""Every checker against real listeners in network namespaces, and the runner's promises:
bounded checks, a hung target delaying no other, jittered first checks."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import random
import sys
import time
from pathlib import Path

import pytest

from ipvsctl.health import (
    CheckSpec,
    DnsCheck,
    ExecCheck,
    HttpCheck,
    Probe,
    TcpCheck,
    UdpCheck,
)
from ipvsctl.health.runner import Runner
from ipvsctl.health.spec import DEFAULT_TIMEOUT
from ipvsctl.health.target import CheckTarget
from ipvsctl.host.netns import run_in_netns

from .listeners import (
    NOBODY_IP,
    SERVER_IP,
    FirstAtOnce,
    Http,
    Listeners,
    Pair,
    self_signed,
    server_tls,
)

pytestmark = pytest.mark.netns


Result = tuple[bool, str]


def check(netns: str, spec: CheckSpec, port: int, address: str = SERVER_IP,
          vip: str | None = None) -> Result:
    """One check of one target, run by a Runner inside `netns`; its first result.

    The listeners are Python threads: on a loaded machine they may take more than the
    default second to answer, so a spec left at the default timeout gets three."""
    if spec.timeout == DEFAULT_TIMEOUT:
        spec = dataclasses.replace(spec, timeout=3.0, interval=3.0)
    target = CheckTarget(spec, address, port, vip)

    async def main() -> Result:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[Result] = loop.create_future()

        def report(t: CheckTarget, ok: bool, detail: str) -> None:
            if not first.done():
                first.set_result((ok, detail))

        runner = Runner(loop, report, rng=FirstAtOnce())
        runner.update({target: Probe(target)})
        try:
            return await asyncio.wait_for(first, spec.timeout + 5)
        finally:
            await runner.aclose()

    return run_in_netns(netns, lambda: asyncio.run(main()))


# ---- tcp --------------------------------------------------------------------------------

def test_tcp(pair: Pair, servers: Listeners) -> None:
    servers.tcp(pair.server, SERVER_IP, 80)
    assert check(pair.director, TcpCheck(), 80) == (True, "connected")
    assert check(pair.director, TcpCheck(), 81) == (False, "connection refused")
    assert check(pair.director, TcpCheck(timeout=0.3), 80, address=NOBODY_IP) == (
        False, "timed out after 0.3s connecting")


# ---- http and https ---------------------------------------------------------------------

def test_http_status_host_and_body(pair: Pair, servers: Listeners) -> None:
    http = Http(body=b"status: all good\n")
    servers.http(pair.server, SERVER_IP, 8080, http)
    assert check(pair.director, HttpCheck(path="/health"), 8080) == (True, "HTTP 200")
    assert http.requests[-1].startswith(b"GET /health HTTP/1.1\r\nHost: 10.77.0.2:8080\r\n")
    assert b"\r\nConnection: close\r\n" in http.requests[-1]
    spec = HttpCheck(host="www.example.test", body="all go+d")
    assert check(pair.director, spec, 8080) == (True, "HTTP 200, body matches")
    assert b"\r\nHost: www.example.test\r\n" in http.requests[-1]
    assert check(pair.director, HttpCheck(body="^bad"), 8080) == (
        False, "HTTP 200, body does not match /^bad/")
    http.status = 503
    assert check(pair.director, HttpCheck(), 8080) == (False, "HTTP 503, expected 200-299")
    assert check(pair.director, HttpCheck(status=((200, 299), (503, 503))), 8080) == (
        True, "HTTP 503")


def test_http_chunked_body(pair: Pair, servers: Listeners) -> None:
    servers.http(pair.server, SERVER_IP, 80, Http(body=b"alpha-beta-gamma", chunked=True))
    assert check(pair.director, HttpCheck(body="alpha-beta-gamma"), 80) == (
        True, "HTTP 200, body matches")
    assert check(pair.director, HttpCheck(body="beta-gamma-"), 80)[0] is False


def test_http_hung_application_times_out(pair: Pair, servers: Listeners) -> None:
    servers.http(pair.server, SERVER_IP, 80, Http(silent=True))
    assert check(pair.director, HttpCheck(timeout=0.5), 80) == (
        False, "timed out after 0.5s waiting for the response")


def test_https_verify_and_sni(pair: Pair, servers: Listeners, tmp_path: Path) -> None:
    http = Http()
    cert, key = self_signed(tmp_path, "www.example.test")
    servers.http(pair.server, SERVER_IP, 443, http, tls=server_tls(cert, key, http.sni))
    assert check(pair.director, HttpCheck(tls=True), 443) == (True, "HTTP 200")
    assert http.sni[-1] is None  # an IP literal is never sent as SNI
    assert check(pair.director, HttpCheck(tls=True, sni="www.example.test"), 443) == (
        True, "HTTP 200")
    assert http.sni[-1] == "www.example.test"
    ok, detail = check(pair.director, HttpCheck(tls=True, verify=True,
                                                sni="www.example.test"), 443)
    assert (ok, detail) == (False, "certificate not accepted: self-signed certificate")
    assert check(pair.director, HttpCheck(tls=True), 80)[1].startswith("connection refused")


def test_https_to_a_plain_http_port_fails(pair: Pair, servers: Listeners) -> None:
    # a plain HTTP server waits for a request line that a ClientHello never completes
    servers.http(pair.server, SERVER_IP, 80, Http())
    # the budget is wide enough that a loaded machine still connects within it
    assert check(pair.director, HttpCheck(tls=True, timeout=2.0), 80) == (
        False, "timed out after 2s in the TLS handshake")
    # one that answers at once answers in plain text: not TLS
    servers.udp(pair.server, SERVER_IP, 81, lambda d: d)  # keeps the port number distinct
    servers.tcp(pair.server, SERVER_IP, 81)  # accepts and closes: the handshake sees EOF
    ok, detail = check(pair.director, HttpCheck(tls=True), 81)
    assert not ok and detail.startswith("TLS handshake failed"), detail


# ---- udp and dns ------------------------------------------------------------------------

def test_udp(pair: Pair, servers: Listeners) -> None:
    servers.udp(pair.server, SERVER_IP, 7000, lambda data: b"pong " + data)
    assert check(pair.director, UdpCheck(payload=b"ping", expect=b"pong ping"), 7000) == (
        True, "reply of 9 bytes")
    assert check(pair.director, UdpCheck(payload=b"ping", expect=b"PONG"), 7000) == (
        False, "reply b'pong ping' does not contain b'PONG'")
    assert check(pair.director, UdpCheck(payload=b"ping"), 7001) == (
        False, "port unreachable (ICMP)")


def test_dns_against_dnsmasq(pair: Pair, servers: Listeners, tmp_path: Path) -> None:
    servers.dnsmasq(pair.server, SERVER_IP, tmp_path)
    assert check(pair.director, DnsCheck(name="up.example.test", qtype="A"), 53) == (
        True, "rcode NOERROR, 1 answer(s)")
    assert check(pair.director, DnsCheck(name="gone.example.test", qtype="A"), 53) == (
        False, "rcode NXDOMAIN, expected NOERROR")
    assert check(pair.director, DnsCheck(name="gone.example.test", qtype="A",
                                         rcode="NXDOMAIN"), 53)[0] is True


def test_dns_reply_to_another_question_fails(pair: Pair, servers: Listeners) -> None:
    # Python listeners on a loaded machine: a generous timeout (the kernel's are instant)
    servers.udp(pair.server, SERVER_IP, 53, lambda data: data[:2] + b"\x81\x80" + data[4:])
    # the id matches, the flags say "response", but it is our own question echoed with
    # no answer: still NOERROR, and a well-formed response to it, so this passes...
    assert check(pair.director, DnsCheck(name="up.example.test", timeout=3), 53) == (
        True, "rcode NOERROR, 0 answer(s)")
    servers.udp(pair.server, SERVER_IP, 54, lambda data: b"\x00\x00" + data[2:])
    # ...while a reply with another id is no answer to our query
    assert check(pair.director, DnsCheck(name="up.example.test", timeout=3), 54) == (
        False, "the reply does not answer the query")


# ---- exec -------------------------------------------------------------------------------

SCRIPT = """
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({"argv": sys.argv[2:], "env": {k: v for k, v in os.environ.items()}}, out)
"""


def test_exec_runs_no_shell(pair: Pair, tmp_path: Path) -> None:
    import json

    report = tmp_path / "argv.json"
    canary = tmp_path / "shell-ran"
    tricky = [f"; touch {canary}", f"$(touch {canary})", f"`touch {canary}`",
              f"| touch {canary}", f"&& touch {canary}", "*", "$HOME", "a b\nc"]
    spec = ExecCheck(argv=(sys.executable, "-c", SCRIPT, str(report), *tricky), timeout=20,
                     interval=30)
    assert check(pair.director, spec, 80, vip="192.0.2.10") == (True, "exit status 0")
    seen = json.loads(report.read_text())
    assert seen["argv"] == tricky  # every byte as given: no expansion, no splitting
    assert not canary.exists()
    assert seen["env"]["IPVSCTL_VIP"] == "192.0.2.10"
    assert seen["env"]["IPVSCTL_ADDRESS"] == SERVER_IP
    assert seen["env"]["IPVSCTL_PORT"] == "80"
    assert "HOME" not in seen["env"]  # the environment is built, not inherited


def test_exec_failures(pair: Pair, tmp_path: Path) -> None:
    fail = ExecCheck(argv=(sys.executable, "-c",
                           "import sys; print('backend says no', file=sys.stderr); sys.exit(3)"),
                     timeout=20, interval=30)
    assert check(pair.director, fail, 80) == (False, "exit status 3: backend says no")
    assert check(pair.director, ExecCheck(argv=("true",)), 80) == (
        False, "the program must be given by its absolute path")
    assert check(pair.director, ExecCheck(argv=(str(tmp_path / "missing"),)), 80) == (
        False, f"cannot run {tmp_path / 'missing'}: No such file or directory")


def test_exec_timeout_kills_the_process_group(pair: Pair, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = ("import os, subprocess, sys, time\n"
              "child = subprocess.Popen(['/bin/sleep', '60'])\n"
              f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
              "time.sleep(60)\n")
    spec = ExecCheck(argv=(sys.executable, "-c", script), timeout=3, interval=30)
    ok, detail = check(pair.director, spec, 80)
    assert (ok, detail) == (False, "timed out after 3s waiting for the program")
    for pid in map(int, pids.read_text().split()):
        _gone(pid)


def _gone(pid: int) -> None:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return  # dead; its parent (init, or the reaper) collects it
        except FileNotFoundError:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still runs after the check's timeout")


# ---- the runner -------------------------------------------------------------------------

def test_a_hung_target_delays_no_other(pair: Pair, servers: Listeners) -> None:
    """Checks of a healthy target keep their rhythm while another target hangs every time."""
    servers.tcp(pair.server, SERVER_IP, 80)
    good = CheckTarget(TcpCheck(interval=0.2, timeout=0.15), SERVER_IP, 80)
    hung = [CheckTarget(TcpCheck(interval=0.2, timeout=1.0), NOBODY_IP, 80 + i)
            for i in range(50)]
    seen: dict[CheckTarget, list[tuple[float, bool]]] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def report(t: CheckTarget, ok: bool, detail: str) -> None:
            seen.setdefault(t, []).append((loop.time(), ok))

        runner = Runner(loop, report, rng=random.Random(7))  # noqa: S311
        runner.update({t: Probe(t) for t in [good, *hung]})
        await asyncio.sleep(3.0)
        counters = runner.counters
        runner.close()
        assert counters.timed_out >= 50 and counters.overrun > 0

    run_in_netns(pair.director, lambda: asyncio.run(main()))
    times = [t for t, ok in seen[good] if ok]
    assert len(times) >= 13, seen[good]  # 3 s at 0.2 s: 14 or 15 checks
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) < 0.35, gaps
    assert all(not ok for t in hung for _, ok in seen.get(t, [])) and len(seen) == 51


def test_first_checks_are_spread_over_the_interval(pair: Pair, servers: Listeners) -> None:
    servers.tcp(pair.server, SERVER_IP, 80)
    targets = [CheckTarget(TcpCheck(interval=2.0, port=80 + i), SERVER_IP, 80) for i in range(200)]
    first: dict[CheckTarget, float] = {}

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        runner = Runner(loop, lambda t, ok, d: first.setdefault(t, loop.time() - start))
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(2.3)
        runner.close()
        return start

    run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert len(first) == 200
    bins = [0] * 11  # ten of 0.2 s, then late results (a loaded machine)
    for offset in first.values():
        bins[min(10, int(offset / 0.2))] += 1
    # uniform: ~20 per 0.2 s; all at once would put 200 in the first
    assert max(bins[:10]) <= 50 and sum(n > 0 for n in bins[:10]) >= 9, bins


def test_in_flight_cap_skips_rather_than_queues(pair: Pair) -> None:
    targets = [CheckTarget(TcpCheck(interval=0.5, timeout=0.5), NOBODY_IP, 1000 + i)
               for i in range(20)]

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        runner = Runner(loop, lambda t, ok, d: None, rng=FirstAtOnce(), in_flight=5)
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(0.1)
        busy = runner.in_flight
        runner.close()
        return busy, runner.counters.capped

    busy, capped = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert busy == 5 and capped == 15


def test_removed_targets_stop_and_release(pair: Pair) -> None:
    targets = [CheckTarget(TcpCheck(interval=0.5, timeout=5), NOBODY_IP, 2000 + i)
               for i in range(10)]

    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        reports: list[CheckTarget] = []
        runner = Runner(loop, lambda t, ok, d: reports.append(t), rng=FirstAtOnce())
        runner.update({t: Probe(t) for t in targets})
        await asyncio.sleep(0.1)
        fds = len(os.listdir("/proc/self/fd"))
        runner.update({})
        after = len(os.listdir("/proc/self/fd"))
        await asyncio.sleep(0.6)
        runner.close()
        return fds - after, runner.in_flight, len(reports)

    released, in_flight, reports = run_in_netns(pair.director, lambda: asyncio.run(main()))
    assert released == 10 and in_flight == 0 and reports == 0
