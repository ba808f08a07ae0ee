"""One line per event on stderr: words for people, or JSON (`--log-format json`) for machines.

Events are things that happened (a transition, a reload, a repair, an error), never periodic
chatter. Text lines carry no timestamp: journald stamps each line; JSON lines carry one, as
machines reading them elsewhere need it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

FORMATS = ("text", "json")


class EventLog:
    __slots__ = ("_format", "_out")

    def __init__(self, fmt: str = "text", out: TextIO | None = None) -> None:
        self._format = fmt
        self._out = out or sys.stderr

    def event(self, kind: str, message: str, level: str = "info", **fields: Any) -> None:
        """kind: start, ready, transition, apply, reload, invalid, repair, pooled, error, stop."""
        if self._format == "json":
            record = {"time": round(time.time(), 3), "level": level, "event": kind,
                      "message": message, **fields}
            line = json.dumps(record, separators=(",", ":"), default=str)
        else:
            prefix = "" if level == "info" else f"{level}: "
            line = f"ipvsctl run: {prefix}{kind}: {message}"
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except OSError:
            pass  # a closed stderr must never stop the director
