"""`ipvsctl import`: migrate an ipvsadm save file or a keepalived.conf to a cluster file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import app, echo, guarded, warn
from ipvsctl.errors import ConfigError, HostError


class Format(StrEnum):
    ipvsadm = "ipvsadm"
    keepalived = "keepalived"


SourceArg = Annotated[str, typer.Argument(
    help="The file to translate; '-' reads standard input (e.g. `ipvsadm -Sn | ipvsctl import "
         "--from ipvsadm -`).", show_default=False)]
FromOpt = Annotated[Format, typer.Option(
    "--from", help="Source format: 'ipvsadm' (`ipvsadm -Sn` / `-S` output or a restore script) "
                   "or 'keepalived' (virtual_server blocks of keepalived.conf).",
    case_sensitive=False, show_default=False)]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the cluster file here (atomically) instead of to stdout.",
    show_default=False)]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Fail (exit 1, write nothing) if anything could not be translated.")]


def run_import(fmt: str, source: str, output: Path | None, strict: bool) -> str:
    """Translate `source`, check the result loads back, write it; returns the YAML text."""
    from ipvsctl.config import dump, loads
    from ipvsctl.host.records import atomic_write
    from ipvsctl.importers import import_file

    result = import_file(fmt, source)
    for line in result.warnings:
        warn(f"# {line}")
    origin = "standard input" if source == "-" else source
    if strict and result.warnings:
        raise ConfigError([f"--strict: {len(result.warnings)} construct(s) of {origin} could "
                           "not be translated (listed above); nothing written"])
    header = [f"# Imported by `ipvsctl import --from {fmt}` from {origin}."]
    if result.warnings:
        header.append(f"# {len(result.warnings)} warning(s) from the import:")
        header += [f"#   {line}" for line in result.warnings]
    text = "\n".join(header) + "\n" + dump(result.cluster)
    loads(text, str(output or "<import>"))  # never hand out a file the loader would refuse
    if output is None:
        echo(text.rstrip("\n"))
    else:
        try:
            atomic_write(output, text)
        except OSError as exc:
            raise HostError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return text


@app.command("import")
def import_(source: SourceArg, from_: FromOpt, output: OutputOpt = None,
            strict: StrictOpt = False) -> None:
    """Translate an ipvsadm save file or a keepalived.conf into a cluster file (YAML).

    What cannot be translated (health checks, VRRP, sorry servers, ...) is listed on stderr
    with its file:line, and as comments at the top of the output."""
    guarded(lambda: run_import(from_.value, source, output, strict))
