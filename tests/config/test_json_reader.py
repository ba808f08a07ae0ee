"""The JSON reader: json.loads in C, the careful reader's document, or nothing.

It reads only text where JSON and YAML agree and must then produce exactly the careful
reader's document (values and container places); a repeated key (json.loads keeps the last
silently) is found by counting pairs, not by a hook per JSON object, and leaves the file to the
careful reader, which words it. Problems in the values are the builder's: the file is then read
again carefully, so every message is the careful reader's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

from ipvsctl.config import json_reader, loads
from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from tests.config.readers import careful, same_document, sources

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402

GOOD = [HERE / "good" / "full.yaml", HERE / "good" / "health.yaml",
        ROOT / "examples" / "cluster.yaml"]
BAD = sorted((HERE / "bad").glob("*.yaml"))


def same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON reader takes the text, and the Cluster is the careful one, sources included."""
    same_document(text, "json")
    fast, slow = loads(text, "c.json"), careful(text, "c.json", monkeypatch)
    assert fast == slow and sources(fast) == sources(slow)
    assert fast.director == slow.director and fast.scope == slow.scope


SERVICE = '{"vip": "192.0.2.1", "port": 80, "real_servers": [RS]}'
RS = '{"address": "10.0.0.1", "weight": 1}'


def doc(service: str = SERVICE, rs: str = RS, before: str = "", after: str = "") -> str:
    return "{" + before + '"services": [' + service.replace("RS", rs) + "]" + after + "}"


REPEATED = {
    "real server": doc(rs='{"address": "10.0.0.1", "weight": 1, "weight": 2}'),
    "real server, helper path": doc(rs='{"address": "10.0.0.1", "port": 80, "port": 80}'),
    "service": doc(service='{"vip": "192.0.2.1", "port": 80, "port": 81, "real_servers": [RS]}'),
    "top": doc(after=', "defaults": {}, "defaults": {}'),
    "sysctls": doc(before='"director": {"sysctls": {"conn_reuse_mode": 0, '
                          '"conn_reuse_mode": 1}}, '),
    "sysctls after services": doc(after=', "director": {"sysctls": {"conn_reuse_mode": 0, '
                                        '"conn_reuse_mode": 0}}'),
    "timeouts, only skipped": doc(before='"director": {"timeouts": {"tcp": 9, "tcp": 9}}, '),
    "defaults, only skipped": doc(before='"defaults": {"weight": 2, "weight": 3}, '),
    "scope after services": doc(after=', "scope": {"vips": ["192.0.2.0/24"], '
                                      '"vips": ["192.0.2.0/24"]}'),
    "persistence": doc(service='{"vip": "192.0.2.1", "port": 80, '
                               '"persistence": {"timeout": 60, "timeout": 60}}'),
    "tunnel": doc(rs='{"address": "10.0.0.1", "forward": "tunnel", '
                     '"tunnel": {"type": "ipip", "type": "ipip"}}'),
    "spaced": doc(rs='{"address" : "10.0.0.1", "weight" : 1, "weight" : 2}'),
    "IPv6 texts": doc(service='{"vip": "2001:db8::1", "port": 80, "real_servers": [RS]}',
                      rs='{"address": "::2", "address": "::3"}'),
}


@pytest.mark.parametrize("indent", [None, 0, 2])
@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_files_as_json_read_as_the_careful_reader_does(
        path: Path, indent: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    same(json.dumps(yaml.safe_load(path.read_text()), indent=indent), monkeypatch)


def test_generated_table_has_file_positions() -> None:
    cluster = loads(gen.cluster_json(30, 4), "big.json")
    assert cluster.services == loads(gen.cluster_yaml(30, 4), "big.yaml").services
    second = list(cluster.services.values())[1]
    assert second.source == "big.json:7:2"
    assert next(r.source for r in second.real_servers.values()) == "big.json:8:4"


@pytest.mark.parametrize("text", REPEATED.values(), ids=REPEATED.keys())
def test_a_repeated_key_is_left_to_the_careful_reader(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    json.loads(text)  # valid JSON: json.loads alone would keep the last value
    assert json_reader.read(text) is None
    with pytest.raises(ConfigError, match="duplicate key"):
        loads(text, "c.json")


def test_the_same_files_without_the_repeat_are_read() -> None:
    for name, text in REPEATED.items():
        once = json.dumps(json.loads(text))  # the last value of each repeated key, once
        assert json_reader.read(once) is not None, name


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": "), (",", " : "), (" ,", " :\n")],
                         ids=["compact", "default", "spaced", "lines"])
def test_layouts_and_ipv6_texts_read_as_the_careful_reader_does(
        separators: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(gen.cluster_json(5, 3))
    data["services"].append({"vip": "2001:db8::1", "port": 443, "real_servers": [
        {"address": "::2", "weight": 3}, {"address": "2001:db8::7"},
        {"address": " ::5 ", "weight": 1}]})
    data["scope"] = {"vips": ["::/0", "10.0.0.0/8"]}
    data["director"] = {"sysctls": {"conn_reuse_mode": 0}, "timeouts": {"tcp": 900}}
    data["services"][0]["real_servers"].append(
        {"address": "10.1.0.1", "forward": "tunnel", "tunnel": {"type": "gre"}})
    same(json.dumps(data, separators=separators), monkeypatch)


@pytest.mark.parametrize("text", [
    '{"services": [{"vip": "192.0.2.1", "port": -0.5}]}',  # a float but a check's seconds
    '{"services": [{"vip": "192.0.2.1", "port": 80.1234567}]}',
    '{"services": [{"vip": "192.0.2.1", "port": 1e2}]}',  # YAML reads 1e2 as a string
    '{"services": [{"vip": "192.0.2.1", "port": NaN}]}',
    '{"services": [{"vip": "192.0.2.\\u0031", "port": 80}]}',  # an escape
    '{"services": [{"vip": "192.0.2.1",\t"port": 80}]}',  # a tab
    '{"services": [{"vip": "192.0.2.1", "port": 80}]}\r\n',
    '{"services": [{"vip": "192.0.2.1", "port": 80, "name": "caf\u00e9"}]}',
    '{"services": [{"vip": "192.0.2.1", "port": 80}]} # comment',
    '{"services": [{"vip": "192.0.2.1", "port": 1' + "0" * 40 + '}]}',  # too many digits
    '{"services": [{"vip": "' + "x" * 5000 + '", "port": 80}]}',  # too long a value
    '{"services": [{"name": "a{b", "vip": "192.0.2.1", "port": 80}]}',  # a bracket in a string
    'services: []',
])
def test_anything_unusual_is_left_to_the_careful_reader(text: str) -> None:
    assert json_reader.read(text) is None


@pytest.mark.parametrize("text", [
    doc(rs='{"address": "10.0.0.1"}, {"address": "10.0.0.1", "weight": 2}'),  # same server
    doc(rs='{"address": "224.0.0.1", "weight": 1}'),  # multicast
    doc(rs='{"address": "192.0.2.1", "weight": 1}'),  # the VIP
    doc(rs='{"address": "10.0.0.1", "weight": 65536}'),
    doc(rs='{"address": "10.0.0.1", "weight": 1}, {"address": "10.0.0.2", "weight": true}'),
    doc(rs='{"address": "10.0.0.1", "weight": -1}'),
    doc(rs='{"address": "10.0.0.1", "weight": "10"}'),
    doc(service='{"vip": "192.0.2.1", "port": 80, "name": ":x", "real_servers": [RS]}'),
    doc(after=', ":x": 1'),
    doc(after=', "::x": 1'),
    doc(after=', "defaults": {"scheduler": "wrr"} , "scope" :{"vips": [{"a": 1}]}'),
])
def test_problems_are_worded_and_placed_as_the_careful_reader_does(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as fast:
        loads(text, "c.json")
    with pytest.raises(ConfigError) as slow:
        careful(text, "c.json", monkeypatch)
    assert fast.value.problems == slow.value.problems


def test_seconds_are_read_as_the_careful_reader_reads_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    same('{"defaults": {"check": {"type": "tcp", "interval": 0.5, "timeout": 0.25}}, '
         '"services": [{"vip": "192.0.2.1", "port": 80, "real_servers": '
         '[{"address": "10.0.0.1", "check": {"rise": 3}}]}]}', monkeypatch)
    with pytest.raises(ConfigError) as caught:
        loads('{"services": [{"vip": "192.0.2.1", "port": 80.0}]}', "c.json")
    assert caught.value.problems == [
        "c.json:1:44: services[0].port: must be an integer, not a number with a fraction"]


def test_one_line_file_is_read_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns were found by searching back to the previous '\\n': from the start, on one line.
    Timed against the same table one real server a line (a ratio: the machine is shared)."""
    small = json.dumps(json.loads(gen.cluster_json(300, 10)))
    same(small, monkeypatch)
    lines = gen.cluster_json(8000, 10)
    big = json.dumps(json.loads(lines))

    def seconds(text: str) -> float:
        with gc_paused():  # as config.loads does
            t0 = time.process_time()
            cluster = loads(text, "c.json")
            took = time.process_time() - t0
        assert len(cluster.services) == 8000
        return took

    assert next(iter(loads(big, "c.json").services.values())).source == "c.json:1:15"
    assert seconds(big) < 3 * seconds(lines)  # about 1x; searching back from the start, 10x


def _as_json(path: Path) -> str | None:
    """A bad file as JSON, or None where it is no plain data (YAML syntax errors, bombs...)."""
    if path.stem in {"61-deep-nesting", "62-merge-bomb", "63-alias-bomb", "68-recursive-alias"}:
        return None
    try:
        return json.dumps(yaml.safe_load(path.read_text()), indent=1)
    except (yaml.YAMLError, TypeError, ValueError):
        return None


PLAIN_BAD = [p for p in BAD if _as_json(p) is not None]


def test_most_bad_files_are_plain_data() -> None:
    assert len(PLAIN_BAD) >= len(BAD) - 16


@pytest.mark.parametrize("path", PLAIN_BAD, ids=[p.stem for p in PLAIN_BAD])
def test_bad_files_as_json_get_the_careful_messages(path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The bad corpus, written as JSON: the same messages (and places) on every path."""
    text = _as_json(path)
    assert text is not None
    try:
        expected = careful(text, "bad.json", monkeypatch)
    except ConfigError as slow:
        with pytest.raises(ConfigError) as fast:
            loads(text, "bad.json")
        assert fast.value.problems == slow.problems
    else:  # refused as YAML for a YAML-only reason (e.g. 010 reads as octal): fine as JSON
        assert loads(text, "bad.json") == expected
