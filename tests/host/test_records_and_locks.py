"""State records and locks on a real file system: atomic, per namespace, never stale."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ipvsctl.errors import ExitCode, HostError, LockError
from ipvsctl.host.locks import exclusive_lock
from ipvsctl.host.netns import netns_path
from ipvsctl.host.records import atomic_write, read_record, write_record


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IPVSCTL_RUN_DIR", str(tmp_path / "run"))
    return tmp_path


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "file.conf"
    atomic_write(path, "one\n")
    atomic_write(path, b"two\n", mode=0o600)
    assert path.read_text() == "two\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["file.conf"]


@pytest.mark.netns
def test_records_are_per_namespace_and_round_trip(dirs: Path, netns: str) -> None:
    assert read_record("director", None) == {}
    write_record("director", None, {"managed": [[4, "tcp", "192.0.2.10", 80, 0]]})
    write_record("director", netns, {"drains": {"x": 1.0}})
    assert read_record("director", None) == {"managed": [[4, "tcp", "192.0.2.10", 80, 0]]}
    assert read_record("director", netns) == {"drains": {"x": 1.0}}
    state = dirs / "state"
    inode = os.stat(f"/run/netns/{netns}").st_ino
    assert sorted(p.name for p in state.iterdir()) == ["director.json",
                                                        f"director.netns-{inode}.json"]
    assert (state / "director.json").stat().st_mode & 0o777 == 0o600
    assert state.stat().st_mode & 0o777 == 0o700


@pytest.mark.netns
def test_a_record_of_an_older_release_is_read_then_moved(dirs: Path, netns: str) -> None:
    """Releases before 0.2 named records after the namespace: still read (read-only commands
    leave it where it is), moved to the namespace's own name by the next write."""
    state = dirs / "state"
    state.mkdir(mode=0o700)
    legacy = state / f"director.{netns}.json"
    legacy.write_text('{"managed": [], "drains": {"d": 2.0}}')
    legacy.chmod(0o600)
    assert read_record("director", netns) == {"managed": [], "drains": {"d": 2.0}}
    assert legacy.exists()
    write_record("director", netns, {"drains": {}})
    assert not legacy.exists()
    assert read_record("director", netns) == {"drains": {}}


@pytest.mark.netns
def test_a_record_left_by_a_deleted_namespace_is_not_its_successors(
        dirs: Path, netns_factory: Callable[[], str]) -> None:
    """Inodes are reused; cookies are not: a record whose namespace is gone reads as none."""
    first = netns_factory()
    write_record("backend", first, {"version": 1, "links_up": ["lo"]})
    inode = os.stat(f"/run/netns/{first}").st_ino
    record = dirs / "state" / f"backend.netns-{inode}.json"
    data = json.loads(record.read_text())
    data["netns"]["cookie"] += 1  # as if written by an earlier namespace with this inode
    record.write_text(json.dumps(data))
    assert read_record("backend", first) == {}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_an_unreadable_record_is_an_error_naming_it(dirs: Path, text: str) -> None:
    path = dirs / "state" / "backend.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(HostError, match=f"{path}: .*move it aside to start over"):
        read_record("backend", None)


@pytest.mark.netns
def test_a_second_holder_is_refused_at_once_with_the_holders_pid(dirs: Path,
                                                                 netns: str) -> None:
    inode = os.stat(f"/run/netns/{netns}").st_ino
    with exclusive_lock("apply", netns) as path:
        assert path == dirs / "run" / f"apply.netns-{inode}.lock"
        with pytest.raises(LockError, match=f"pid {os.getpid()}") as info, \
                exclusive_lock("apply", netns):
            pass
        assert info.value.exit_code == ExitCode.LOCKED
        with exclusive_lock("apply", None):  # another namespace: its own lock
            pass
    with exclusive_lock("apply", netns):  # released with the first holder
        pass


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_namespace_names_that_are_paths_are_refused(name: str) -> None:
    with pytest.raises(HostError, match="is not valid"):
        netns_path(name)
