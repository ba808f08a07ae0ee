"""`ipvsctl metrics` on a real director after real DR traffic (the lab's namespaces, kept).

The counters must agree with `ipvsadm -Ln --stats --exact`, the weights and connection counts
with `ipvsadm -Ln`, and promtool must accept the file the command writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ipvsctl.config import load
from ipvsctl.host.netns import NETNS_DIR
from ipvsctl.lab import LabOptions, run_lab
from tests.helpers import run, run_in_netns

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cluster.yaml"
PROTO = {"TCP": "tcp", "UDP": "udp"}
Row = tuple[str, str]  # (service key as plan prints it, real server "" or ADDRESS:PORT)


@pytest.fixture
def director(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The lab's director namespace after 12 requests per service and one 256 KiB transfer."""
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    report = run_lab(load(EXAMPLE), replace(LabOptions(), keep=True, large_count=1,
                                            large_bytes=1 << 18))
    (dr,) = report.runs
    try:
        assert report.ok, [c for c in dr.checks if not c.ok]
        yield f"{dr.prefix}-dir"
    finally:
        for ns in sorted(p.name for p in NETNS_DIR.glob(f"{dr.prefix}-*")):
            run(["ip", "netns", "delete", ns], check=False)


def ipvsadm_table(netns: str, *flags: str) -> dict[Row, list[int]]:
    """`ipvsadm -Ln FLAGS`: the numbers of each service and real-server line."""
    out: dict[Row, list[int]] = {}
    service = ""
    for line in run_in_netns(netns, ["ipvsadm", "-Ln", *flags]).stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in PROTO:
            service = f"{PROTO[fields[0]]}/{fields[1]}"
            out[(service, "")] = [int(x) for x in fields[2:] if x.isdigit()]
        elif fields and fields[0] == "->" and re.match(r"\d", fields[1]):
            out[(service, fields[1])] = [int(x) for x in fields[2:] if x.isdigit()]
    return out


def scrape(netns: str, out: Path) -> dict[str, dict[Row, float]]:
    """Run the real command; family -> {(service, real server): value}."""
    done = subprocess.run([sys.executable, "-m", "ipvsctl", "metrics", str(EXAMPLE),
                           "--netns", netns, "-o", str(out)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    values: dict[str, dict[Row, float]] = {}
    for family in text_string_to_metric_families(out.read_text()):
        for s in family.samples:
            if "local_port" not in s.labels:
                continue
            key = (f"{s.labels['proto'].lower()}/{s.labels['local_address']}:"
                   f"{s.labels['local_port']}", "")
            if "remote_address" in s.labels:
                key = (key[0], f"{s.labels['remote_address']}:{s.labels['remote_port']}")
            values.setdefault(s.name, {})[key] = s.value
    return values


def settled(netns: str) -> dict[Row, list[int]]:
    """The counters once two reads an estimator period apart agree (the kernel folds per-CPU
    counters into what it reports every 2 s)."""
    last = ipvsadm_table(netns, "--stats", "--exact")
    for _ in range(10):
        time.sleep(2.5)
        now = ipvsadm_table(netns, "--stats", "--exact")
        if now == last:
            return now
        last = now
    raise AssertionError(f"the counters never settled: {last}")


def test_counters_weights_and_connections_agree_with_ipvsadm(director: str,
                                                            tmp_path: Path) -> None:
    stats = settled(director)
    metrics = scrape(director, tmp_path / "ipvsctl.prom")
    assert stats == ipvsadm_table(director, "--stats", "--exact")  # nothing moved meanwhile
    names = ("connections_total", "incoming_packets_total", "outgoing_packets_total",
             "incoming_bytes_total", "outgoing_bytes_total")
    for row, numbers in stats.items():
        level = "real_server" if row[1] else "service"
        assert [metrics[f"ipvsctl_{level}_{n}"][row] for n in names] == numbers, row
    http = ("tcp/10.10.0.100:80", "")
    assert metrics["ipvsctl_service_connections_total"][http] >= 13  # 12 requests + 1 transfer
    assert metrics["ipvsctl_service_incoming_bytes_total"][http] > 0
    assert metrics["ipvsctl_service_outgoing_packets_total"][http] == 0  # DR: replies bypass
    plain = ipvsadm_table(director)  # Weight ActiveConn InActConn per real server
    for row, (weight, active, inactive) in ((r, v) for r, v in plain.items() if r[1]):
        assert metrics["ipvsctl_real_server_weight"][row] == weight, row
        assert metrics["ipvsctl_real_server_file_weight"][row] == weight, row
        assert (metrics["ipvsctl_real_server_connections_active"][row],
                metrics["ipvsctl_real_server_connections_inactive"][row]) == (active, inactive)
    assert set(metrics["ipvsctl_real_server_weight"]) == {r for r in stats if r[1]}
    lint = subprocess.run(["/usr/bin/promtool", "check", "metrics"],
                          input=(tmp_path / "ipvsctl.prom").read_text(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    named = {s.labels["local_port"]: s.labels["service"]
             for f in text_string_to_metric_families((tmp_path / "ipvsctl.prom").read_text())
             for s in f.samples if s.name == "ipvsctl_service_real_servers"}
    assert named == {"80": "http", "53": "dns"}  # the file's names

