"""The one printer for plans and apply progress, on the director and on real servers alike."""

from __future__ import annotations

import json
from typing import Any

from ipvsctl.plan.changes import Change, Plan
from ipvsctl.plan.executor import Outcome, Result
from ipvsctl.plan.findings import Finding

SYMBOLS = {"add": "+", "write": "+", "edit": "~", "set": "~", "drain": "v", "delete": "-",
           "remove": "-"}


def symbol(change: Change) -> str:
    return SYMBOLS.get(change.action, "*")


def plan_lines(plan: Plan, *, verbose: bool = False) -> list[str]:
    lines = [f"  {symbol(c)} {c.describe()}" for c in plan.changes]
    if verbose:
        lines += [f"  = {n.describe()}" for n in plan.noops]
    lines += [f"  ! {w}" for w in plan.warnings]
    lines.append(summary(plan))
    return lines


def summary(plan: Plan) -> str:
    if not plan.changes:
        head = "No changes."
    else:
        counts = plan.counts()
        head = "Plan: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + "."
    kept = [f"{n} {k}" for k, n in sorted(plan.unchanged.items()) if n]
    if plan.noops and not plan.unchanged:
        kept.append(f"{len(plan.noops)} already as wanted")
    tail = f" Unchanged: {', '.join(kept)}." if kept else ""
    if plan.only is not None:
        tail += (f" Compared only {', '.join(plan.only)} (--service); other services and "
                 "director settings were not read.")
    return head + tail


def progress_line(outcome: Outcome) -> str:
    c = outcome.change
    if outcome.ok:
        return f"  {symbol(c)} {c.describe()}: done"
    return f"  {symbol(c)} {c.describe()}: FAILED: {outcome.error}"


def result_summary(result: Result) -> str:
    return f"Applied {len(result.applied)} change(s)."


TAGS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def finding_line(finding: Finding) -> str:
    """`doctor` and `backend-check` alike: the tag, what was checked, the finding, its fix."""
    line = f"{TAGS[finding.level]} {finding.subject}: {finding.message}"
    return line + (f"\n     fix: {finding.fix}" if finding.fix else "")


def findings_lines(findings: list[Finding], *, passed: bool = True) -> list[str]:
    """Every finding (only the problems unless `passed`), then the summary line."""
    lines = [finding_line(f) for f in findings if passed or f.level != "ok"]
    return [*lines, findings_summary(findings)]


def findings_summary(findings: list[Finding]) -> str:
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    return (f"{'FAILED' if failed else 'OK'}: {len(findings)} checks, {failed} failed, "
            f"{warned} warnings")


def findings_json(findings: list[Finding]) -> dict[str, Any]:
    return {"ok": not any(f.level == "fail" for f in findings),
            "findings": [f.to_json() for f in findings]}


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)
