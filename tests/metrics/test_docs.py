"""docs/metrics.md lists every metric ipvsctl exports, with its type, and nothing else; the
README's status screen is what `ipvsctl status` prints."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.metrics.test_dashboard import exported_families

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "metrics.md"
README = REPO / "README.md"


def documented() -> dict[str, str]:
    rows = re.findall(r"^\| `([a-z_:]+)` \| (\w+) \|", DOC.read_text(), flags=re.M)
    return dict(rows)


def test_the_metric_list_matches_what_is_exported() -> None:
    families = {}
    for family in text_string_to_metric_families(exported_families()):
        name = family.name + ("_total" if family.type == "counter" else "")
        name += "_info" if family.type == "info" else ""
        families[name] = "gauge" if family.type == "info" else family.type
    assert documented() == families


def readme_screen() -> list[str]:
    """`ipvsctl status` of the README: web with .22 down and .24 draining, in UTC."""
    from ipvsctl.metrics.provider import RepairFacts, ServerHealth
    from ipvsctl.metrics.status import document, status_lines
    from tests.metrics.test_exporter import NOW, WEB, B, C, View, rs

    view = View()
    view.table[0].real_servers.append(rs(C, 1))
    view.states[(WEB, C)] = ServerHealth("up", NOW - 3000, "http 200 in 2 ms", "http", NOW - 1)
    view.take_down(B)
    facts = view.facts()
    assert facts.checker is not None
    steady = facts.checker._replace(overrun=0, capped=0, late=0)  # a checker that keeps up
    view.facts = lambda: facts._replace(repair=RepairFacts(NOW - 4, 1), checker=steady)  # type: ignore[method-assign]
    view.states[(WEB, B)] = view.states[(WEB, B)]._replace(since=NOW - 4)
    return status_lines(document(view, now=NOW), now=NOW)


def test_the_readme_shows_the_status_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        screen = "\n".join(["$ sudo ipvsctl status", *readme_screen()])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert f"```\n{screen}\n```" in README.read_text()
