"""The one printer for plans and apply progress, on the director and on real servers alike."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: every command imports the printer, even for --help
    from ipvsctl.model import Cluster
    from ipvsctl.plan.changes import Change, Plan
    from ipvsctl.plan.executor import Outcome, Result
    from ipvsctl.plan.findings import Finding

SYMBOLS = {"add": "+", "write": "+", "start": "+", "edit": "~", "set": "~", "restart": "~",
           "drain": "v", "delete": "-", "remove": "-", "stop": "-"}


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


def validated_line(path: str, cluster: Cluster) -> str:
    return (f"{path}: valid ({len(cluster.services)} services, {_real_servers(cluster)} "
            "real servers)")


def validated_json(cluster: Cluster) -> dict[str, Any]:
    return {"valid": True, "services": len(cluster.services),
            "real_servers": _real_servers(cluster)}


def _real_servers(cluster: Cluster) -> int:
    return sum(len(s.real_servers) for s in cluster.services.values())


def waiting_lines(plan: Plan) -> list[str]:
    """`apply --wait` between rounds: each real server still draining, and why."""
    return [f"  . {noop.describe()}" for noop in plan.waiting]


def apply_lines(plan: Plan, result: Result, *, verbose: bool = False) -> list[str]:
    """What `apply` says once the changes (each shown live by progress_line) are done."""
    lines = [f"  = {noop.describe()}" for noop in plan.noops] if verbose else []
    lines += [f"  ! {warning}" for warning in plan.warnings]
    lines += [f"  . {noop.describe()} (rerun, or use --wait)" for noop in plan.waiting]
    lines.append(f"{result_summary(result)} {summary(plan)}")
    return lines


def apply_json(plan: Plan, result: Result, *, dry_run: bool) -> dict[str, Any]:
    return {"dry_run": dry_run, "plan": plan.to_json(), "applied": len(result.applied)}


def host_lines(what: str, netns: str | None, plan: Plan, result: Result | None, *,
               verbose: bool = False, diffs: dict[str, str] | None = None) -> list[str]:
    """A real-server setup or teardown: its plan, then the file diffs of a dry run or the
    summary of what was applied."""
    lines = [f"Real-server {what}{f' in netns {netns}' if netns else ''}:"]
    lines += plan_lines(plan, verbose=verbose)
    if diffs is not None:
        lines += [text.rstrip("\n") for text in diffs.values()]
    elif result is not None:
        lines.append(result_summary(result))
    return lines


def host_json(plan: Plan, result: Result | None,
              diffs: dict[str, str] | None = None) -> dict[str, Any]:
    data = plan.to_json()
    if diffs is not None:
        data["diffs"] = diffs
    data["applied"] = None if result is None else len(result.applied)
    return data


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
