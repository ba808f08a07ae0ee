"""The JSON fast path's tests compare it with the careful (YAML) path: helpers for both."""

from __future__ import annotations

from typing import Any

import pytest

from ipvsctl.config import loader
from ipvsctl.model import Cluster


def careful(text: str, path: str, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The text loaded by the careful path alone (the fast path made to give up)."""
    with monkeypatch.context() as m:
        m.setattr(loader, "load_json", lambda text, path: None)
        return loader.loads(text, path)


def sources(cluster: Cluster) -> list[Any]:
    """Every service's and real server's file position (equality ignores them)."""
    return [(s.source, s.name, [r.source for r in s.real_servers.values()])
            for s in cluster.services.values()]
