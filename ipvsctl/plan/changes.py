"""Self-describing changes and the Plan that carries them.

One Plan type serves the director (IPVS services, real servers, timeouts, sysctls) and the real
servers (addresses, sysctls, files). A change says what it does in words and as JSON, and carries
one typed operation (director/ops.py, realserver/ops.py): what the executing adapter needs,
never printed. The operation's type says what the change is; its action and subject words are
only for people and JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class Operation(Protocol):
    """What a change does, as the adapter that executes it reads it."""

    @property
    def action(self) -> str: ...  # add | edit | delete | drain | set | write | remove |
    #                                 start | stop | restart (a sync daemon thread)

    @property
    def subject(self) -> str: ...  # service | real-server | timeouts | sysctl | sync-daemon | ...


@dataclass(frozen=True, slots=True)
class Change:
    op: Operation = field(compare=False, repr=False)
    target: str  # what it acts on, in the kernel's words: "tcp/192.0.2.10:80"
    text: str  # one line an engineer reads: "add real server 10.0.0.11:80 (dr, weight 1) to ..."
    before: Any = None  # JSON-able summary of the old value (None when adding)
    after: Any = None  # JSON-able summary of the new value (None when deleting)

    @property
    def action(self) -> str:
        return self.op.action

    @property
    def subject(self) -> str:
        return self.op.subject

    def describe(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        op = self.op
        return {"action": op.action, "subject": op.subject, "target": self.target,
                "description": self.text, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class Noop:
    """Something that needs no change, and why."""

    subject: str
    target: str
    reason: str
    waiting: bool = False  # settles by itself (a drain waiting on connections): `--wait` waits

    def describe(self) -> str:
        return self.reason

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "target": self.target, "reason": self.reason,
                "waiting": self.waiting}


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    noops: list[Noop] = field(default_factory=list)
    # Counts of entries left untouched, by subject; cheaper than a Noop each at 100k entries.
    unchanged: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # A narrowed run (--service) sets the services it compared; nothing else was read.
    only: list[str] | None = None

    def __bool__(self) -> bool:  # "is there anything to do?"
        return bool(self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def waiting(self) -> list[Noop]:
        return [n for n in self.noops if n.waiting]

    def counts(self) -> dict[str, int]:
        tally: dict[tuple[str, str], int] = {}
        for c in self.changes:  # 110,000 of them in a first apply: no text per change
            op = c.op
            k = (op.action, op.subject)
            tally[k] = tally.get(k, 0) + 1
        return {f"{action} {subject}": n for (action, subject), n in tally.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "noops": [n.to_json() for n in self.noops],
            "unchanged": dict(self.unchanged),
            "warnings": list(self.warnings),
            "summary": {"pending": len(self.changes), **self.counts()},
            **({"only": list(self.only)} if self.only is not None else {}),
        }
