"""`ipvsctl lab`: prove direct server return with real traffic in throwaway namespaces."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ipvsctl.cli.app import JsonOpt, command, echo, echo_lines, warn
from ipvsctl.errors import ConfigError, ExitCode
from ipvsctl.plan import printer

if TYPE_CHECKING:
    from ipvsctl.model import Cluster


@command()
def lab(
    file: Annotated[Path, typer.Argument(help="Cluster file whose services the lab exercises.",
                                         show_default=False)],
    clients: Annotated[int, typer.Option(help="Client namespaces sending the traffic.")] = 1,
    requests: Annotated[int, typer.Option(
        help="Requests per service (a multiple of the wrr weight sum splits exactly).")] = 12,
    large: Annotated[int, typer.Option(
        help="Large responses sent through the first TCP service to weigh the director's "
             "bytes.")] = 5,
    large_kib: Annotated[int, typer.Option(help="Size of each large response, in KiB.")] = 1024,
    compare_nat: Annotated[bool, typer.Option(
        "--compare-nat", help="Also run with NAT forwarding and compare the director's bytes.")
    ] = False,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Leave the namespaces for inspection and print how to delete them.")
    ] = False,
    skip_backend_setup: Annotated[list[str] | None, typer.Option(
        "--skip-backend-setup", metavar="ADDRESS",
        help="Leave this real server unprepared (no VIP on lo, no ARP sysctls); repeatable. "
             "The lab must then FAIL.")] = None,
    down: Annotated[list[str] | None, typer.Option(
        "--down", metavar="ADDRESS",
        help="Start no listener on this real server; repeatable.")] = None,
    vip_without_arp: Annotated[list[str] | None, typer.Option(
        "--vip-without-arp", metavar="ADDRESS",
        help="Put the VIP on this real server's lo but skip the ARP sysctls (ARP flux); "
             "repeatable. The lab must then FAIL.")] = None,
    timeout: Annotated[float, typer.Option(
        help="Seconds a request may take before it counts as lost.")] = 3.0,
    run_director: Annotated[bool, typer.Option(
        "--run-director",
        help="Then hand the director to `ipvsctl run FILE` and stop the listener of the "
             "heaviest checked real server of the first checked TCP service: it must go to "
             "weight 0 within fall x interval + timeout + 1 s with no request lost after "
             "that, and come back within rise x interval + 1 s once it listens again.")
    ] = False,
    ecmp: Annotated[int | None, typer.Option(
        "--ecmp", metavar="N",
        help="Instead: N directors (2..8) behind a BGP router with ECMP; take one out while "
             "flows are held, with mh + sloppy_tcp and with wrr (docs/lab.md).",
        show_default=False)] = None,
    ha: Annotated[bool, typer.Option(
        "--ha", help="Two directors (keepalived + run) fail over under traffic, sync on and "
                     "off; see docs/lab.md.")] = False,
    ha_out: Annotated[Path, typer.Option(
        "--ha-out", help="With --ha: folder for the report, the picture and the logs.")
    ] = Path("ipvsctl-lab-ha"),
    json_out: JsonOpt = False,
) -> ExitCode:
    """Build a throwaway DR topology in network namespaces (clients, director, one namespace
    per real server, all on a bridge in its own namespace), apply FILE on the director exactly
    as `apply` does, prepare the real servers as `backend-setup` does, send real traffic and
    check: hits per real server against the weights, director OutPkts 0, the director's bytes
    far below the clients', the VIP resolving to the director's MAC. Exit 0: PASS; 1: FAIL.
    The host's own network is never touched; needs root and IPVS."""

    from ipvsctl.config import load

    if ha + (ecmp is not None) + run_director > 1:
        raise ConfigError(["--ha, --ecmp and --run-director are separate labs: give one"])
    if ecmp is not None:
        return _ecmp(load(file), ecmp, keep, json_out)
    if ha:
        from ipvsctl.lab.ha_lab import HaLabOptions, ha_report_lines, run_ha_lab

        ha_report = run_ha_lab(load(file), HaLabOptions(ha_out), progress=warn)
        echo(printer.to_json(ha_report.to_json()) if json_out else "\n".join(
            ha_report_lines(ha_report)))
        return ExitCode.OK if ha_report.ok else ExitCode.ERROR
    from ipvsctl.lab import LabOptions, report_lines, run_lab

    options = LabOptions(
        clients=clients, requests=requests, large_count=large, large_bytes=large_kib << 10,
        compare_nat=compare_nat, keep=keep,
        skip_backend_setup=tuple(skip_backend_setup or ()), down=tuple(down or ()),
        vip_without_arp=tuple(vip_without_arp or ()), timeout=timeout,
        run_director=run_director)
    report = run_lab(load(file), options, progress=warn)
    if json_out:
        echo(printer.to_json(report.to_json()))
    else:
        echo_lines(report_lines(report))
    return ExitCode.OK if report.ok else ExitCode.ERROR


def _ecmp(cluster: Cluster, directors: int, keep: bool, json_out: bool) -> ExitCode:
    from ipvsctl.lab.ecmp import EcmpOptions, ecmp_lines, run_ecmp

    report = run_ecmp(cluster, EcmpOptions(directors=directors, keep=keep), progress=warn)
    if json_out:
        echo(printer.to_json(report.to_json()))
    else:
        echo_lines(ecmp_lines(report))
    return ExitCode.OK if report.ok else ExitCode.ERROR
