"""Metric families held as columns, so a table of 110,000 real servers scrapes in a few C calls.

A ColumnFamily is a prometheus-client Metric: anything that reads `samples` (generate_latest,
the parser's tests, other collectors) gets ordinary Sample objects, built on demand. The
exposition (metrics/exposition.py) instead asks it for `text()`: its series' label blocks are
rendered once per table layout into %-templates that every family of that layout shares, and a
scrape is one `template % values` call per family and chunk of CHUNK series. No Sample, dict or
string per series is built on that path, and the layout is rebuilt only when services or real
servers come or go. The chunks bound how long one C call holds the GIL (a few milliseconds),
so a large scrape served from a thread never stalls the daemon's health checks for long.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

TYPES = ("counter", "gauge")
CHUNK = 4096  # series per %-template


def escape(value: str) -> str:
    """A label value as the text format spells it inside double quotes."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Labels:
    """The label sets of one layout (every service, or every real server): the names, each
    series' values, and the shared %-template of their rendered blocks."""

    def __init__(self, names: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.names = tuple(names)
        self.rows = rows
        self._templates: list[str] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def templates(self) -> list[str]:
        """'%s{a="x",b="y"} %d\\n' for every series (the sample name, then its value), in
        chunks of CHUNK series."""
        if self._templates is None:
            names = self.names
            lines = ["%s{" + ",".join(f'{n}="{escape(v)}"'
                                      for n, v in zip(names, row, strict=True))
                     .replace("%", "%%") + "} %d\n" for row in self.rows]
            self._templates = ["".join(lines[i:i + CHUNK]) for i in range(0, len(lines), CHUNK)]
        return self._templates


class ColumnFamily(Metric):
    """A counter or gauge family over one Labels layout: one integer value per series."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Labels,
                 values: Sequence[int]) -> None:
        if typ not in TYPES:
            raise ValueError(f"a column family is a counter or a gauge, not {typ!r}")
        if len(values) != len(labels):
            raise ValueError(f"{name}: {len(values)} values for {len(labels)} label sets")
        super().__init__(name, documentation, typ)
        self.labels = labels
        self.values = values

    @property
    def sample_name(self) -> str:
        return self.name + "_total" if self.type == "counter" else self.name

    # prometheus-client's Metric keeps a list in `samples`; here it is computed from the columns.
    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:
        name, names = self.sample_name, self.labels.names
        return [Sample(name, dict(zip(names, row, strict=True)), float(value))
                for row, value in zip(self.labels.rows, self.values, strict=True)]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ assigns an empty list; nothing else may
            raise AttributeError("a column family's samples come from its columns")

    def text(self) -> str:
        """This family in the text exposition format, HELP and TYPE lines first."""
        name = self.sample_name
        doc = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        head = (f"# HELP {name} {doc}\n"
                f"# TYPE {name} {self.type}\n")
        parts = [head]
        values = self.values
        for i, template in enumerate(self.labels.templates):
            chunk = values[i * CHUNK:(i + 1) * CHUNK]
            parts.append(template % tuple(itertools.chain.from_iterable(
                zip(itertools.repeat(name), chunk))))
        return "".join(parts)
