"""State records and locks on a real file system: atomic, per namespace, never stale."""

from __future__ import annotations

import os
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


def test_records_are_per_namespace_and_round_trip(dirs: Path) -> None:
    assert read_record("director", None) == {}
    write_record("director", None, {"managed": [[4, "tcp", "192.0.2.10", 80, 0]]})
    write_record("director", "ns1", {"drains": {}})
    assert read_record("director", None) == {"managed": [[4, "tcp", "192.0.2.10", 80, 0]]}
    assert read_record("director", "ns1") == {"drains": {}}
    state = dirs / "state"
    assert sorted(p.name for p in state.iterdir()) == ["director.json", "director.ns1.json"]
    assert (state / "director.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_an_unreadable_record_is_an_error_naming_it(dirs: Path, text: str) -> None:
    path = dirs / "state" / "backend.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(HostError, match=f"{path}: .*move it aside to start over"):
        read_record("backend", None)


def test_a_second_holder_is_refused_at_once_with_the_holders_pid(dirs: Path) -> None:
    with exclusive_lock("apply", "ns1") as path:
        assert path == dirs / "run" / "apply.ns1.lock"
        with pytest.raises(LockError, match=f"pid {os.getpid()}") as info, \
                exclusive_lock("apply", "ns1"):
            pass
        assert info.value.exit_code == ExitCode.LOCKED
        with exclusive_lock("apply", None):  # another namespace: its own lock
            pass
    with exclusive_lock("apply", "ns1"):  # released with the first holder
        pass


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_namespace_names_that_are_paths_are_refused(name: str) -> None:
    with pytest.raises(HostError, match="is not valid"):
        netns_path(name)
