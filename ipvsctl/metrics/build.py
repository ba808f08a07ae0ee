"""ipvsctl_build_info: which ipvsctl (and Python, and prometheus-client) is answering."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from importlib import metadata

from prometheus_client.metrics_core import InfoMetricFamily, Metric

from ipvsctl import __version__


def _version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


class BuildCollector:
    def __init__(self) -> None:
        self._labels = {"version": __version__, "python": platform.python_version(),
                        "prometheus_client": _version_of("prometheus-client")}

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily("ipvsctl_build", "The ipvsctl build answering, as labels",
                               value=self._labels)
