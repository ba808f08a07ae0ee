"""Load and validate a cluster file into a fully normalised `Cluster`.

One set of rules (builder.py) reads a document (tree.py) that one of three readers produces:

- the line reader (fast_yaml.py) for the YAML people write: block-style services with one flow
  mapping per real server, read a line at a time;
- the JSON reader (json_reader.py) for generated JSON files, through `json.loads`;
- the careful reader (careful_yaml.py) for everything else, through PyYAML's event stream.

The fast readers hand anything unusual to the careful reader, and they place containers but not
every scalar: when the builder finds a problem in what they read, the file is read again
carefully and built again, so every message, and its `file:line:col`, is the careful one.
Input is bounded (limits.py). The file format is documented in docs/cluster-file.md.
"""

from __future__ import annotations

import importlib
import os
import stat
import sys
from pathlib import Path
from typing import Any, Literal

from ipvsctl.config import json_reader
from ipvsctl.config.limits import LIMITS, LimitError
from ipvsctl.config.tree import Places
from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from ipvsctl.model import Cluster

Cache = Literal["off", "read", "keep"]
CACHE_FROM = 512 << 10  # characters: smaller files are read as fast as a kept one is found
STDIN = "-"
STDIN_NAME = "<stdin>"


def load(path: str | Path, cache: Cache = "off") -> Cluster:
    """Read and validate a cluster file (`-`: standard input); messages name `path` as the
    caller gave it. cache: "read" reuses the kept Cluster of an unchanged file, "keep" also
    keeps this one (result_cache.py: for the commands that read the same file again and
    again; "keep" only where writing state is allowed)."""
    name = STDIN_NAME if str(path) == STDIN else str(path)
    return loads(read_text(path), name, cache)


def read_text(path: str | Path) -> str:
    """The file's text, read with a bound: no more than LIMITS.size bytes are ever read (a FIFO,
    /dev/zero or a huge file is refused when the bound is reached, not read to the end)."""
    name = STDIN_NAME if str(path) == STDIN else str(path)
    try:
        if str(path) == STDIN:
            data = sys.stdin.buffer.read(LIMITS.size + 1)
        else:
            with open(path, "rb") as fh:
                info = os.fstat(fh.fileno())
                if stat.S_ISREG(info.st_mode) and info.st_size > LIMITS.size:
                    raise ConfigError([_too_large(name, info.st_size)])
                data = fh.read(LIMITS.size + 1)
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from exc
    if len(data) > LIMITS.size:
        raise ConfigError([_too_large(name, None)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"{name}:{line}:{col}: not UTF-8 text (byte {data[exc.start]:#04x} "
                           f"at offset {exc.start})"]) from exc


def _too_large(name: str, size: int | None) -> str:
    what = f"{size:,} bytes" if size is not None else "larger than that"
    return (f"{name}: {what}: a cluster file may have at most {LIMITS.size:,} bytes "
            "(see docs/cluster-file.md)")


def loads(text: str, path: str = "<string>", cache: Cache = "off") -> Cluster:
    """Validate cluster-file text. Raises ConfigError listing every problem found."""
    with gc_paused():  # a large file makes a million objects, none in a cycle
        return _loads(text, path, cache)


def _loads(text: str, path: str, cache: Cache = "off") -> Cluster:
    if len(text) > LIMITS.size:
        raise ConfigError([_too_large(path, len(text))])
    if cache != "off" and len(text) < CACHE_FROM:
        cache = "off"  # read at once: a hash and a folder walk would cost as much
    is_json = json_reader.looks_like_json(text)
    if cache != "off" and not is_json:
        from ipvsctl.config import result_cache

        # One weight edited: the entry stays as it is (writing it would cost more than the
        # edit saved; the same edit is found again from it next time).
        if (kept := result_cache.get(text, path)) is not None:
            return kept.cluster
    from ipvsctl.config import fast_yaml  # neither is needed for a kept result
    from ipvsctl.config.builder import Problems, build

    lines = None if is_json else fast_yaml.read(text)
    read = lines or json_reader.read(text)
    if read is not None:
        problems = Problems(path)
        cluster = build(read[0], read[1], problems)
        if not problems:
            if cache == "keep" and lines is not None:  # the shape people write: kept
                result_cache.put(text, path, cluster)
            return cluster
    # Read carefully, or again to place the problems: the careful reader knows where every
    # value is. A file the JSON reader read is JSON, which has no line limit.
    return _careful(text, path, check_lines=read is None or read is lines)


def _careful(text: str, path: str, check_lines: bool) -> Cluster:
    from ipvsctl.config import careful_yaml  # not needed for the common shapes
    from ipvsctl.config.builder import Problems, build

    try:
        root, places, found = careful_yaml.read(text, path, check_lines=check_lines)
    except (careful_yaml.YamlError, LimitError) as exc:
        line, col = exc.pos
        raise ConfigError([f"{path}:{line}:{col}: {exc.message}"]) from None
    problems = Problems(path)
    for pos, where, message in found:
        problems.add(pos, where, message)
    if root is None:
        problems.add((1, 1), "", "empty file: expected a mapping with a 'services' list")
        problems.raise_if_any()
    cluster = build(root, places, problems)
    problems.raise_if_any()
    return cluster


def document(text: str, reader: str) -> tuple[Any, Places] | None:
    """One reader's document (for tests and the benchmark): "lines", "json" or "careful"."""
    if reader == "lines":
        from ipvsctl.config import fast_yaml

        return fast_yaml.read(text)
    if reader == "json":
        return json_reader.read(text)
    from ipvsctl.config import careful_yaml

    root, places, _ = careful_yaml.read(text, "<string>")
    return root, places


def __getattr__(name: str) -> Any:
    if name == "fast_yaml":  # imported on first use (see _loads); tests reach it from here
        return importlib.import_module("ipvsctl.config.fast_yaml")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
