"""docs/metrics.md lists every metric ipvsctl exports, with its type, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.metrics.test_dashboard import exported_families

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


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
