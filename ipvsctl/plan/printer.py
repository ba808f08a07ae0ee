"""The one printer for plans and apply progress, on the director and on real servers alike."""

from __future__ import annotations

import json
from typing import Any

from ipvsctl.plan.changes import Change, Plan
from ipvsctl.plan.executor import Outcome, Result

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


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)
