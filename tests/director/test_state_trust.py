"""The director's ownership record: trusted only from a root-only folder, checked for its shape,
and one per network namespace however ipvsctl was sent into it (real IPVS, in the VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.helpers import cli, ipvsctl, plant_record, refused

pytestmark = pytest.mark.kernel
FILE = ("services:\n"
        "  - {name: web, vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.1}]}\n"
        "  - {name: api, vip: 192.0.2.11, port: 80, real_servers: [{address: 10.0.0.2}]}\n")
WRONG_SHAPES = [
    '{"managed": 5}',
    '{"managed": [[1, 2]]}',
    '{"managed": [["a", "b", "c", "d", "e"]]}',
    '{"managed": [[4, "tcp", "192.0.2.10", "80", null]]}',
    '{"drains": {"x": "y"}}',
    '{"drains": []}',
    '[]',
]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "var"
    base.mkdir()
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(base / "run"))
    return base / "state"


def test_record_of_the_wrong_shape_gives_one_line(netns: str, state: Path,
                                                  tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(FILE)
    for content in WRONG_SHAPES:
        record = plant_record(state, "director", netns, content)
        for command in ("plan", "apply"):
            ran = cli(command, str(cluster), "--netns", netns)
            refused(ran, str(record), "move it aside")
            assert len(ran.error_lines) == 1, ran
        record.unlink()


def test_record_in_a_folder_others_can_write_is_refused(netns: str, state: Path,
                                                        tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(FILE)
    state.mkdir(mode=0o700)
    state.chmod(0o777)
    plant_record(state, "director", netns, '{"managed": [], "drains": {}}')
    for command in ("plan", "apply"):
        refused(cli(command, str(cluster), "--netns", netns), str(state), "chmod go-w")


def test_apply_by_name_is_managed_from_inside(netns: str, state: Path, tmp_path: Path) -> None:
    """`--netns NS` and `ip netns exec NS` see one record: a service applied one way is
    managed (deleted when the file drops it) the other way."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(FILE)
    assert cli("apply", str(cluster), "--netns", netns).returncode == 0
    cluster.write_text(FILE.split("  - {name: api")[0])
    ran = ipvsctl("plan", str(cluster), netns_exec=netns, timeout=300)
    assert ran.returncode == 2, ran
    assert "- delete service tcp/192.0.2.11:80" in ran.stdout, ran.stdout
