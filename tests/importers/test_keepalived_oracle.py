"""keepalived itself is the oracle of `ipvsctl import --from keepalived`.

For every keepalived sample under samples/, Debian's keepalived (2.2.7, checker process only,
in the foreground: -n -l -C) runs the sample in a fresh network namespace and programs IPVS;
`ipvsadm -Sn` and `ipvsadm -Ln --timeout` read what it made. In a second namespace, ipvsctl
applies its import of the same, unmodified sample. The two tables must be equal, line for line,
and `ipvsctl plan` of the import against keepalived's table must be empty.

The normalisations (docs/import.md): keepalived runs a copy of the sample with its health
checker blocks (TCP_CHECK, HTTP_GET, ...) removed, and an IPv4 persistence netmask with holes
(`-M 255.255.0.255`, which keepalived passes to the kernel as it is) is compared by its leading
ones, the prefix ipvsctl imports it as and reads back from such a table (the import warns).
A checker would take its real server out of the table when its check fails (nothing listens in
the namespace), at a moment the test cannot choose; without checkers keepalived keeps every
real server in, which is the table of a director whose checks all pass. The translated checks
are compared by the golden tests. Everything else (templating, includes, a byte-order mark,
Latin-1 bytes) reaches keepalived byte for byte.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.director.workflow import apply_cluster, plan_cluster
from ipvsctl.importers import import_file
from tests.helpers import ipvsadm_save, run_in_netns

SAMPLES = Path(__file__).parent / "samples"
KEEPALIVED_SAMPLES = sorted(SAMPLES.glob("keepalived-*.conf"))
KEEPALIVED = "/usr/sbin/keepalived"
CHECKERS = ("TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK",
            "SMTP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK")
_CHECKER = re.compile(r"\b(?:" + "|".join(CHECKERS) + r")\b[ \t]*(?:\\?[ \t]*\n[ \t]*)?\{")
CUT = "\0"  # marks where a block was cut out
SETTLE = 1.0  # s the table must stay unchanged before it counts as programmed
STARTUP = 60.0  # s keepalived may take to program a sample under emulation


def without_checkers(text: str) -> str:
    """The config with every checker block removed, brace-counted (quotes respected); lines
    left holding nothing but blanks or a continuation backslash go too, so a multi-line
    definition stays one definition."""
    out: list[str] = []
    pos = 0
    for match in _CHECKER.finditer(text):
        if match.start() < pos or _in_comment(text, match.start()):
            continue
        out.append(text[pos:match.start()] + CUT)
        depth, i, quote = 1, match.end(), False
        while i < len(text) and depth:
            char = text[i]
            if char == '"':
                quote = not quote
            elif not quote and char in "#!":
                i = text.find("\n", i)
                i = len(text) if i < 0 else i
                continue
            elif not quote and char == "{":
                depth += 1
            elif not quote and char == "}":
                depth -= 1
            i += 1
        pos = i
    out.append(text[pos:])
    lines = [line for line in "".join(out).split("\n")
             if CUT not in line or line.replace(CUT, "").strip(" \t\\")]
    return "\n".join(line.replace(CUT, "") for line in lines)


def _in_comment(text: str, at: int) -> bool:
    line = text[text.rfind("\n", 0, at) + 1:at]
    return "#" in line or "!" in line


def contiguous_masks(table: list[str]) -> list[str]:
    """Each `-M` netmask of an `ipvsadm -Sn` table as its leading ones."""
    def leading(match: re.Match[str]) -> str:
        mask = int(ipaddress.IPv4Address(match[1]))
        ones = 32 - (~mask & 0xFFFFFFFF).bit_length()
        return f"-M {ipaddress.IPv4Address((0xFFFFFFFF << (32 - ones)) & 0xFFFFFFFF)}"

    return [re.sub(r"-M (\d+\.\d+\.\d+\.\d+)", leading, line) for line in table]


def settled_table(netns: str, keepalived: subprocess.Popen[bytes], log: Path) -> list[str]:
    """keepalived's table once it has stopped changing for SETTLE seconds."""
    deadline = time.monotonic() + STARTUP
    last: list[str] = []
    since = time.monotonic()
    while time.monotonic() < deadline:
        if keepalived.poll() is not None:
            pytest.fail(f"keepalived exited {keepalived.returncode}:\n{log.read_text()}")
        table = ipvsadm_save(netns)
        if table != last:
            last, since = table, time.monotonic()
        elif table and time.monotonic() - since >= SETTLE:
            return table
        time.sleep(0.2)
    pytest.fail(f"keepalived programmed no stable table in {STARTUP:g} s:\n{log.read_text()}")


def stop(keepalived: subprocess.Popen[bytes]) -> None:
    keepalived.send_signal(signal.SIGTERM)
    try:
        keepalived.wait(timeout=20)
    except subprocess.TimeoutExpired:
        keepalived.kill()
        keepalived.wait(timeout=10)


def timeouts(netns: str) -> str:
    return run_in_netns(netns, ["ipvsadm", "-Ln", "--timeout"]).stdout


def test_the_samples_cover_every_migration_case() -> None:
    names = {p.stem.removeprefix("keepalived-") for p in KEEPALIVED_SAMPLES}
    assert {"dr-web", "fwmark-persistence", "ipv6-dns-tun", "groups", "templating",
            "tolerated", "bom", "dropped", "checks"} <= names


def test_checker_blocks_are_removed_and_nothing_else() -> None:
    text = ('virtual_server 192.0.2.1 80 {  # TCP_CHECK in a comment stays\n'
            '  real_server 10.0.0.1 80 { weight 2 TCP_CHECK { connect_timeout 1 } }\n'
            '  real_server 10.0.0.2 80 {\n    MISC_CHECK {\n      misc_path "/bin/x {#}"\n'
            '    }\n  }\n}\n$RS= \\\nreal_server 10.0.0.3 80 { \\\n  HTTP_GET { \\\n'
            '    url { path / } \\\n  } \\\n}\n')
    assert without_checkers(text) == (
        'virtual_server 192.0.2.1 80 {  # TCP_CHECK in a comment stays\n'
        '  real_server 10.0.0.1 80 { weight 2  }\n'
        '  real_server 10.0.0.2 80 {\n  }\n}\n$RS= \\\nreal_server 10.0.0.3 80 { \\\n}\n')


def test_netmasks_with_holes_compare_by_their_leading_ones() -> None:
    assert contiguous_masks(["-A -t 192.0.2.22:80 -s wlc -p 120 -M 255.255.0.255",
                             "-A -t 192.0.2.23:80 -s wlc -p 120 -M 255.255.255.0"]) == [
        "-A -t 192.0.2.22:80 -s wlc -p 120 -M 255.255.0.0",
        "-A -t 192.0.2.23:80 -s wlc -p 120 -M 255.255.255.0"]


@pytest.mark.kernel
def test_import_programs_what_keepalived_programs(
        netns_factory: Callable[[], str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(KEEPALIVED).exists(), "keepalived is missing (scripts/bootstrap installs it)"
    mismatches: list[str] = []
    for sample in KEEPALIVED_SAMPLES:
        work = tmp_path / sample.stem
        shutil.copytree(SAMPLES / "keepalived.d", work / "keepalived.d")
        conf = work / sample.name
        # latin-1 maps every byte to one character and back: the bytes stay as they are
        conf.write_bytes(without_checkers(sample.read_bytes().decode("latin-1"))
                         .encode("latin-1"))
        theirs, ours = netns_factory(), netns_factory()
        log = work / "keepalived.log"
        with log.open("wb") as out:
            keepalived = subprocess.Popen(
                ["ip", "netns", "exec", theirs, KEEPALIVED, "-n", "-l", "-C", "-R", "-G",
                 "-f", str(conf), "-p", str(work / "k.pid"), "-c", str(work / "c.pid"),
                 "-r", str(work / "v.pid"), "-b", str(work / "b.pid")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            try:
                expected = settled_table(theirs, keepalived, log)
                expected_timeouts = timeouts(theirs)
                monkeypatch.setenv("IPVSCTL_STATE_DIR", str(work / "state"))
                monkeypatch.setenv("IPVSCTL_RUN_DIR", str(work / "run"))
                cluster = import_file("keepalived", str(sample)).cluster
                plan, _ = plan_cluster(cluster, netns=theirs)
            finally:
                stop(keepalived)
        apply_cluster(cluster, netns=ours)
        got = ipvsadm_save(ours)
        expected = contiguous_masks(expected)
        if got != expected:
            mismatches.append(f"{sample.name}: keepalived programmed\n  " +
                              "\n  ".join(expected) + "\nipvsctl applied\n  " +
                              "\n  ".join(got))
        if timeouts(ours) != expected_timeouts:
            mismatches.append(f"{sample.name}: timeouts: keepalived {expected_timeouts!r}, "
                              f"ipvsctl {timeouts(ours)!r}")
        if plan:
            mismatches.append(f"{sample.name}: plan against keepalived's table is not empty: "
                              + "; ".join(str(change) for change in plan))
    assert not mismatches, "\n\n".join(mismatches)
