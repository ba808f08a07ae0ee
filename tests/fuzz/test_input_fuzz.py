"""Property test: random and mutated cluster files, keepalived.conf files and ipvsadm saves.

Each input goes through the real command (`ipvsctl validate FILE`, `ipvsctl import --from ...`,
in this process through typer's runner) and must end the way every bad input must:

- exit 0 or 1, never a traceback (an exception other than ipvsctl's own exit);
- on stderr, one line per problem: each line is `ipvsctl: ...` (or an import warning, `# ...`),
  and no line is longer than MAX_LINE, whatever the size of a token in the input;
- bounded time (MAX_SECONDS per input) and memory (MAX_RSS_GROWTH_MB of peak growth).

Inputs are the project's own files (good and bad cluster files, the importers' samples)
mutated with the hostile constructs of the security review (huge integers, aliases and merge
keys, deep brackets, NUL bytes, zone indexes, huge tokens, CRs, BOMs, shell and YAML tags),
plus files built from scratch out of each format's own vocabulary.

The budget is fixed so `make test` stays predictable: IPVSCTL_FUZZ_EXAMPLES inputs per target
(default 40: all three targets in a few seconds on the host), derandomised (the same inputs every
run) unless IPVSCTL_FUZZ_RANDOM=1, which explores new ones; no example database, and
hypothesis's caches go to a temporary folder (conftest.py), so nothing is written in the
checkout. A failure prints the smallest input hypothesis found. For a longer search:

    IPVSCTL_FUZZ_EXAMPLES=2000 IPVSCTL_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/fuzz
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ipvsctl.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("IPVSCTL_FUZZ_EXAMPLES", "40"))
MAX_SECONDS = 5.0  # per input, on a loaded 2-core machine; typical inputs take milliseconds
MAX_RSS_GROWTH_MB = 256
MAX_LINE = 1000

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=os.environ.get("IPVSCTL_FUZZ_RANDOM", "") in ("", "0"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])


def _seeds(*patterns: str) -> list[str]:
    out = []
    for pattern in patterns:
        out += [p.read_bytes().decode("utf-8", "replace") for p in sorted(REPO.glob(pattern))]
    assert out, patterns
    return out


CLUSTER_SEEDS = _seeds("tests/config/good/*.yaml", "tests/config/bad/*.yaml", "examples/*.yaml",
                       "tests/kernel/transitions/*.yaml")
KEEPALIVED_SEEDS = _seeds("tests/importers/samples/*.conf")
IPVSADM_SEEDS = _seeds("tests/importers/samples/*.save", "tests/importers/samples/*.sh")

HOSTILE = [
    "9" * 5000, "-" + "9" * 4400, "0x7fffffff", "1e999", "-1", "0", "65536", "4294967296",
    "&a", "*a", "<<: *a", "&a [*a, *a, *a]", "!!python/object/apply:os.system ['true']",
    "!!binary AAAA", "? ", "---", "...", "%YAML 1.1", "\0", "\t", "\r", "\r\n", "\ufeff",
    "\u202e", "\x85", "\x1b[2J", "{", "}", "[", "]", "[" * 200, "{" * 200, "\\", '"', "'",
    "#", "!", ";", "%", "2001:db8::1%lo", "fe80::1%eth0", "[::1]:80", "192.0.2.1/24",
    "255.255.255.255", "0.0.0.0", "::",  # noqa: S104
    "${X}", "$X=1", "@x", "@x ", "~SEQ(i, 1, 1, 9)",
    "include /etc/passwd", "include *", "A" * 5000, "$(reboot)", "`reboot`", "&&", "|",
    "-A", "-a", "-t", "-r", "-s", "-p", "-w", "-x 1", "--tun-type gue", "-f 1",
    "virtual_server", "real_server", "virtual_server_group", "weight", "lb_kind", "{ }",
    "services:", "real_servers:", "vip:", "port:", "fwmark:", "scope:", "director:",
]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    """A seed file with 1-8 edits: hostile tokens, deletions, repeats, swaps, truncation."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["insert", "delete", "repeat", "swap", "truncate", "text"]))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(HOSTILE)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif op == "text":
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
        elif op == "truncate":
            text = text[:at]
        else:
            lines = text.splitlines(keepends=True) or [""]
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "repeat":
                lines[i:i + 1] = [lines[i]] * draw(st.integers(2, 60))
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


TOKEN = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12),
                  st.integers(-2**70, 2**70).map(str),
                  st.ip_addresses().map(str), st.sampled_from(["80", "tcp", "rr", "dr", "1"]))

CLUSTER_KEYS = ["services", "name", "vip", "fwmark", "family", "port", "protocol", "scheduler",
                "scheduler_flags", "persistence", "timeout", "netmask", "real_servers",
                "address", "weight", "forward", "state", "tunnel", "type", "defaults", "scope",
                "vips", "fwmarks", "director", "timeouts", "sysctls", "drain_timeout", "tcp",
                "udp", "upper_threshold", "lower_threshold", "<<"]
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=True), TOKEN)
TREE = st.recursive(SCALAR, lambda kids: st.one_of(
    st.lists(kids, max_size=5),
    st.dictionaries(st.one_of(st.sampled_from(CLUSTER_KEYS), TOKEN), kids, max_size=5)),
    max_leaves=40)


@st.composite
def built_cluster(draw: st.DrawFn) -> str:
    tree = {"services": draw(st.lists(TREE, max_size=4)), **draw(st.dictionaries(
        st.sampled_from(CLUSTER_KEYS), TREE, max_size=3))}
    if draw(st.booleans()):
        return yaml.safe_dump(tree, default_flow_style=draw(st.booleans()))
    import json

    return json.dumps(tree, default=str)


KA_WORDS = ["virtual_server", "real_server", "virtual_server_group", "lb_algo", "lb_kind",
            "protocol", "persistence_timeout", "persistence_granularity", "weight", "delay_loop",
            "fwmark", "inhibit_on_failure", "sorry_server", "TCP_CHECK", "HTTP_GET", "url",
            "vrrp_instance", "global_defs", "include", "ha_suspend", "quorum", "ip_family",
            "lvs_sched", "lvs_method", "DR", "NAT", "TUN", "rr", "wrr", "TCP", "UDP", "SCTP"]


@st.composite
def built_keepalived(draw: st.DrawFn) -> str:
    def block(depth: int) -> str:
        out = []
        for _ in range(draw(st.integers(0, 5))):
            words = [draw(st.sampled_from(KA_WORDS)), *draw(st.lists(TOKEN, max_size=3))]
            line = " ".join(words)
            if depth < 4 and draw(st.booleans()):
                line += " {\n" + block(depth + 1) + "}"
            out.append(line)
        return "\n".join(out) + "\n"

    return block(0)


IPVSADM_OPTS = ["-A", "-E", "-D", "-a", "-e", "-d", "-C", "-t", "-u", "-f", "--sctp-service",
                "-s", "-p", "-M", "-r", "-g", "-i", "-m", "-w", "-x", "-y", "-6", "-b", "--pe",
                "--set", "--tun-type", "--tun-port", "--tun-nocsum", "-o", "--start-daemon"]


@st.composite
def built_ipvsadm(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        words = []
        for _ in range(draw(st.integers(1, 8))):
            words.append(draw(st.one_of(st.sampled_from(IPVSADM_OPTS), TOKEN)))
        lines.append(" ".join(words))
    return "\n".join(lines) + "\n"


def _judge(args: list[str], stdin: str | None = None) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    res = CliRunner().invoke(app, args, input=stdin)
    seconds = time.monotonic() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"traceback: {res.exception!r}") from res.exception
    assert res.exit_code in (0, 1), (res.exit_code, res.stderr[-2000:])
    for line in res.stderr.splitlines():
        assert line.startswith(("ipvsctl: ", "# ")), f"not one line per problem: {line[:300]!r}"
        assert len(line) <= MAX_LINE, f"a {len(line)}-character line: {line[:200]!r}..."
    assert seconds < MAX_SECONDS, f"{seconds:.1f} s"
    assert grown < MAX_RSS_GROWTH_MB, f"peak memory grew by {grown:.0f} MB"


Target = Callable[[str], None]


@pytest.fixture
def on_file(tmp_path: Path) -> Callable[[list[str]], Target]:
    def make(command: list[str]) -> Target:
        def run(text: str) -> None:
            path = tmp_path / "input"
            path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
            _judge([*command, str(path)])
        return run
    return make


@FUZZ
@given(text=st.one_of(mutated(CLUSTER_SEEDS), built_cluster()))
def test_cluster_files(on_file: Callable[[list[str]], Target], text: str) -> None:
    on_file(["validate"])(text)


@FUZZ
@given(text=st.one_of(mutated(KEEPALIVED_SEEDS), built_keepalived()), stdin=st.booleans())
def test_keepalived_files(on_file: Callable[[list[str]], Target], text: str,
                          stdin: bool) -> None:
    if stdin:
        _judge(["import", "--from", "keepalived", "-"], text)
    else:
        on_file(["import", "--from", "keepalived"])(text)


@FUZZ
@given(text=st.one_of(mutated(IPVSADM_SEEDS), built_ipvsadm()), stdin=st.booleans())
def test_ipvsadm_saves(on_file: Callable[[list[str]], Target], text: str, stdin: bool) -> None:
    if stdin:
        _judge(["import", "--from", "ipvsadm", "-"], text)
    else:
        on_file(["import", "--from", "ipvsadm"])(text)
