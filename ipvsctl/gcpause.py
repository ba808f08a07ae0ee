"""The one pause of Python's cyclic garbage collector, around work on large tables.

Loading, observing, planning and applying 100,000 entries make millions of objects without
cycles among them; the cyclic collector would only rescan them over and over (a fifth of the
run). Pauses nest: only the outermost one turns the collector back on.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
