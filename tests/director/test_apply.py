"""`ipvsctl apply` against a real IPVS kernel, checked with `ipvsadm -Sn` as the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.config import load
from ipvsctl.director.workflow import apply_cluster, plan_cluster
from ipvsctl.errors import ExitCode
from ipvsctl.host.locks import exclusive_lock
from tests.helpers import run_in_netns

pytestmark = pytest.mark.kernel

HERE = Path(__file__).parent
STEPS = sorted(p for p in (HERE / "transitions").glob("*.yaml"))
REPO = HERE.parent.parent


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own ownership records and locks (the VM's /var is read-only)."""
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    return tmp_path


def expected(step: Path) -> list[str]:
    return sorted(line.strip() for line in step.with_suffix(".ipvsadm").read_text().splitlines()
                  if line.strip())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ipvsctl", *args], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, **(env or {})}, timeout=300,
                          check=False)


def test_transitions_converge_and_match_ipvsadm(
        netns: str, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    """Six versions of a cluster file in order: after each apply the kernel matches the oracle
    and the next plan is empty."""
    assert len(STEPS) >= 5
    for step in STEPS:
        cluster = load(step)
        plan, result = apply_cluster(cluster, netns=netns)
        assert result.ok, step.name
        assert plan, f"{step.name}: expected changes"
        assert ipvsadm_oracle(netns) == expected(step), step.name
        again, _ = plan_cluster(cluster, netns=netns)
        assert [c.describe() for c in again.changes] == [], step.name


def test_cli_apply_then_plan_exit_codes(netns: str,
                                        ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    step = STEPS[1]
    before = cli("plan", str(step), "--netns", netns)
    assert before.returncode == ExitCode.CHANGES, before.stderr
    assert "add service tcp/192.0.2.10:80 (web)" in before.stdout
    applied = cli("apply", str(step), "--netns", netns)
    assert applied.returncode == 0, applied.stderr
    assert "Applied 9 change(s)." in applied.stdout
    assert ipvsadm_oracle(netns) == expected(step)
    after = cli("plan", str(step), "--netns", netns, "--json")
    assert after.returncode == ExitCode.OK, after.stderr
    assert '"pending": 0' in after.stdout


def test_dry_run_changes_nothing(netns: str, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    plan, result = apply_cluster(load(STEPS[0]), netns=netns, dry_run=True)
    assert len(plan) == 3 and not result.applied
    assert ipvsadm_oracle(netns) == []


def test_service_made_by_hand_is_left_alone(
        netns: str, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    run_in_netns(netns, ["ipvsadm", "-A", "-t", "198.51.100.5:22", "-s", "rr"])
    run_in_netns(netns, ["ipvsadm", "-a", "-t", "198.51.100.5:22", "-r", "10.0.0.99:22", "-g"])
    for step in STEPS:
        apply_cluster(load(step), netns=netns)
    lines = ipvsadm_oracle(netns)
    assert "-A -t 198.51.100.5:22 -s rr" in lines
    assert "-a -t 198.51.100.5:22 -r 10.0.0.99:22 -g -w 1" in lines
    # ... until the user asks for it with --prune.
    apply_cluster(load(STEPS[-1]), netns=netns, prune=True)
    assert ipvsadm_oracle(netns) == expected(STEPS[-1])


def test_removed_by_hand_is_restored(netns: str,
                                     ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    """Drift: the plan is made against the live kernel, not against the last file."""
    apply_cluster(load(STEPS[0]), netns=netns)
    run_in_netns(netns, ["ipvsadm", "-d", "-t", "192.0.2.10:80", "-r", "10.0.0.12:80"])
    run_in_netns(netns, ["ipvsadm", "-e", "-t", "192.0.2.10:80", "-r", "10.0.0.11:80", "-g",
                         "-w", "7"])
    plan, _ = plan_cluster(load(STEPS[0]), netns=netns)
    assert [c.describe() for c in plan.changes] == [
        "add real server 10.0.0.12:80 (dr, weight 1) to tcp/192.0.2.10:80",
        "edit real server 10.0.0.11:80 in tcp/192.0.2.10:80 in place: weight 7 -> 1",
    ]
    apply_cluster(load(STEPS[0]), netns=netns)
    assert ipvsadm_oracle(netns) == expected(STEPS[0])


def test_concurrent_apply_is_refused(netns: str,
                                     ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    with exclusive_lock("apply", netns):
        second = cli("apply", str(STEPS[0]), "--netns", netns)
    assert second.returncode == ExitCode.LOCKED, second.stderr
    assert "another ipvsctl apply is running" in second.stderr
    assert ipvsadm_oracle(netns) == []


def test_export_round_trips(netns: str, tmp_path: Path) -> None:
    apply_cluster(load(STEPS[2]), netns=netns)
    out = tmp_path / "exported.yaml"
    exported = cli("export", "--netns", netns, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    plan, _ = plan_cluster(load(out), netns=netns)
    assert [c.describe() for c in plan.changes] == []
    assert len(load(out).services) == len(load(STEPS[2]).services)


def test_show_json_has_counters(netns: str) -> None:
    apply_cluster(load(STEPS[0]), netns=netns)
    shown = cli("show", "--netns", netns, "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"inpkts": 0' in shown.stdout and '"key": "tcp/192.0.2.10:80"' in shown.stdout


def test_kernel_failure_mid_apply_is_reported_and_rerun_converges(
        netns: str, ipvsadm_oracle: Callable[[str], list[str]], tmp_path: Path) -> None:
    """A scheduler the kernel lacks fails that one service; the report names what was applied
    and what was not, and after fixing the file a rerun converges."""
    bad = tmp_path / "cluster.yaml"
    text = STEPS[0].read_text() + (
        "  - vip: 192.0.2.11\n    port: 80\n    scheduler: twos\n"
        "    real_servers: [{address: 10.0.0.11}]\n")
    bad.write_text(text)
    res = cli("apply", str(bad), "--netns", netns)
    if res.returncode == 0:
        pytest.fail("this kernel has the twos scheduler; the test needs one it lacks")
    assert res.returncode == ExitCode.PARTIAL, res.stderr
    assert "apply stopped" in res.stderr and "ip_vs_twos" in res.stderr
    assert "applied: add service tcp/192.0.2.10:80 (web)" in res.stderr
    good = cli("apply", str(STEPS[0]), "--netns", netns)
    assert good.returncode == 0, good.stderr
    assert ipvsadm_oracle(netns) == expected(STEPS[0])


BAD = sorted((REPO / "tests" / "config" / "bad").glob("*.yaml"))


def test_bad_input_never_touches_the_kernel(
        netns: str, ipvsadm_oracle: Callable[[str], list[str]]) -> None:
    """Every file of the bad-input corpus: exit code 1, a file:line:col message, table unchanged.

    After each file the table is read over netlink in-process (an ipvsadm child per file costs
    a second or more under emulation); ipvsadm, the independent oracle, reads it at the end:
    a change any file made would still be there."""
    from typer.testing import CliRunner

    from ipvsctl.cli import app
    from ipvsctl.ipvs import IpvsAdapter

    assert len(BAD) >= 25
    apply_cluster(load(STEPS[0]), netns=netns)
    before = ipvsadm_oracle(netns)
    runner = CliRunner()
    with IpvsAdapter(netns) as adapter:
        table = adapter.observe()
        assert table.services
        for path in BAD:
            res = runner.invoke(app, ["apply", str(path), "--netns", netns])
            assert res.exit_code == ExitCode.ERROR, (path.name, res.output)
            assert f"{path}:" in res.output, (path.name, res.output)
            assert adapter.observe() == table, path.name
    assert ipvsadm_oracle(netns) == before


def test_import_of_ipvsadm_save_plans_empty(netns: str, tmp_path: Path) -> None:
    """Migration round trip: apply, save with `ipvsadm -Sn`, import, plan: nothing to do."""
    for step in STEPS[:3]:
        apply_cluster(load(step), netns=netns)
    saved = tmp_path / "rules.save"
    saved.write_text(run_in_netns(netns, ["ipvsadm", "-Sn"]).stdout)
    imported = tmp_path / "imported.yaml"
    res = cli("import", "--from", "ipvsadm", str(saved), "-o", str(imported))
    assert res.returncode == 0, res.stderr
    plan, _ = plan_cluster(load(imported), netns=netns)
    assert [c.describe() for c in plan.changes] == []
