"""Importers: an ipvsadm save file or a keepalived.conf -> a Cluster, for `ipvsctl import`."""

from __future__ import annotations

import sys
from pathlib import Path

from ipvsctl.errors import ConfigError
from ipvsctl.importers import ipvsadm, keepalived
from ipvsctl.importers._common import ImportResult

FORMATS = ("ipvsadm", "keepalived")

__all__ = ["FORMATS", "ImportResult", "cluster_file", "import_file", "import_text"]


def import_text(fmt: str, text: str, path: str) -> ImportResult:
    """Translate `text` (read from `path`, which messages name) from format `fmt`.

    The result's cluster is fully normalised, as the cluster-file loader would build it, with a
    warning naming file:line for every construct that could not be translated. Input that cannot
    be translated at all raises ConfigError, listing every bad line.
    """
    if fmt == "ipvsadm":
        return ipvsadm.parse(text, path)
    if fmt == "keepalived":
        return keepalived.parse(text, path)
    raise ConfigError([f"unknown import format '{fmt}' (known: {', '.join(FORMATS)})"])


def import_file(fmt: str, path: str) -> ImportResult:
    """Read `path` ("-" for standard input) and translate it."""
    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{name}: not UTF-8 text (bad byte at offset {exc.start})"]) from exc
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from exc
    return import_text(fmt, text, name)


def cluster_file(result: ImportResult, fmt: str, source: str, *, strict: bool = False,
                 name: str = "<import>") -> str:
    """The imported cluster as cluster-file text, headed by where it came from and what could
    not be translated. Checked to load back (as `name`): never a file the loader would refuse.
    With `strict`, any warning is a ConfigError instead."""
    from ipvsctl.config import dump, loads

    origin = "standard input" if source == "-" else source
    if strict and result.warnings:
        raise ConfigError([f"--strict: {len(result.warnings)} construct(s) of {origin} could "
                           "not be translated (listed above); nothing written"])
    header = [f"# Imported by `ipvsctl import --from {fmt}` from {origin}."]
    if result.warnings:
        header.append(f"# {len(result.warnings)} warning(s) from the import:")
        header += [f"#   {line}" for line in result.warnings]
    text = "\n".join(header) + "\n" + dump(result.cluster)
    loads(text, name)
    return text
