"""Finding 3: the namespace name is checked before anything touches the disk, and lock and record
files are never opened through a link ipvsctl did not make."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.security.conftest import Dirs
from tests.security.helpers import cli, host_state, lock_files, records, refused, tree

pytestmark = pytest.mark.netns
VIP = "192.0.2.10"
CLUSTER = ("services:\n"
           "  - {name: web, vip: 192.0.2.10, port: 80, real_servers: [{address: 10.0.0.1}]}\n")

BAD_NAMES = [
    pytest.param("../../../victim", id="dot-dot"),
    pytest.param("../../../victim/x", id="dot-dot-deeper"),
    pytest.param("..", id="parent"),
    pytest.param("a/b", id="slash"),
    pytest.param("", id="empty"),
    pytest.param("x" * 300, id="too-long"),
    pytest.param("bad\nname", id="newline"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("command", [["backend-setup", "--vip", VIP], ["backend-teardown"],
                                     ["apply", "CLUSTER"]])
def test_bad_namespace_name_touches_no_file(dirs: Dirs, name: str,
                                            command: list[str]) -> None:
    victim = dirs.base / "victim.lock"
    victim.write_text("precious\n")
    cluster = dirs.base / "cluster.yaml"
    cluster.write_text(CLUSTER)
    argv = [str(cluster) if a == "CLUSTER" else a for a in command]
    before = tree(dirs.base)
    ran = cli(*argv, "--netns", name)
    refused(ran, "network namespace name")
    assert "not valid" in ran.stderr
    assert tree(dirs.base) == before
    assert victim.read_text() == "precious\n"


def test_lock_file_that_is_a_link_is_refused(ns: str, dirs: Dirs) -> None:
    """A link where the lock goes (only root could have put it there, but ipvsctl never makes
    one): refused, and the link's target is not truncated."""
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    victim = dirs.base / "victim"
    victim.write_text("precious\n")
    found = lock_files(dirs.run, "backend")
    assert found, "setup left no lock file"
    for lock in found:
        lock.unlink()
        lock.symlink_to(victim)
    before = host_state(ns)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, "link")
    assert victim.read_text() == "precious\n"
    assert host_state(ns) == before


def test_record_that_is_a_link_is_refused(ns: str, dirs: Dirs) -> None:
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    [record] = records(dirs.state, "backend")
    elsewhere = dirs.base / "elsewhere.json"
    elsewhere.write_text(record.read_text())
    os.chmod(elsewhere, 0o600)
    record.unlink()
    record.symlink_to(elsewhere)
    before = host_state(ns)
    ran = cli("backend-teardown", "--netns", ns)
    refused(ran, str(record), "link")
    assert host_state(ns) == before
    assert record.is_symlink() and json.loads(elsewhere.read_text())


def test_lock_folder_others_can_write_is_refused(ns: str, dirs: Dirs) -> None:
    """Anyone who can write the lock folder can swap a lock for a link to any file."""
    dirs.run.mkdir(mode=0o700)
    dirs.run.chmod(0o777)
    before = host_state(ns)
    ran = cli("backend-setup", "--netns", ns, "--vip", VIP)
    refused(ran, str(dirs.run), "chmod go-w")
    assert host_state(ns) == before
    assert not records(dirs.state, "backend")


def test_lock_is_released_after_a_run(ns: str, dirs: Dirs) -> None:
    assert cli("backend-setup", "--netns", ns, "--vip", VIP).returncode == 0
    assert cli("backend-teardown", "--netns", ns).returncode == 0
    leftovers: list[Path] = lock_files(dirs.run, "backend")
    assert all(p.is_file() and not p.is_symlink() for p in leftovers)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_namespace_name_in_the_vrrp_hook_touches_no_file(dirs: Dirs, name: str) -> None:
    """keepalived's notify hook names its record after --netns: the name must not lead out
    of the run folder (`--netns ../../../victim` would write victim)."""
    before = tree(dirs.base)
    ran = cli("ha-notify", "--node", "d1", "--netns", name, "INSTANCE", "ipvsctl", "MASTER",
              "250")
    refused(ran, "network namespace name")
    assert tree(dirs.base) == before
