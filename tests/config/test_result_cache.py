"""The kept Cluster of an unchanged file is exactly what reading it gives, and nothing else.

Every check compares a load through the cache with a load without it: the Cluster (values and
every `source`, which equality leaves out), the messages of every bad file, and what happens
when the entry is stale, damaged, foreign, planted as a link or in an untrusted folder.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from ipvsctl.config import fast_yaml, loader, loads, result_cache
from ipvsctl.errors import ConfigError
from ipvsctl.model import Cluster, RealServer, Service

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import gen  # noqa: E402

GOOD = [ROOT / "examples" / "cluster.yaml", *sorted((HERE / "good").glob("*.yaml"))]
BAD = sorted((HERE / "bad").glob("*.yaml"))


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IPVSCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(loader, "CACHE_FROM", 0)  # small files too, here
    return tmp_path / "state"


def test_a_small_file_is_never_kept(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "CACHE_FROM", 512 << 10)
    loads(gen.cluster_yaml(20, 3), "c.yaml", cache="keep")
    assert not (state / "cache").exists()
    text = gen.cluster_yaml(1100, 10)  # about 560 KB
    assert len(text) >= loader.CACHE_FROM
    loads(text, "c.yaml", cache="keep")
    assert entry(state).is_file()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the line reader ran."""
    calls: list[int] = []
    real = fast_yaml.read

    def counted(text: str) -> Any:
        calls.append(1)
        return real(text)

    monkeypatch.setattr(fast_yaml, "read", counted)
    return calls


def sources(cluster: Cluster) -> list[Any]:
    return [(s.source, s.name, [(rs.source, rs) for rs in s.real_servers.values()])
            for s in cluster.services.values()]


def same(a: Cluster, b: Cluster) -> None:
    assert a == b
    assert sources(a) == sources(b)


TEXTS = [p.read_text() for p in GOOD] + [gen.cluster_yaml(50, 4), gen.cluster_yaml(3, 2, 1)]


@pytest.mark.parametrize("text", TEXTS, ids=[p.stem for p in GOOD] + ["gen-50", "gen-3"])
def test_a_kept_cluster_is_the_built_one(text: str, reads: list[int],
                                                 state: Path) -> None:
    plain = loads(text, "c.yaml")
    first = loads(text, "c.yaml", cache="keep")
    calls = len(reads)
    second = loads(text, "c.yaml", cache="keep")
    same(plain, first)
    same(plain, second)
    if entry(state).exists():  # the line reader's shape: kept, and not read again
        assert len(reads) == calls
    # and the same under another name: messages and sources name the caller's path
    same(loads(text, "other.yaml"), loads(text, "other.yaml", cache="keep"))


def test_the_generated_file_is_kept_and_reused(state: Path, reads: list[int]) -> None:
    text = gen.cluster_yaml(20, 3)
    loads(text, "c.yaml", cache="keep")
    assert (state / "cache" / result_cache.NAME).is_file()
    assert os.stat(state / "cache").st_mode & 0o777 == 0o700
    assert os.stat(state / "cache" / result_cache.NAME).st_mode & 0o777 == 0o600
    before = len(reads)
    loads(text, "c.yaml", cache="keep")
    assert len(reads) == before  # a hit
    loads(text.replace("scheduler: wrr", "scheduler: rr", 1), "c.yaml", cache="keep")
    assert len(reads) == before + 1  # another scheduler: read again


def test_read_uses_what_keep_kept_and_writes_nothing(state: Path, reads: list[int]) -> None:
    text = gen.cluster_yaml(20, 3)
    loads(text, "c.yaml", cache="read")
    assert not (state / "cache").exists()  # a read-only command creates nothing
    loads(text, "c.yaml", cache="keep")
    before, data = len(reads), entry(state).read_bytes()
    same(loads(text, "c.yaml", cache="read"), loads(text, "c.yaml"))
    assert len(reads) == before + 1  # only the plain load read it
    loads(text.replace("scheduler: wrr", "scheduler: rr", 1), "c.yaml", cache="read")
    loads(text.replace("weight: 2", "weight: 3", 1), "c.yaml", cache="read")
    assert entry(state).read_bytes() == data  # neither a miss nor an edit keeps anything


WEIGHT_EDITS = [("weight: 1}", "weight: 7}", 1), ("weight: 2}", "weight: 0}", 40),
                ("weight: 3}", "weight: 65535}  # raised", 99)]


@pytest.mark.parametrize(("old", "new", "nth"), WEIGHT_EDITS)
def test_one_weight_edited_in_a_kept_file_is_what_reading_it_gives(
        old: str, new: str, nth: int, state: Path, reads: list[int]) -> None:
    """The kept Cluster with that weight replaced (nothing read), equal to a full read of the
    edited text in every value and every source; the entry stays (writing it would cost more
    than the edit saves), so the same edit is found from it again."""
    text = gen.cluster_yaml(100, 3)
    loads(text, "c.yaml", cache="keep")
    at = -1
    for _ in range(nth):
        at = text.index(old, at + 1)
    edited = text[:at] + new + text[at + len(old):]
    before = len(reads)
    same(loads(edited, "c.yaml", cache="read"), loads(edited, "c.yaml"))
    assert len(reads) == before + 1  # only the plain load read it
    data = entry(state).read_bytes()
    same(loads(edited, "c.yaml", cache="keep"), loads(edited, "c.yaml"))
    assert len(reads) == before + 2
    assert entry(state).read_bytes() == data
    assert result_cache.get(edited, "c.yaml") == (loads(edited, "c.yaml"), False)


def test_an_edit_is_taken_only_from_the_text_the_kept_cluster_was_built_from(
        state: Path, reads: list[int]) -> None:
    """An entry whose kept text is not the one its key names (damaged, or planted beside
    another file's Cluster) never yields an edit: the file is read."""
    text = gen.cluster_yaml(20, 3)
    loads(text, "c.yaml", cache="keep")
    data = entry(state).read_bytes()
    other = text.replace("10.128.0.4,", "10.128.0.8,", 1)  # same length, another address
    entry(state).write_bytes(data.replace(text.encode(), other.encode(), 1))
    edited = other.replace("weight: 2}", "weight: 5}", 1)
    before = len(reads)
    same(loads(edited, "c.yaml", cache="read"), loads(edited, "c.yaml"))
    assert len(reads) == before + 2  # read both times: no edit of a foreign text


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_a_bad_file_gives_the_same_messages_and_is_never_kept(path: Path, state: Path) -> None:
    text = path.read_text()
    with pytest.raises(ConfigError) as plain:
        loads(text, path.name)
    for _ in range(2):
        with pytest.raises(ConfigError) as cached:
            loads(text, path.name, cache="keep")
        assert cached.value.lines() == plain.value.lines()
    assert not (state / "cache" / result_cache.NAME).exists()


def test_a_kept_good_file_edited_into_a_bad_one_gives_the_careful_messages(state: Path) -> None:
    text = gen.cluster_yaml(5, 2)
    loads(text, "c.yaml", cache="keep")
    bad = text.replace("weight: 2", "weight: 70000", 1)
    with pytest.raises(ConfigError) as plain:
        loads(bad, "c.yaml")
    with pytest.raises(ConfigError) as cached:
        loads(bad, "c.yaml", cache="keep")
    assert cached.value.lines() == plain.value.lines()
    assert plain.value.lines()[0].startswith("c.yaml:")


def entry(state: Path) -> Path:
    return state / "cache" / result_cache.NAME


def test_a_damaged_or_foreign_entry_is_a_miss(state: Path, reads: list[int]) -> None:
    text = gen.cluster_yaml(10, 2)
    expect = loads(text, "c.yaml")
    loads(text, "c.yaml", cache="keep")
    data = entry(state).read_bytes()
    key, _, body = data.partition(b"\n")
    for damaged in (key + b"\n" + body[: len(body) // 2], key + b"\n", key + b"\nxyz",
                    b"0" * len(key) + b"\n" + body, b""):
        entry(state).write_bytes(damaged)
        before = len(reads)
        same(loads(text, "c.yaml", cache="keep"), expect)
        assert len(reads) == before + 1


def test_a_link_or_an_untrusted_folder_is_never_used(state: Path, tmp_path: Path,
                                                     reads: list[int]) -> None:
    text = gen.cluster_yaml(10, 2)
    loads(text, "c.yaml", cache="keep")
    real = tmp_path / "elsewhere"
    os.replace(entry(state), real)
    os.symlink(real, entry(state))
    before = len(reads)
    loads(text, "c.yaml", cache="keep")  # the link is not followed: read again...
    assert len(reads) == before + 1
    assert not entry(state).is_symlink()  # ...and the entry replaced, the target untouched
    assert real.read_bytes().partition(b"\n")[0] == entry(state).read_bytes().partition(b"\n")[0]
    os.chmod(state / "cache", 0o770)  # noqa: S103 (writable by its group: not trusted, not used)
    before = len(reads)
    loads(text, "c.yaml", cache="keep")
    assert len(reads) == before + 1


def test_the_name_given_is_part_of_the_key(state: Path, reads: list[int]) -> None:
    text = gen.cluster_yaml(10, 2)
    loads(text, "c.yaml", cache="keep")
    before = len(reads)
    other = loads(text, "./c.yaml", cache="read")  # the same file named otherwise: a miss
    assert len(reads) == before + 1
    same(other, loads(text, "./c.yaml"))
    assert all(s.source and s.source.startswith("./c.yaml:") for s in other.services.values())


def test_an_entry_naming_anything_but_the_models_values_is_a_miss_and_runs_nothing(
        state: Path, reads: list[int], tmp_path: Path) -> None:
    text = gen.cluster_yaml(10, 2)
    loads(text, "c.yaml", cache="keep")
    key = entry(state).read_bytes().partition(b"\n")[0]
    touched = tmp_path / "touched"
    planted = pickle.dumps(_Planted(str(touched)), protocol=5)
    for body in (planted, pickle.dumps({"services": {}}), pickle.dumps(Cluster(path="x.yaml"))):
        entry(state).write_bytes(key + b"\n" + body)
        before = len(reads)
        same(loads(text, "c.yaml", cache="read"), loads(text, "c.yaml"))
        assert len(reads) == before + 2  # a miss, then the plain load
    assert not touched.exists()


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_the_real_servers_are_written_with_every_field() -> None:
    """The flat form writes these fields: a new one must be added there (result_cache.py)."""
    assert [f.name for f in dataclasses.fields(RealServer)] == \
        ["key", "spec", "draining", "source", "stats", "connections"]
    assert [f.name for f in dataclasses.fields(Service)] == \
        ["key", "spec", "real_servers", "name", "source", "stats"]
    cluster = loads(gen.cluster_yaml(3, 2), "c.yaml")
    data = result_cache.encode(cluster)
    assert data is not None
    back = result_cache.decode(data, "c.yaml")
    assert back is not None
    same(back, cluster)
    for s in back.services.values():
        assert all(k is rs.key for k, rs in s.real_servers.items())
    assert result_cache.decode(data, "d.yaml") is None  # another name's entry
