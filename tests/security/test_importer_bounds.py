"""Finding 7 for the importers: hostile and huge ipvsadm saves and keepalived.conf files.

Whatever the input, `ipvsctl import` ends with exit 0 or 1, one short line per problem naming
file:line, no traceback, in bounded time and memory. The limits are documented in
docs/import.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.helpers import Ran, cli, ipvsctl, refused

MAX_LINE = 300  # no message line may be longer, whatever the input
DIGITS = "9" * 5000
KA_SERVICE = ("virtual_server 192.0.2.1 {port} {{\n  lb_algo {algo}\n  lb_kind DR\n"
              "  protocol TCP\n  delay_loop {delay}\n  persistence_timeout {persist}\n"
              "  real_server 10.0.0.1 80 {{\n    weight {weight}\n  }}\n}}\n")


def _ka(**over: str) -> str:
    values = {"port": "80", "algo": "rr", "delay": "6", "persist": "50", "weight": "1", **over}
    return KA_SERVICE.format(**values)


def _bounded(ran: Ran, where: str, *expected: str) -> None:
    refused(ran, *expected)
    for line in ran.error_lines:
        assert len(line) <= MAX_LINE, f"a {len(line)}-character message line"
        assert line.startswith(f"ipvsctl: {where}"), line


IPVSADM_CASES = [
    pytest.param(f"-A -t 192.0.2.1:80 -s rr -p {DIGITS}\n", 1, id="p-digits"),
    pytest.param(f"-A -t 192.0.2.1:{DIGITS} -s rr\n", 1, id="port-digits"),
    pytest.param(f"-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 10.0.0.1 -g -w {DIGITS}\n",
                 2, id="weight-digits"),
    pytest.param(f"-A -f {DIGITS} -s rr\n", 1, id="fwmark-digits"),
    pytest.param(f"--set {DIGITS} 1 1\n", 1, id="set-digits"),
    pytest.param("-A -t " + "A" * 1_000_000 + " -s rr\n", 1, id="huge-token"),
    pytest.param("-A -t 192.0.2.1:80 -s " + "q" * 200_000 + "\n", 1,
                 id="huge-scheduler"),
    pytest.param("-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 10.0.\0.1:80 -g\n", 2,
                 id="nul-byte"),
    pytest.param("-A -t [2001:db8::1%lo]:80 -s rr\n", 1, id="zone-index"),
    pytest.param("-A -t 192.0.2.1:80 -s rr " + "-b sh-port " * 100_000 + "\n", 1, id="long-line"),
]


@pytest.mark.parametrize(("text", "line"), IPVSADM_CASES)
def test_hostile_ipvsadm_save(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "rules.save"
    path.write_text(text)
    expected = ["longer than"] if len(text) > 100_000 and " -b " in text else []
    _bounded(cli("import", "--from", "ipvsadm", str(path)), f"{path}:{line}:", *expected)


KEEPALIVED_CASES = [
    pytest.param(_ka(weight=DIGITS), 8, id="weight-digits"),
    pytest.param(_ka(delay=DIGITS), 5, id="delay-digits"),
    pytest.param(_ka(persist=DIGITS), 6, id="persistence-digits"),
    pytest.param(_ka(port=DIGITS), 1, id="port-digits"),
    pytest.param(_ka(algo="Q" * 1_000_000), 2, id="huge-token"),
    pytest.param(_ka(weight="1 " + "x " * 100_000), 8, id="long-line"),
    pytest.param(_ka().replace("10.0.0.1", "10.0.\0.1"), 7, id="nul-byte"),
    # keepalived rejects the address (a warning at its line), then nothing is left to import
    pytest.param(_ka().replace("192.0.2.1 ", "2001:db8::1%lo "), 0, id="zone-index"),
    pytest.param("virtual_server 192.0.2.1 80 {\n" + "a {\n" * 10_000 + "}\n" * 10_001, 0,
                 id="deep-nesting"),
]


@pytest.mark.parametrize(("text", "line"), KEEPALIVED_CASES)
def test_hostile_keepalived_conf(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    expected = ["longer than"] if " x x x " in text else []
    _bounded(cli("import", "--from", "keepalived", str(path)), f"{path}:{line or ''}", *expected)


@pytest.mark.parametrize("fmt", ["ipvsadm", "keepalived"])
def test_endless_input_is_cut_off(fmt: str) -> None:
    """/dev/zero, named or on standard input: refused at the size limit, in bounded memory."""
    ran = ipvsctl("import", "--from", fmt, "/dev/zero", timeout=60, memory_mb=1024)
    _bounded(ran, "/dev/zero", "larger than")
    assert ran.seconds < 30, ran
    with open("/dev/zero", "rb") as zero:
        ran = ipvsctl("import", "--from", fmt, "-", stdin=zero.fileno(), timeout=60,
                      memory_mb=1024)
    _bounded(ran, "<stdin>", "larger than")


@pytest.mark.parametrize("fmt", ["ipvsadm", "keepalived"])
def test_a_200_mb_file_is_refused_without_reading_it(tmp_path: Path, fmt: str) -> None:
    big = tmp_path / "big.conf"
    with big.open("wb") as fh:
        fh.truncate(200 << 20)
    ran = ipvsctl("import", "--from", fmt, str(big), timeout=60, memory_mb=1024)
    _bounded(ran, str(big), "larger than")
    assert ran.seconds < 20, ran


@pytest.mark.parametrize("fmt", ["ipvsadm", "keepalived"])
def test_unreadable_sources_give_one_line(tmp_path: Path, fmt: str) -> None:
    missing = tmp_path / "missing.conf"
    _bounded(cli("import", "--from", fmt, str(missing)), str(missing))
    _bounded(cli("import", "--from", fmt, str(tmp_path)), str(tmp_path))
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(4096) + b"\xff\xfe")
    _bounded(cli("import", "--from", fmt, str(blob)), str(blob))


def test_a_huge_included_file_is_cut_off(tmp_path: Path) -> None:
    """keepalived.conf's includes are read too: a 200 MB file is refused at the size limit
    unread, at the include line; /dev/zero is skipped as keepalived skips it."""
    big = tmp_path / "big.conf"
    with big.open("wb") as fh:
        fh.truncate(200 << 20)
    path = tmp_path / "keepalived.conf"
    path.write_text(f"include {big}\n" + _ka())
    ran = ipvsctl("import", "--from", "keepalived", str(path), timeout=60, memory_mb=1024)
    _bounded(ran, f"{path}:1:", str(big), "larger than")
    assert ran.seconds < 20, ran
    path.write_text("include /dev/zero\n" + _ka())
    ran = ipvsctl("import", "--from", "keepalived", str(path), timeout=60, memory_mb=1024)
    assert ran.returncode == 0 and "keepalived skips it" in ran.stderr, ran
