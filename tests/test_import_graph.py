"""The import graph flows one way: cli -> workflows -> planners and adapters -> model, plan.

Parsed from the source (every import, also those inside functions and under TYPE_CHECKING), so
a lazy import cannot hide a dependency. docs/development.md draws the same map.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ipvsctl"

# Rank of each module, by the longest matching prefix: a module imports only modules of its own
# rank or below.
RANKS = {
    # the vocabulary of everything: value objects, errors, names and ranges, tunables
    "ipvsctl.model": 0, "ipvsctl.errors": 0, "ipvsctl.config.vocabulary": 0,
    "ipvsctl.tunables": 0, "ipvsctl.gcpause": 0,
    # what a check is, the rules around it and what it looks at: value objects of the cluster
    # file too (a Cluster carries them)
    "ipvsctl.health.spec": 0, "ipvsctl.health.policy": 0, "ipvsctl.health.target": 0,
    # what both roles share, and each role's typed changes and facts (plain data)
    "ipvsctl.plan": 1, "ipvsctl.director.ops": 1, "ipvsctl.director.table": 1,
    "ipvsctl.realserver.ops": 1, "ipvsctl.realserver.facts": 1, "ipvsctl.realserver.record": 1,
    "ipvsctl.realserver.paths": 1,
    # planners, adapters and loaders
    "ipvsctl.director": 2, "ipvsctl.realserver": 2, "ipvsctl.ipvs": 2, "ipvsctl.host": 2,
    "ipvsctl.config": 2, "ipvsctl.metrics": 2, "ipvsctl.ha": 2, "ipvsctl.bgp": 2,
    # health: the state machine and the pure step (planners), the checkers and their runner
    # (adapters: sockets and processes); the daemon's sd_notify and event log (adapters)
    "ipvsctl.health": 2, "ipvsctl.daemon.notify": 2, "ipvsctl.daemon.log": 2,
    # workflows
    "ipvsctl.director.workflow": 3, "ipvsctl.realserver.workflow": 3, "ipvsctl.lab": 3,
    "ipvsctl.importers": 3, "ipvsctl.metrics.scrape": 3, "ipvsctl.metrics.exporter": 3,
    "ipvsctl.daemon": 3,
    # the command line
    "ipvsctl.cli": 4, "ipvsctl.__main__": 4,
    # the root package (its version), and any module not placed above: the bottom, so it
    # must be placed before it can import anything
    "ipvsctl": 0,
}
# Pure: data in, data out. They never touch the kernel, the host or another process.
PURE = ("ipvsctl.model", "ipvsctl.errors", "ipvsctl.config.vocabulary", "ipvsctl.tunables",
        "ipvsctl.plan", "ipvsctl.director.ops", "ipvsctl.director.planner",
        "ipvsctl.director.drains", "ipvsctl.realserver.ops", "ipvsctl.realserver.facts",
        "ipvsctl.realserver.planner", "ipvsctl.realserver.checker", "ipvsctl.realserver.cluster",
        "ipvsctl.realserver.request", "ipvsctl.metrics.families", "ipvsctl.metrics.table",
        "ipvsctl.metrics.exposition", "ipvsctl.metrics.status", "ipvsctl.metrics.provider",
        "ipvsctl.metrics.health", "ipvsctl.metrics.events", "ipvsctl.metrics.bgp",
        "ipvsctl.metrics.checker",
        "ipvsctl.health.spec",
        "ipvsctl.health.policy", "ipvsctl.health.target", "ipvsctl.health.state",
        "ipvsctl.health.step", "ipvsctl.health.marks", "ipvsctl.ha.node", "ipvsctl.ha.keepalived",
        "ipvsctl.bgp.render", "ipvsctl.bgp.announce", "ipvsctl.bgp.doctor")
# The health checkers and their runner are adapters too: sockets, processes, the event loop.
CHECKING = ("ipvsctl.health.checkers", "ipvsctl.health.runner", "ipvsctl.health.poller")
IMPURE = ("os", "subprocess", "socket", "ctypes", "fcntl", "shutil", "select", "asyncio",
          "pyroute2", "ipvsctl.ipvs", "ipvsctl.host", *CHECKING)
# Adapters execute what a planner decided: they never import a planner, a loader or a workflow.
ADAPTERS = ("ipvsctl.ipvs", "ipvsctl.host", "ipvsctl.realserver.target",
            "ipvsctl.realserver.observer", "ipvsctl.realserver.persist", *CHECKING,
            "ipvsctl.daemon.notify", "ipvsctl.daemon.log", "ipvsctl.bgp.speaker")
PLANNERS = ("ipvsctl.director.planner", "ipvsctl.director.drains", "ipvsctl.realserver.planner",
            "ipvsctl.realserver.checker", "ipvsctl.config.loader", "ipvsctl.health.step",
            "ipvsctl.health.marks", "ipvsctl.health.state", "ipvsctl.bgp.announce")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def rank(name: str) -> int:
    best = max((p for p in RANKS if within(name, (p,))), key=len)
    return RANKS[best]


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module `path` imports: `from ipvsctl import config` counts as ipvsctl.config."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (subs & known) or {node.module}
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def violations(imports: dict[str, set[str]]) -> list[str]:
    out = []
    for module, imported in sorted(imports.items()):
        for other in sorted(imported):
            ours = within(other, ("ipvsctl",))
            if ours and rank(other) > rank(module):
                out.append(f"{module} imports {other}, a layer above it")
            if within(module, PURE) and within(other, IMPURE):
                out.append(f"{module} is pure but imports {other}")
            if within(module, ADAPTERS) and within(other, PLANNERS):
                out.append(f"{module} is an adapter but imports the planner {other}")
            if ours and within(other, ("ipvsctl.cli",)) and not within(module, ("ipvsctl.cli",
                                                                               "ipvsctl.__main__")):
                out.append(f"{module} imports the command line {other}")
    return out


def test_the_import_graph_flows_one_way() -> None:
    imports = graph()
    assert "ipvsctl.director.planner" in imports and "ipvsctl.realserver.planner" in imports
    assert "ipvsctl.health.step" in imports and "ipvsctl.daemon" in imports
    assert violations(imports) == []


def test_the_rules_catch_each_kind_of_violation() -> None:
    """Each rule fails on a doctored copy of the real graph (and so would on real code)."""
    for module, bad, why in [
        ("ipvsctl.director.planner", "ipvsctl.ipvs", "is pure but imports"),
        ("ipvsctl.realserver.planner", "subprocess", "is pure but imports"),
        ("ipvsctl.director.planner", "pyroute2", "is pure but imports"),
        ("ipvsctl.model", "ipvsctl.plan.changes", "a layer above it"),
        ("ipvsctl.plan.executor", "ipvsctl.director.workflow", "a layer above it"),
        ("ipvsctl.ipvs._adapter", "ipvsctl.director.planner", "adapter but imports the planner"),
        ("ipvsctl.lab.run", "ipvsctl.cli.app", "imports the command line"),
        ("ipvsctl.health.step", "ipvsctl.health.runner", "is pure but imports"),
        ("ipvsctl.health.step", "socket", "is pure but imports"),
        ("ipvsctl.health.spec", "ipvsctl.health.step", "a layer above it"),
        ("ipvsctl.model", "ipvsctl.health.state", "a layer above it"),
        ("ipvsctl.health.runner", "ipvsctl.health.step", "adapter but imports the planner"),
        ("ipvsctl.health.checkers.tcp", "ipvsctl.daemon", "a layer above it"),
    ]:
        imports = graph()
        imports[module] = imports[module] | {bad}
        found = violations(imports)
        assert any(module in v and bad in v and why in v for v in found), (module, bad, found)
