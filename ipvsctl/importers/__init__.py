"""Importers: an ipvsadm save file or a keepalived.conf -> a Cluster, for `ipvsctl import`."""

from __future__ import annotations

import os
import stat
import sys

from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from ipvsctl.importers._common import MAX_BYTES, ImportResult

FORMATS = ("ipvsadm", "keepalived")

__all__ = ["FORMATS", "ImportResult", "cluster_file", "import_file", "import_text"]


def import_text(fmt: str, text: str, path: str, *, config_id: str | None = None
                ) -> ImportResult:
    """Translate `text` (read from `path`, which messages name) from format `fmt`.

    The result's cluster is fully normalised, as the cluster-file loader would build it, with a
    warning naming file:line for every kind of construct that could not be translated. Input
    that cannot be translated at all raises ConfigError, listing every bad line. `config_id`
    is keepalived's -i (which `@ID` lines apply); a keepalived.conf's includes are read from
    the file system, relative to `path`.
    """
    # A few objects per line of the source, none in a cycle: the cyclic collector would only
    # rescan them (a fifth of a 5,000-service import).
    with gc_paused():
        # Each importer is imported when used: start-up is part of every import's time.
        if fmt == "ipvsadm":
            from ipvsctl.importers import ipvsadm

            return ipvsadm.parse(text, path)
        if fmt == "keepalived":
            from ipvsctl.importers import keepalived

            return keepalived.parse(text, path, config_id=config_id)
    raise ConfigError([f"unknown import format '{fmt}' (known: {', '.join(FORMATS)})"])


def import_file(fmt: str, path: str, *, config_id: str | None = None) -> ImportResult:
    """Read `path` ("-" for standard input), at most MAX_BYTES of it, and translate it. Bytes
    that are not UTF-8 read as U+FFFD: in a comment (a Latin-1 name, say) they change nothing,
    elsewhere the importer reports them."""
    name = "<stdin>" if path == "-" else path
    try:
        raw = _read_bounded(path, name)
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from exc
    return import_text(fmt, raw.decode("utf-8", "replace"), name, config_id=config_id)


def _read_bounded(path: str, name: str) -> bytes:
    """The source's bytes; a file (or stream: /dev/zero, a pipe) beyond MAX_BYTES is refused,
    a regular file before reading any of it."""
    too_big = ConfigError([f"{name}: larger than {MAX_BYTES >> 20} MiB (the import limit): "
                           "not a configuration file?"])
    if path == "-":
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise ConfigError([f"{name}: a folder, not a file"])
            if stat.S_ISREG(st.st_mode) and st.st_size > MAX_BYTES:
                raise too_big
            raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise too_big
    return raw


def cluster_file(result: ImportResult, fmt: str, source: str, *, strict: bool = False,
                 name: str = "<import>") -> str:
    """The imported cluster as cluster-file text, headed by where it came from and what could
    not be translated. Checked to load back (as `name`): never a file the loader would refuse.
    With `strict`, any warning is a ConfigError instead."""
    from ipvsctl.config import dump, loads

    origin = "standard input" if source == "-" else source
    if strict and result.warnings:
        raise ConfigError([f"--strict: {result.warning_count} construct(s) of {origin} could "
                           "not be translated (listed above); nothing written"])
    header = [f"# Imported by `ipvsctl import --from {fmt}` from {origin}."]
    if result.warnings:
        header.append(f"# {result.warning_count} warning(s) from the import:")
        header += [f"#   {line}" for line in result.warnings]
    if result.health:
        services = sum(1 for h in result.health.values() if "check" in h or "checks" in h)
        header.append(f"# Health checks translated for {services:,} service(s); they take "
                      "effect under `ipvsctl run`.")
    with gc_paused():  # the dumper's lines and the loader's objects: no cycles either
        text = "\n".join(header) + "\n" + dump(result.cluster, result.health)
        loads(text, name)
    return text
