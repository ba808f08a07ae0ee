"""`ipvsctl import`: migrate an ipvsadm save file or a keepalived.conf to a cluster file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ipvsctl.cli.app import command, echo, warn
from ipvsctl.errors import HostError


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
ConfigIdOpt = Annotated[str | None, typer.Option(
    "--config-id", help="keepalived's -i: the config id `@ID` lines are matched against "
                        "(keepalived's default is the director's node name).",
    show_default=False)]


@command("import")
def import_(source: SourceArg, from_: FromOpt, output: OutputOpt = None,
            strict: StrictOpt = False, config_id: ConfigIdOpt = None) -> None:
    """Translate an ipvsadm save file or a keepalived.conf into a cluster file (YAML).

    keepalived.conf is read as keepalived 2.2.7 reads it (includes, definitions, ~SEQ) and
    translated to what it programs. What cannot be translated (VRRP, notification scripts,
    ...) is listed on stderr, one line per kind with its file:line, and as comments at the top
    of the output."""
    from ipvsctl.gcpause import gc_paused
    from ipvsctl.host.records import atomic_write
    from ipvsctl.importers import cluster_file, import_file

    # One pause of the cyclic collector over the import, the dump and the read-back, ended
    # once the import's objects are gone: it then has almost nothing to scan.
    with gc_paused():
        result = import_file(from_.value, source, config_id=config_id)
        for line in result.warnings:
            warn(f"# {line}")
        text = cluster_file(result, from_.value, source, strict=strict,
                            name=str(output or "<import>"))
        del result
    if output is None:
        echo(text.rstrip("\n"))
        return
    try:
        atomic_write(output, text)
    except OSError as exc:
        raise HostError(f"cannot write {output}: {exc.strerror or exc}") from exc
