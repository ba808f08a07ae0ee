"""One finding type for every check ipvsctl makes: `doctor` on a director, `backend-check` on a
real server. One severity vocabulary, ok | warn | fail; the printer shows both the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["ok", "warn", "fail"]  # fail: the command exits 1


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    subject: str  # what was checked: "ip_vs", "VIP 192.0.2.10", "sysctl", "listener"
    message: str
    fix: str | None = None  # what to run or change, when something is wrong
    target: str | None = None  # the one thing checked, where the subject names a kind of thing

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "subject": self.subject, "target": self.target,
                "message": self.message, "fix": self.fix}
