"""dashboards/ipvsctl.json queries only series ipvsctl exports, in PromQL Prometheus accepts.

Every expression (panels and template variables) is checked twice: promtool parses it (as a
recording rule of a throwaway rules file, Grafana's variables filled in), and every metric name
in it must be one an exposition of ipvsctl's registry carries.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboards" / "ipvsctl.json"
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
             "$instance": ".*", "$service": ".*"}
# PromQL words that are not metric names (keywords and aggregation modifiers).
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan",
            # aggregations, which may take their grouping before the parenthesis
            "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
            "bottomk", "topk", "quantile", "limitk", "limit_ratio"}


def expressions(node: Any) -> Iterator[str]:
    """Every PromQL string in the dashboard: panel targets and template-variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, dict) and "query" in value:
                yield from _label_values(value["query"])
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def _label_values(query: str) -> Iterator[str]:
    """label_values(SELECTOR, label) is Grafana's, not PromQL: its selector is the query."""
    found = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", query)
    yield found.group(1) if found else query


def filled(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers outside strings, label matchers,
    ranges and grouping clauses that are not functions or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', filled(expr))
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1",
                  text)
    names = set()
    for found in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = found.group(0)
        if text[found.end():].lstrip().startswith("(") or word.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def exported_families() -> str:
    """An exposition of the daemon's registry (the table's families, with a file, every
    detail; health; every event family with samples)."""
    from tests.metrics.test_exporter import full_exposition

    return full_exposition()[0]


def exported() -> set[str]:
    """Every sample name such an exposition carries."""
    return {s.name for f in text_string_to_metric_families(exported_families())
            for s in f.samples}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def test_every_series_the_dashboard_queries_is_exported() -> None:
    wanted = {name: expr for expr in expressions(dashboard()) for name in metric_names(expr)}
    assert len(wanted) >= 10
    missing = sorted(set(wanted) - exported())
    assert missing == [], [(name, wanted[name]) for name in missing]


def test_the_check_would_catch_a_series_that_is_not_exported() -> None:
    doctored = dashboard()
    doctored["panels"][1]["targets"][0]["expr"] = (
        'sum by (service) (rate(ipvsctl_service_conections_total{service=~"$service"}[5m]))')
    names = {n for e in expressions(doctored) for n in metric_names(e)}
    assert "ipvsctl_service_conections_total" in names - exported()
    assert metric_names('a_total / on (service) group_left sum by (x) (b{y="c d"}[5m])') == {
        "a_total", "b"}


def test_promtool_parses_every_expression(tmp_path: Path) -> None:
    exprs = sorted(set(expressions(dashboard())))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr{i}", "expr": filled(e)} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    path.write_text(json.dumps({"groups": [{"name": "bad", "rules": [
        {"record": "bad:expr", "expr": "sum by (service (rate(x[5m]))"}]}]}))
    bad = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode != 0


def test_every_panel_has_a_title_a_description_and_the_datasource_variable() -> None:
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    assert panels and all(p["title"] and p["description"] for p in panels)
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
