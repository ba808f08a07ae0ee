"""A one-weight edit of a loaded file, without reading the file again (for `ipvsctl run`).

A running director's most common edit is one real server's weight in a file of thousands of
services. Reading and building the whole file again costs seconds at 10,000 x 10; but when
the new text differs from the last good one only inside one real server's flow line, and
both lines are exactly `- {address: A, weight: W}` (perhaps with a comment) with the same
indentation and address,
the new file means the old Cluster with that one weight replaced: nothing else in the text
moved, and a real server's weight takes part in no rule beyond its own range (the sorry
server, the one weight rule that looks further, is never such a list item).

The new weight is read as the line reader reads an integer and accepted only inside the
range the builder checks (vocabulary.WEIGHT); anything else - another key, a second line, a
comment, a weight out of range, a leading zero, a line no real server was read from - returns
None and the caller loads the file in full, so every error is the loader's own
`file:line:col` message. tests/config/test_weight_edit.py compares this against a full load
of each edited text.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from itertools import pairwise
from typing import NamedTuple

from ipvsctl.config import vocabulary as R
from ipvsctl.config.limits import LIMITS
from ipvsctl.model import Cluster, RealServerKey, ServiceKey

# The line reader's int class and dotted quad (fast_yaml._CLASSES), in the one layout taken.
_LINE = re.compile(r"( *)- \{address: ([0-9]{1,3}(?:\.[0-9]{1,3}){3}), "
                   r"weight: (0|[1-9][0-9]{0,9})\}(?: *| +#.*)")


class WeightEdit(NamedTuple):
    cluster: Cluster  # the old one, with the one real server's weight replaced
    service: ServiceKey
    real_server: RealServerKey
    line: int  # where, in the file (1-based)
    old: int
    new: int


class Lines:
    """The first line of each service of a loaded Cluster, in file order (None: the services
    are not in file order, so no line can be placed)."""

    def __init__(self, cluster: Cluster) -> None:
        self.keys = list(cluster.services)
        starts = [_line_of(s.source) for s in cluster.services.values()]
        ordered = all(a < b for a, b in pairwise(starts))
        self.starts: list[int] | None = starts if ordered and -1 not in starts else None

    def service_at(self, line: int) -> ServiceKey | None:
        if self.starts is None:
            return None
        i = bisect_right(self.starts, line) - 1
        return self.keys[i] if i >= 0 else None


def _line_of(source: str | None) -> int:
    if source is None:
        return -1
    parts = source.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else -1


def weight_edit(old_text: str, old: Cluster, new_text: str, lines: Lines
                ) -> WeightEdit | None:
    """The edit from old_text (the file `old` was loaded from) to new_text as one weight
    change, or None when it is not exactly that (then load new_text in full)."""
    if old_text == new_text or len(new_text) > LIMITS.size:
        return None
    start = _common_prefix(old_text, new_text)
    tail = _common_suffix(old_text, new_text, min(len(old_text), len(new_text)) - start)
    old_end, new_end = len(old_text) - tail, len(new_text) - tail
    if "\n" in old_text[start:old_end] or "\n" in new_text[start:new_end]:
        return None  # more than one line changed, or lines added or removed
    begin = old_text.rfind("\n", 0, start) + 1
    stop = old_text.find("\n", old_end)
    stop = len(old_text) if stop < 0 else stop
    was = _LINE.fullmatch(old_text, begin, stop)
    now = _LINE.fullmatch(new_text, begin, stop + len(new_text) - len(old_text))
    if was is None or now is None or was.group(1, 2) != now.group(1, 2):
        return None
    weight = int(now.group(3))
    if weight == int(was.group(3)) or not R.WEIGHT[0] <= weight <= R.WEIGHT[1] \
            or stop - begin > LIMITS.line:  # the same weight: a comment, read in full
        return None
    number = old_text.count("\n", 0, begin) + 1
    key = lines.service_at(number)
    service = old.services.get(key) if key is not None else None
    if key is None or service is None:
        return None
    column = len(was.group(1)) + 3  # where the flow mapping starts: the real server's place
    place = [str(number), str(column)]
    found = [rs for rs in service.real_servers.values()
             if rs.key.address == was.group(2) and rs.source is not None
             and rs.source.rsplit(":", 2)[1:] == place]
    if len(found) != 1 or found[0].draining or found[0].spec.weight != int(was.group(3)):
        return None
    rs = found[0]
    servers = dict(service.real_servers)
    servers[rs.key] = dataclasses.replace(rs, spec=rs.spec._replace(weight=weight))
    services = dict(old.services)
    services[key] = dataclasses.replace(service, real_servers=servers)
    return WeightEdit(dataclasses.replace(old, services=services), key, rs.key, number,
                      rs.spec.weight, weight)


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix, by halving with C-speed slice compares."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, most: int) -> int:
    """The length of the longest common suffix, at most `most` characters."""
    lo, hi = 0, most
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo
