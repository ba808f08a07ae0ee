"""The daemon's file watch (daemon/inotify.py) on a real inotify descriptor: it must see
both ways an editor saves, and nothing else."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest

from ipvsctl.daemon.inotify import FileWatch


def seen(watch: FileWatch, wait: float = 1.0) -> bool:
    ready, _, _ = select.select([watch.fileno()], [], [], wait)
    return bool(ready) and watch.changed()


def in_place(path: Path, text: str) -> None:
    with path.open("w") as f:
        f.write(text)


def renamed_over(path: Path, text: str) -> None:
    tmp = path.with_name(".cluster.yaml.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.mark.parametrize("save", [in_place, renamed_over], ids=["in place", "renamed over"])
def test_a_save_of_the_file_is_seen(tmp_path: Path, save: object) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("services: []\n")
    watch = FileWatch(path)
    try:
        assert not seen(watch, 0.1)
        save(path, "services: []\n# edited\n")  # type: ignore[operator]
        assert seen(watch)
        assert not watch.changed()  # drained
    finally:
        watch.close()


def test_only_writes_of_the_file_count(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("services: []\n")
    watch = FileWatch(path)
    try:
        (tmp_path / "other.yaml").write_text("x\n")
        renamed_over(tmp_path / "cluster.yaml.bak", "y\n")
        path.read_text()
        with path.open("a"):
            pass  # opened for writing, closed unchanged: IN_CLOSE_WRITE still counts
        assert seen(watch)
        (tmp_path / "other.yaml").write_text("z\n")
        assert not seen(watch, 0.2)
    finally:
        watch.close()


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="inotify_add_watch"):
        FileWatch(tmp_path / "nowhere" / "cluster.yaml")
