"""The JSON fast path finds repeated keys by counting pairs, not by a hook per JSON object.

json.loads keeps the last of two equal keys silently; the fast path counts the pairs the text
writes and the entries of the dicts it reads, and gives up when they differ. A repeated key
anywhere (a real server, a section read only in passing, the director's sysctls...) must leave
the file to the careful path, which words it; layouts that count differently (a space before
':', IPv6 texts starting with '::', one line) must still load exactly as the careful path does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from ipvsctl.config.fast_json import load_json
from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from ipvsctl.model import Cluster
from tests.config.both_paths import careful, sources

ROOT = Path(__file__).parent.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402

SERVICE = '{"vip": "192.0.2.1", "port": 80, "real_servers": [RS]}'
RS = '{"address": "10.0.0.1", "weight": 1}'


def same(text: str, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The fast path takes the text and builds what the careful path builds."""
    fast = load_json(text, "c.json")
    assert fast is not None, "the fast path gave up"
    slow = careful(text, "c.json", monkeypatch)
    assert fast == slow and sources(fast) == sources(slow)
    assert fast.director == slow.director and fast.scope == slow.scope
    return fast


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


@pytest.mark.parametrize("text", REPEATED.values(), ids=REPEATED.keys())
def test_a_repeated_key_is_left_to_the_careful_path(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    json.loads(text)  # valid JSON: json.loads alone would keep the last value
    assert load_json(text, "c.json") is None
    with pytest.raises(ConfigError, match="duplicate key"):
        careful(text, "c.json", monkeypatch)


def test_the_same_files_without_the_repeat_take_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in REPEATED.items():
        once = json.dumps(json.loads(text))  # the last value of each repeated key, once
        assert load_json(once, "c.json") is not None, name


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": "), (",", " : "), (" ,", " :\n")],
                         ids=["compact", "default", "spaced", "lines"])
def test_layouts_and_ipv6_texts_load_as_the_careful_path_does(
        separators: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(gen.cluster_json(5, 3))
    data["services"].append({"vip": "2001:db8::1", "port": 443, "real_servers": [
        {"address": "::2", "weight": 3}, {"address": "2001:db8::7"},
        {"address": " ::5 ", "weight": 1}]})
    data["scope"] = {"vips": ["::/0", "10.0.0.0/8"]}
    data["director"] = {"sysctls": {"conn_reuse_mode": 0}, "timeouts": {"tcp": 900}}
    data["services"][0]["real_servers"].append(
        {"address": "10.1.0.1", "forward": "tunnel", "tunnel": {"type": "gre"}})
    cluster = same(json.dumps(data, separators=separators), monkeypatch)
    assert len(cluster.services) == 6


@pytest.mark.parametrize("text", [
    doc(rs='{"address": "10.0.0.1"}, {"address": "10.0.0.1", "weight": 2}'),  # same server
    doc(rs='{"address": "224.0.0.1", "weight": 1}'),  # multicast
    doc(rs='{"address": "192.0.2.1", "weight": 1}'),  # the VIP
    doc(rs='{"address": "10.0.0.1", "weight": 65536}'),
    doc(rs='{"address": "10.0.0.1", "weight": 1}, {"address": "10.0.0.2", "weight": true}'),
    doc(rs='{"address": "10.0.0.1", "weight": -1}'),
    doc(service='{"vip": "192.0.2.1", "port": 80, "name": ":x", "real_servers": [RS]}'),
    doc(after=', ":x": 1'),
    doc(after=', "::x": 1'),
    doc(after=', "defaults": {"scheduler": "wrr"} , "scope" :{"vips": [{"a": 1}]}'),
])
def test_refused_real_servers_and_odd_keys_give_up(text: str) -> None:
    assert load_json(text, "c.json") is None


def test_one_line_file_is_read_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns were found by searching back to the previous '\\n': from the start, on one line."""
    small = json.dumps(json.loads(gen.cluster_json(300, 10)))
    same(small, monkeypatch)
    big = json.dumps(json.loads(gen.cluster_json(8000, 10)))
    with gc_paused():  # as config.loads does
        t0 = time.perf_counter()
        cluster = load_json(big, "c.json")
        took = time.perf_counter() - t0
    assert cluster is not None and len(cluster.services) == 8000
    assert next(iter(cluster.services.values())).source == "c.json:1:15"
    assert took < 1.5  # ~0.25 s; searching back from the start, ~3 s
