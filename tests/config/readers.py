"""Helpers for the loader's tests: each reader's document, compared with the careful one.

Every reader must produce the careful reader's document for every file it accepts: the same
plain values and the same place for every container (what `source` is made of).
"""

from __future__ import annotations

from typing import Any

import pytest

from ipvsctl.config import careful_yaml, fast_yaml, json_reader, loader
from ipvsctl.config.tree import Places
from ipvsctl.model import Cluster

READERS = {"lines": fast_yaml.read, "json": json_reader.read}


def careful_document(text: str) -> tuple[Any, Places]:
    root, places, problems = careful_yaml.read(text, "<test>")
    assert not problems
    return root, places


def containers(value: Any, places: Places, out: list[Any] | None = None) -> list[Any]:
    """Every container's (path-free) place, in document order."""
    out = [] if out is None else out
    if type(value) is dict or type(value) is list:
        out.append(places.node(value))
        for item in value.values() if type(value) is dict else value:
            containers(item, places, out)
    return out


def same_document(text: str, reader: str) -> Any:
    """The reader accepts the text and produces the careful document; returns it."""
    found = READERS[reader](text)
    assert found is not None, f"the {reader} reader gave up"
    data, places = found
    careful_data, careful_places = careful_document(text)
    assert data == careful_data
    assert [type(v) for v in _scalars(data)] == [type(v) for v in _scalars(careful_data)]
    assert containers(data, places) == containers(careful_data, careful_places)
    return data


def _scalars(value: Any) -> list[Any]:
    if type(value) is dict:
        return [s for v in value.values() for s in _scalars(v)]
    if type(value) is list:
        return [s for v in value for s in _scalars(v)]
    return [value]


def careful(text: str, path: str, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The text loaded by the careful reader alone (the fast readers made to give up)."""
    with monkeypatch.context() as m:
        m.setattr(loader.fast_yaml, "read", lambda text: None)
        m.setattr(loader.json_reader, "read", lambda text: None)
        return loader.loads(text, path)


def only(reader: str, text: str, path: str, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The text loaded with only one fast reader (the other made to give up)."""
    with monkeypatch.context() as m:
        other = "json_reader" if reader == "lines" else "fast_yaml"
        m.setattr(getattr(loader, other), "read", lambda text: None)
        return loader.loads(text, path)


def sources(cluster: Cluster) -> list[Any]:
    """Every service's and real server's file position (equality ignores them)."""
    return [(s.source, s.name, [r.source for r in s.real_servers.values()])
            for s in cluster.services.values()]
