"""The JSON fast path builds exactly what the careful path builds, sources included, or gives up.

Every good file is re-written as JSON and loaded both ways; every bad-corpus file that is plain
data is re-written as JSON and must make the fast path give up (so the careful path words it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from ipvsctl import config
from ipvsctl.config.fast_json import load_json
from ipvsctl.errors import ConfigError
from tests.config.both_paths import careful, sources

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402

GOOD = [HERE / "good" / "full.yaml", ROOT / "examples" / "cluster.yaml"]
BAD = sorted((HERE / "bad").glob("*.yaml"))


def as_json(path: Path, indent: int | None = 2) -> str:
    return json.dumps(yaml.safe_load(path.read_text()), indent=indent)


@pytest.mark.parametrize("indent", [None, 0, 2])
@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_files_as_json_load_identically(path: Path, indent: int | None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    text = as_json(path, indent)
    fast = load_json(text, "c.json")
    assert fast is not None, "the fast path gave up on a good file"
    slow = careful(text, "c.json", monkeypatch)
    assert fast == slow
    assert sources(fast) == sources(slow)
    assert fast.director == slow.director and fast.scope == slow.scope


def test_generated_table_takes_the_fast_path_with_file_positions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = gen.cluster_json(30, 4)
    fast = load_json(text, "big.json")
    assert fast is not None and len(fast.services) == 30
    slow = careful(text, "big.json", monkeypatch)
    assert fast == slow and sources(fast) == sources(slow)
    assert fast.services == config.loads(gen.cluster_yaml(30, 4), "big.yaml").services
    second = list(fast.services.values())[1]
    assert second.source == "big.json:7:2"
    assert next(r.source for r in second.real_servers.values()) == "big.json:8:4"


def _as_json(path: Path) -> str | None:
    """The bad file as JSON, or None where it is no plain data (YAML syntax errors...)."""
    try:
        return json.dumps(yaml.safe_load(path.read_text()), indent=1)
    except (yaml.YAMLError, TypeError, ValueError):
        return None


PLAIN_BAD = [p for p in BAD if _as_json(p) is not None]


def test_most_bad_files_are_plain_data() -> None:
    assert len(PLAIN_BAD) >= len(BAD) - 5


@pytest.mark.parametrize("path", PLAIN_BAD, ids=[p.stem for p in PLAIN_BAD])
def test_bad_files_as_json_are_left_to_the_careful_path(path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    text = _as_json(path)
    assert text is not None
    try:
        careful(text, "bad.json", monkeypatch)
    except ConfigError:
        assert load_json(text, "bad.json") is None
    else:  # refused as YAML for a YAML-only reason (e.g. 010 reads as octal): fine as JSON
        assert load_json(text, "bad.json") is not None


@pytest.mark.parametrize("text", [
    '{"services": [], "services": []}',  # duplicate key
    '{"services": [{"vip": "192.0.2.1", "port": 80.0}]}',  # a float
    '{"services": [{"vip": "192.0.2.1", "port": 1e2}]}',  # YAML reads 1e2 as a string
    '{"services": [{"vip": "192.0.2.1", "port": NaN}]}',
    '{"services": [{"vip": "192.0.2.\\u0031", "port": 80}]}',  # an escape
    '{"services": [{"vip": "192.0.2.1",\t"port": 80}]}',  # a tab
    '{"services": [{"vip": "192.0.2.1", "port": 80}]}\r\n',
    '{"services": [{"vip": "192.0.2.1", "port": 80, "name": "caf\u00e9"}]}',
    '{"services": [{"vip": "192.0.2.1", "port": 80}]} # comment',
    '{"services": [{"vip": "192.0.2.1", "port": 80, "real_servers": '
    '[{"address": "10.0.0.1", "weight": true}]}]}',  # a boolean is no integer
    '{"services": [{"vip": "010.0.0.1", "port": 80}]}',
    '{"services": [{"vip": "224.0.0.1", "port": 80}]}',
    'services: []',
])
def test_anything_unusual_gives_up(text: str) -> None:
    assert load_json(text, "x.json") is None
