"""Finding 1: `backend-check --netns NS --port P` judges NS's listeners, not its caller's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.security.conftest import Dirs
from tests.security.helpers import ipvsctl

pytestmark = pytest.mark.netns
VIP, PORT = "192.0.2.10", 8080
LISTEN = ("import socket, sys\n"
          "s = socket.socket(socket.AF_INET6)\n"
          "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
          f"s.bind(('::', {PORT})); s.listen()\n"
          "print('ready', flush=True); sys.stdin.read()\n")


@pytest.fixture
def listener() -> Iterator[Callable[[str], None]]:
    """listener(ns): a TCP listener on [::]:8080 in ns until the test ends."""
    procs: list[subprocess.Popen[str]] = []

    def start(netns: str) -> None:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", LISTEN],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    yield start
    for proc in procs:
        proc.communicate("", timeout=10)


def _listener_finding(ran_stdout: str) -> dict[str, str]:
    """The one listener finding, its outcome as `ok` or `fail` whatever the field is called."""
    found = [f for f in json.loads(ran_stdout)["findings"] if f["subject"] == "listener"]
    assert len(found) == 1, found
    outcome = found[0].get("level", found[0].get("severity"))
    return {**found[0], "outcome": {"error": "fail"}.get(outcome, outcome)}


def test_listener_in_the_named_namespace_counts(
        netns_factory: Callable[[], str], listener: Callable[[str], None], dirs: Dirs) -> None:
    target, caller = netns_factory(), netns_factory()
    listener(target)
    ran = ipvsctl("backend-check", "--netns", target, "--vip", VIP, "--port", str(PORT),
                  "--json", netns_exec=caller)
    assert _listener_finding(ran.stdout)["outcome"] == "ok", ran.stdout


def test_listener_of_the_caller_does_not_count(
        netns_factory: Callable[[], str], listener: Callable[[str], None], dirs: Dirs) -> None:
    target, caller = netns_factory(), netns_factory()
    listener(caller)
    ran = ipvsctl("backend-check", "--netns", target, "--vip", VIP, "--port", str(PORT),
                  "--json", netns_exec=caller)
    finding = _listener_finding(ran.stdout)
    assert finding["outcome"] == "fail", ran.stdout
    assert f"nothing listens on TCP {VIP}:{PORT}" in finding["message"]
