"""The HA part of `status` and /metrics: the role record, local VIPs, the kernel's sync
threads beside the file's, the status screen and the exposition (promtool checks it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ipvsctl.ha.notify import record, role_path
from ipvsctl.ha.role import local_addresses, read_role, sync_threads
from ipvsctl.metrics.exporter import daemon_registry
from ipvsctl.metrics.exposition import exposition
from ipvsctl.metrics.provider import DaemonFacts, HaFacts, ReloadFacts, SyncThread
from ipvsctl.metrics.status import document, status_lines
from ipvsctl.model import SyncDaemon
from tests.metrics.test_exporter import NOW, View
from tests.metrics.test_table import promtool

MASTER = SyncDaemon("master", "eth1", 51)


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


def test_the_role_is_the_hooks_record_and_unknown_without_one() -> None:
    assert read_role("d1") == ("unknown", None)
    record("d1", "d1", ["INSTANCE", "ipvsctl", "MASTER", "250"], now=NOW)
    assert read_role("d1") == ("MASTER", NOW)
    role_path("d1").write_text("not json")
    assert read_role("d1") == ("unknown", None)
    role_path("d1").write_text('{"state": "PRIMARY"}')
    assert read_role("d1") == ("unknown", None)


def test_local_addresses_by_bind() -> None:
    assert local_addresses(["127.0.0.1", "192.0.2.123"], None) == 1


def test_sync_threads_are_the_kernels_beside_the_file() -> None:
    wanted = {"master": MASTER, "backup": MASTER._replace(state="backup")}
    assert sync_threads(wanted, {"master": MASTER}) == (
        SyncThread("master", True, True, 51, "eth1"), SyncThread("backup", False, True))
    assert sync_threads(None, {})[0] == SyncThread("master", False, None)
    assert sync_threads({}, {"master": MASTER})[0].wanted is False


def ha(state: str = "MASTER", local: int = 1) -> HaFacts:
    return HaFacts("d1", state, NOW - 90, 1, local, True,
                   (SyncThread("master", True, True, 51, "eth1"),
                    SyncThread("backup", False, True)))


class HaView(View):
    def __init__(self, facts: HaFacts) -> None:
        super().__init__()
        self.ha = facts

    def facts(self) -> DaemonFacts:
        return DaemonFacts(4242, NOW - 3600, "/etc/ipvsctl/cluster.yaml", None,
                           ReloadFacts(NOW - 600, True, None, NOW - 600), ha=self.ha)


class CountingView(HaView):
    def __init__(self, facts: HaFacts) -> None:
        super().__init__(facts)
        self.reads = 0

    def facts(self) -> DaemonFacts:
        self.reads += 1
        return super().facts()


def test_a_scrape_reads_the_facts_once() -> None:
    """With an `ha` section a read of the facts asks the kernel for its sync threads and the
    interfaces for the VIPs: the HA, BGP and checker families share one read per scrape."""
    view = CountingView(ha("BACKUP", 0))
    registry, _, _ = daemon_registry(view)
    text = exposition(registry).decode()
    assert "ipvsctl_vrrp_state" in text
    assert view.reads == 1


def test_status_shows_role_vips_health_and_sync() -> None:
    doc = document(HaView(ha()), now=NOW)
    assert doc["ha"]["vrrp_state"] == "MASTER" and doc["ha"]["sync"][0]["running"] is True
    lines = status_lines(doc, now=NOW)
    assert "  ha: director d1, VRRP MASTER (90s ago), VIPs here 1/1, health file 1 " \
           "(healthy)" in lines
    assert "  sync master: running, syncid 51 on eth1 (wanted)" in lines
    assert "  sync backup: not running (wanted)" in lines
    assert not any("WARNING" in line for line in lines)
    held = status_lines(document(HaView(ha("BACKUP")), now=NOW), now=NOW)
    assert any("WARNING: holds VIPs while keepalived is not MASTER" in line for line in held)
    assert document(View(), now=NOW)["ha"] is None


def test_metrics_show_role_and_sync_and_pass_promtool() -> None:
    registry, _, _ = daemon_registry(HaView(ha("BACKUP", 0)))
    text = exposition(registry).decode()
    done = promtool(text)
    assert done.returncode == 0, done.stdout + done.stderr
    values = {(s.name, s.labels.get("state", "")): s.value
              for f in text_string_to_metric_families(text) for s in f.samples
              if s.name.startswith(("ipvsctl_vrrp", "ipvsctl_ha", "ipvsctl_sync"))}
    assert values[("ipvsctl_vrrp_state", "BACKUP")] == 1
    assert values[("ipvsctl_vrrp_state", "MASTER")] == 0
    assert values[("ipvsctl_ha_vips_local", "")] == 0
    assert values[("ipvsctl_ha_healthy", "")] == 1
    assert values[("ipvsctl_sync_daemon_running", "master")] == 1
    assert values[("ipvsctl_sync_daemon_running", "backup")] == 0
    plain, _, _ = daemon_registry(View())
    assert "ipvsctl_vrrp_state" not in exposition(plain).decode()
