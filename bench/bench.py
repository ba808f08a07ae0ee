"""ipvsctl against ipvsadm on the same table, in the same run and the same kernel (issues #6, #14).

    python bench/bench.py [--sizes 1000,2000,10000] [--per 10] [--vips 1000] [--json FILE]

Needs root and a kernel with IPVS (bench/run starts the test-bed VM when the host has none).
For each size N it makes N services x PER DR real servers, written as the README writes a
cluster file (block-style services, one flow-style line per real server: the headline) and as
JSON (beside it), and measures, each command as a child process in a fresh network namespace
with lo up:
  1. `ipvsctl apply cluster.yaml` from an empty table  vs  `ipvsadm -R` of the same rules
     (each a first apply: fresh namespaces and state; up to 2,000 services the median of 3
     rounds in turns); 1j the same with cluster.json (its own namespace)
  2. a no-op `ipvsctl plan cluster.yaml` of that table  vs  `ipvsadm -Sn` (median of 3 each,
     taken in turns); 2j the same with cluster.json
  3. `ipvsctl apply` of the YAML file with one weight changed, edited in place as people edit
     the file they keep (wall time, against -Sn and one `ipvsadm -e`), and the netlink write
     count of such an apply (IpvsAdapter.writes, in-process: bench/probe.py); then the same
     change with `apply --service`
  4. the peak RSS of ipvsctl in 1 to 3
  6. at the --held sizes, `ipvsctl run` holding the YAML file (bench/held.py): a one-line
     edit (one weight), the time from the rename to its `reload` line and the changes written,
     against `ipvsadm -Sn` of that table; 7. the same with a tcp check on every real server:
     the daemon's RSS (and the edit back)
then, once, 5. `ipvsctl backend-setup` with --vips VIPs, and the start-up: `ipvsctl --version`
and `ipvsctl validate` of an empty file against `python -c pass`. Correctness is checked on
the way: both namespaces' `ipvsadm -Sn` must be identical and have N * (PER + 1) lines.

Emulation: in the test-bed VM every figure is many times slower than on the machine running it.
`--calibrate-only FILE` (bench/run runs it on the host first) times `ipvsctl validate` of each
size's edited file, a command that needs no IPVS; the VM run times the same command and, given
`--host FILE`, prints the ratio and the one-weight-change time divided by it (an estimate of the
native time, labelled as such: the host has no IPVS to measure it directly).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen
import held as held_bench
from measure import Run, measure, namespaces, sh

TARGETS = {"apply_ratio": 0.5, "plan_ratio": 1.0, "edit_ratio": 1.0, "edit_writes": 1,
           "rss_mb": 150.0, "startup_ratio": 2.0}
HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "ipvsctl"


def ipvsctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "ipvsctl", *args]


def in_netns(netns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def saved(netns: str) -> list[str]:
    return sh("ip", "netns", "exec", netns, "ipvsadm", "-Sn").splitlines()


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def figure(run: Run) -> dict[str, Any]:
    return {"seconds": round(run.seconds, 3), "rss_mb": round(run.rss_mb, 1)}


def one_size(n: int, per: int, work: Path, env: dict[str, str],
             held: bool = False) -> dict[str, Any]:
    data = work / f"n{n}"
    data.mkdir(parents=True, exist_ok=True)
    rows = n * (per + 1)
    cluster_json, cluster_yaml = data / "cluster.json", data / "cluster.yaml"
    edited, restore = data / "edited.yaml", data / "restore.txt"
    cluster_json.write_text(gen.cluster_json(n, per))
    cluster_yaml.write_text(gen.cluster_yaml(n, per))
    edited.write_text(gen.cluster_yaml(n, per, changed=n // 2))
    back = data / "back.yaml"  # the probe's change: the same weight set back
    back.write_text(gen.cluster_yaml(n, per))
    restore.write_text(gen.restore_text(n, per))
    out: dict[str, Any] = {"services": n, "real_servers_per_service": per, "entries": rows}
    log = data / "log"
    out["validate"] = validate_seconds(edited, log, env)
    out["validate_json"] = validate_seconds(cluster_json, log / "json", env)
    # 1. from an empty table, every apply a first one (fresh namespaces, and a fresh state
    # folder: no kept result). Up to 2,000 services, the median of 3 rounds taken in turns:
    # `ipvsadm -R` of the same rules took 24 to 46 s at 2,000 in runs an hour apart on this
    # shared machine. The last round's tables stay for the steps below.
    rounds = repeats(3 if n <= 2000 else 1)
    applies: dict[str, list[Run]] = {"adm": [], "yaml": [], "json": []}

    def from_empty(i: int, adm: str, ctl: str, js: str) -> dict[str, str]:
        fresh = {**env, "IPVSCTL_STATE_DIR": str(data / f"state-{i}")}  # ipvsctl makes it
        applies["adm"].append(measure(in_netns(adm, "ipvsadm", "-R"), stdin=restore,
                                      out=log / f"ipvsadm-R-{i}").check())
        applies["yaml"].append(measure(ipvsctl("apply", str(cluster_yaml), "--netns", ctl),
                                       out=log / f"apply-{i}", env=fresh).check())
        applies["json"].append(measure(ipvsctl("apply", str(cluster_json), "--netns", js),
                                       out=log / f"apply-json-{i}", env=fresh).check())
        return fresh

    for i in range(rounds - 1):
        with namespaces(f"bench-adm-{n}", f"bench-ctl-{n}", f"bench-json-{n}") as spaces:
            from_empty(i, *spaces)
    with namespaces(f"bench-adm-{n}", f"bench-ctl-{n}", f"bench-json-{n}") as (adm, ctl, js):
        env = from_empty(rounds - 1, adm, ctl, js)  # the steps below: this round's state
        r_adm, r_apply, r_apply_json = (median(applies[k]) for k in ("adm", "yaml", "json"))
        a, b, c = saved(adm), saved(ctl), saved(js)
        out["correct"] = {"ipvsadm_lines": len(a), "ipvsctl_lines": len(b),
                          "expected_lines": rows,
                          "identical": sorted(a) == sorted(b) == sorted(c)}
        if not (len(a) == len(b) == rows and sorted(a) == sorted(b) == sorted(c)):
            raise RuntimeError(f"tables differ after the apply: {out['correct']}")
        out["apply"] = {"ipvsadm_R": figure(r_adm), "ipvsctl": figure(r_apply),
                        "runs": {k: [round(r.seconds, 3) for r in v] for k, v in applies.items()},
                        "ratio": round(r_apply.seconds / r_adm.seconds, 3),
                        "ipvsctl_json": figure(r_apply_json),
                        "ratio_json": round(r_apply_json.seconds / r_adm.seconds, 3)}
        # 2. a full read that finds nothing to do: the median of 3 runs each, taken in turns,
        # since a shared emulated machine varies by a fifth from one run to the next
        saves, plans, plans_json = [], [], []
        for i in range(repeats(3)):
            saves.append(measure(in_netns(adm, "ipvsadm", "-Sn"),
                                 out=log / f"ipvsadm-Sn-{i}").check())
            plans.append(measure(ipvsctl("plan", str(cluster_yaml), "--netns", ctl),
                                 out=log / f"plan-{i}", env=env).check(0))
            plans_json.append(measure(ipvsctl("plan", str(cluster_json), "--netns", ctl),
                                      out=log / f"plan-json-{i}", env=env).check(0))
        r_save, r_plan, r_plan_json = median(saves), median(plans), median(plans_json)
        out["noop_plan"] = {"ipvsadm_Sn": figure(r_save), "ipvsctl": figure(r_plan),
                            "runs": {"ipvsadm_Sn": [round(r.seconds, 3) for r in saves],
                                     "ipvsctl": [round(r.seconds, 3) for r in plans],
                                     "ipvsctl_json": [round(r.seconds, 3) for r in plans_json]},
                            "ratio": round(r_plan.seconds / r_save.seconds, 3),
                            "ipvsctl_json": figure(r_plan_json),
                            "ratio_json": round(r_plan_json.seconds / r_save.seconds, 3)}
        # 3. one weight changed in the full table: the file edited in place (the kept Cluster
        # of cluster.yaml is then read with that weight changed; another file name is read
        # in full)
        vip, servers = next(s for i, s in enumerate(gen.table(n, per)) if i == n // 2)
        rip, weight = servers[0]
        original = cluster_yaml.read_text()
        cluster_yaml.write_text(edited.read_text())
        r_edit = measure(ipvsctl("apply", str(cluster_yaml), "--netns", ctl),
                         out=log / "edit", env=env).check()
        r_e = measure(in_netns(adm, "ipvsadm", "-e", "-t", f"{vip}:{gen.PORT}", "-r",
                               f"{rip}:{gen.PORT}", "-g", "-w", str(weight + 100)),
                      out=log / "ipvsadm-e").check()
        if sorted(saved(adm)) != sorted(saved(ctl)):
            raise RuntimeError("tables differ after the one-weight edit")
        r_probe = measure([sys.executable, str(HERE / "probe.py"), "writes", str(back), ctl],
                          out=log / "probe-writes", env=env).check()
        probe = json.loads(r_probe.stdout)  # ctl is back at the old weight
        out["one_weight_change"] = {
            "ipvsctl": figure(r_edit), "ipvsadm_e": figure(r_e),
            "ratio_Sn": round(r_edit.seconds / r_save.seconds, 3),
            "applied_line": r_edit.stdout.strip().splitlines()[-1],
            "netlink_writes": probe["writes"], "changes": probe["changes"],
            "change_text": probe["texts"], "probe_seconds": round(probe["seconds"], 3)}
        # 3s. the same change, narrowed to its service
        service = f"tcp/{vip}:{gen.PORT}"
        r_only = measure(ipvsctl("apply", str(cluster_yaml), "--netns", ctl, "--service",
                                 service), out=log / "edit-service", env=env).check()
        if sorted(saved(adm)) != sorted(saved(ctl)):
            raise RuntimeError("tables differ after the one-weight edit with --service")
        r_probe = measure([sys.executable, str(HERE / "probe.py"), "writes", str(back), ctl,
                           service], out=log / "probe-writes-service", env=env).check()
        probe = json.loads(r_probe.stdout)
        out["one_weight_change_service"] = {
            "ipvsctl": figure(r_only), "service": service,
            "ratio_Sn": round(r_only.seconds / r_save.seconds, 3),
            "applied_line": r_only.stdout.strip().splitlines()[-1],
            "netlink_writes": probe["writes"], "changes": probe["changes"],
            "change_text": probe["texts"]}
        cluster_yaml.write_text(original)  # the table is the original file's again (the probe)
        out["peak_rss_mb"] = round(max(r.rss_mb for r in (r_apply, r_plan, r_edit, r_only)), 1)
        if held:  # 6. `ipvsctl run` on ctl, whose table is cluster.yaml's again (the probe)
            out.update(held_runs(n, per, ctl, data, env))
    return out


def held_runs(n: int, per: int, ctl: str, data: Path, env: dict[str, str]) -> dict[str, Any]:
    """6 and 7 on ctl, whose table must be cluster.yaml's."""
    return {"run_edit": held_bench.held_edit(n, per, ctl, data, env, checked=False,
                                             base_changed=None, edit_changed=n // 2),
            "run_checked": held_bench.held_edit(n, per, ctl, data, env, checked=True,
                                                base_changed=n // 2, edit_changed=None)}


def held_only(n: int, per: int, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """`--only held`: the table applied by ipvsctl (so its record owns it), then 6 and 7."""
    data = work / f"n{n}"
    data.mkdir(parents=True, exist_ok=True)
    cluster_yaml = data / "cluster.yaml"
    cluster_yaml.write_text(gen.cluster_yaml(n, per))
    out: dict[str, Any] = {"services": n, "real_servers_per_service": per,
                           "entries": n * (per + 1)}
    with namespaces(f"bench-ctl-{n}") as (ctl,):
        r_apply = measure(ipvsctl("apply", str(cluster_yaml), "--netns", ctl),
                          out=data / "log" / "apply", env=env).check()
        out["apply_seconds"] = round(r_apply.seconds, 3)
        if len(saved(ctl)) != n * (per + 1):
            raise RuntimeError("the table is not the file's after the apply")
        out.update(held_runs(n, per, ctl, data, env))
    return out


def startup(work: Path, env: dict[str, str]) -> dict[str, Any]:
    """The fixed cost in every ipvsctl figure: the median of 5 runs of each, taken in turns."""
    empty = work / "empty.yaml"
    empty.write_text("services: []\n")
    runs: dict[str, list[Run]] = {"python": [], "version": [], "validate": [], "help": []}
    for i in range(repeats(5)):
        runs["python"].append(measure([sys.executable, "-c", "pass"], out=work / f"py-{i}"))
        runs["version"].append(measure(ipvsctl("--version"), out=work / f"version-{i}",
                                       env=env).check())
        runs["validate"].append(measure(ipvsctl("validate", str(empty)),
                                        out=work / f"empty-{i}", env=env).check())
        runs["help"].append(measure(ipvsctl("--help"), out=work / f"help-{i}", env=env).check())
    python, version, validate = (median(runs[k]) for k in ("python", "version", "validate"))
    return {"python": figure(python), "ipvsctl_version": figure(version),
            "ipvsctl_validate_empty": figure(validate),
            "ipvsctl_help": figure(median(runs["help"])),
            "version_ratio": round(version.seconds / python.seconds, 3),
            "validate_empty_ratio": round(validate.seconds / python.seconds, 3)}


REPEATS: int | None = None  # --repeats: every median of that many runs instead


def repeats(default: int) -> int:
    return REPEATS or default


def validate_seconds(path: Path, log: Path, env: dict[str, str]) -> float:
    """Median wall time of `ipvsctl validate FILE`: start-up plus loading, no kernel involved."""
    n = repeats(3)
    times = sorted(measure(ipvsctl("validate", str(path)), out=log / f"validate-{i}",
                           env=env).check().seconds for i in range(n))
    return round(times[n // 2], 3)


def calibrate(sizes: list[int], per: int, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Host side of the emulation estimate: validate of each size's edited file."""
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
                           "validate": {}}
    for n in sizes:
        path = work / f"n{n}" / "edited.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(gen.cluster_yaml(n, per, changed=n // 2))
        out["validate"][str(n)] = validate_seconds(path, work / f"n{n}" / "log", env)
    return out


def backend_setup(vips: int, work: Path, env: dict[str, str]) -> dict[str, Any]:
    addresses = [str(a) for a in gen.vips(vips)]
    args = [a for vip in addresses for a in ("--vip", vip)]
    name = "bench-backend"
    with namespaces(name):
        # A client-facing interface and a default route, as a real server has.
        for argv in (("link", "add", "eth0", "type", "veth", "peer", "eth0p"),
                     ("addr", "add", "10.98.0.2/24", "dev", "eth0"),
                     ("link", "set", "eth0", "up"), ("link", "set", "eth0p", "up"),
                     ("route", "add", "default", "via", "10.98.0.1")):
            sh("ip", "-n", name, *argv)
        run = measure(ipvsctl("backend-setup", *args, "--netns", name), out=work / "backend",
                      env=env).check()
        present = sh("ip", "-n", name, "-4", "addr", "show", "dev", "lo").count("/32")
        again = measure([sys.executable, str(HERE / "probe.py"), "dumps", name, *addresses],
                        out=work / "backend-probe", env=env).check()
        probe = json.loads(again.stdout)
    return {"vips": vips, "ipvsctl": figure(run), "vips_on_lo": present,
            "address_dumps_per_plan": probe["address_dumps"],
            "pending_after": probe["pending"]}


def install_locally(work: Path) -> dict[str, str]:
    """Copy the ipvsctl package to a local folder and run it from there, as an installed
    package is: the test-bed VM shares the repository over 9p, where a stat() can cost
    milliseconds and Python's import system stats each sys.path entry per import. The start-up
    from the repository is measured too, for comparison. The working directory moves as well,
    since `python -m` puts it first on sys.path. The copy is compiled to bytecode, as pip and
    Debian's packaging do at install time: the test bed sets PYTHONDONTWRITEBYTECODE, so a
    copy without it would compile every module it imports from source on every run."""
    site = work / "site"
    shutil.copytree(PACKAGE, site / "ipvsctl", ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(site / "ipvsctl", quiet=1):
        raise SystemExit(f"cannot compile the copy of ipvsctl in {site}")
    os.chdir(work)
    return {"PYTHONPATH": str(site)}


def machine() -> dict[str, Any]:
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "in_vm": os.environ.get("IPVSCTL_IN_VM") == "1",
            "ipvsadm": sh("ipvsadm", "--version").strip()}


def row(label: str, ours: float, theirs: float | None, target: str, ok: bool) -> str:
    other = f"{theirs:9.2f}" if theirs is not None else f"{'':9}"
    ratio = f"{ours / theirs:6.2f}" if theirs else f"{'':6}"
    return f"  {label:<34} {ours:9.2f} {other} {ratio}  {target:<14} {'ok' if ok else 'MISSED'}"


def table(results: dict[str, Any]) -> list[str]:
    if "startup" not in results:  # --only held
        lines = []
        for size in results["sizes"]:
            lines.append(f"{size['services']} services x {size['real_servers_per_service']} "
                         f"real servers, `ipvsctl run` holding the file (--only held)")
            lines += held_rows(size)
        return lines
    st = results["startup"]
    py, empty = st["python"]["seconds"], st["ipvsctl_validate_empty"]["seconds"]
    lines = [f"start-up: `ipvsctl --version` {st['ipvsctl_version']['seconds']:.2f} s, "
             f"`ipvsctl validate` of an empty file {empty:.2f} s, "
             f"bare python {py:.2f} s (ratios {st['version_ratio']:.2f}, "
             f"{st['validate_empty_ratio']:.2f}; target <= 2.0 for --version: "
             f"{'ok' if st['version_ratio'] <= 2.0 else 'MISSED'}); `ipvsctl --help` "
             f"{st['ipvsctl_help']['seconds']:.2f} s; from the repository instead of an "
             f"installed copy: {st['ipvsctl_help_from_repository']['seconds']:.2f} s"]
    for size in results["sizes"]:
        n, per = size["services"], size["real_servers_per_service"]
        ap, pl, ed = size["apply"], size["noop_plan"], size["one_weight_change"]
        lines.append(f"{n} services x {per} real servers ({size['entries']} entries); "
                     f"seconds, ipvsctl (YAML file; JSON beside it) vs ipvsadm")
        lines.append(f"  {'':<34} {'ipvsctl':>9} {'ipvsadm':>9} {'ratio':>6}  target")
        lines.append(row("1 apply from empty / -R", ap["ipvsctl"]["seconds"],
                         ap["ipvsadm_R"]["seconds"], "ratio <= 0.5", ap["ratio"] <= 0.5))
        lines.append(row("1j same, JSON file / -R", ap["ipvsctl_json"]["seconds"],
                         ap["ipvsadm_R"]["seconds"], "(beside)", True))
        lines.append(row("2 no-op plan / -Sn", pl["ipvsctl"]["seconds"],
                         pl["ipvsadm_Sn"]["seconds"], "ratio <= 1.0", pl["ratio"] <= 1.0))
        lines.append(row("2j same, JSON file / -Sn", pl["ipvsctl_json"]["seconds"],
                         pl["ipvsadm_Sn"]["seconds"], "(beside)", True))
        host = results.get("host", {}).get("validate", {}).get(str(n))
        factor = size["validate"] / host if host else None
        for label, edit in (("3 one weight change / -Sn", ed),
                            ("3s same, apply --service / -Sn", size["one_weight_change_service"])):
            seconds = edit["ipvsctl"]["seconds"]
            lines.append(row(label, seconds, pl["ipvsadm_Sn"]["seconds"], "ratio <= 1.0",
                             edit["ratio_Sn"] <= 1.0))
            if factor:
                lines.append(f"  {'  native estimate (see below)':<34} "
                             f"{seconds / factor:9.2f} {'':9} {'':6}  (info)")
            lines.append(f"  {'  netlink writes for it':<34} {edit['netlink_writes']:9d} "
                         f"{'':9} {'':6}  == 1           "
                         f"{'ok' if edit['netlink_writes'] == 1 else 'MISSED'}")
        lines.append(f"  {'  one ipvsadm -e':<34} {ed['ipvsadm_e']['seconds']:9.2f}")
        lines.append(f"  {'4 peak RSS of ipvsctl (MB)':<34} {size['peak_rss_mb']:9.1f} "
                     f"{ap['ipvsadm_R']['rss_mb']:9.1f} {'':6}  <= 150 MB       "
                     f"{'ok' if size['peak_rss_mb'] <= 150 else 'MISSED'}")
        lines += held_rows(size)
        lines.append(f"  {'validate, YAML / JSON (s)':<34} {size['validate']:9.2f} "
                     f"{size['validate_json']:9.2f} {size['validate'] / size['validate_json']:6.2f}"
                     f"  (here; the host target is <= 2.0)")
    for size in results["sizes"]:
        host = results.get("host", {}).get("validate", {}).get(str(size["services"]))
        if host:
            lines.append(f"emulation, {size['services']} services: `ipvsctl validate` of the "
                         f"edited file {size['validate']:.2f} s here vs {host:.2f} s on the "
                         f"host = {size['validate'] / host:.1f}x; each native estimate of 3 "
                         "divides by that")
    if "backend_setup" in results:
        b = results["backend_setup"]
        lines.append(f"backend-setup, {b['vips']} VIPs: {b['ipvsctl']['seconds']:.2f} s, "
                     f"{b['ipvsctl']['rss_mb']:.1f} MB, {b['vips_on_lo']} VIPs on lo, "
                     f"{b['address_dumps_per_plan']} address dump(s) per plan")
    return lines


def held_rows(size: dict[str, Any]) -> list[str]:
    lines = []
    for key, label in (("run_edit", "6 run: one-line edit / -Sn"),
                       ("run_checked", "7 same, every server checked")):
        if key not in size:
            continue
        held = size[key]
        lines.append(f"  {label:<34} {held['edit_to_reload_s']:9.2f} "
                     f"{held['ipvsadm_Sn_s']:9.2f} {held['ratio_Sn']:6.3f}  "
                     f"{'ratio <= 0.05':<14} {'ok' if held['ratio_Sn'] <= 0.05 else 'MISSED'}")
        lines.append(f"  {'  changes written for it':<34} {held['writes']:9d} {'':9} "
                     f"{'':6}  == 1           {'ok' if held['writes'] == 1 else 'MISSED'}")
        mem = held["memory_after_edit"]
        limit = 300 if held["checked"] else None
        verdict = ("ok" if mem["peak_rss_mb"] <= 300 else "MISSED") if limit else ""
        lines.append(f"  {'  RSS of run, now / peak (MB)':<34} {mem['rss_mb']:9.1f} "
                     f"{mem['peak_rss_mb']:9.1f} {'':6}  "
                     f"{'<= 300 MB' if limit else '(info)':<14} {verdict}")
        lines.append(f"  {'  start to ready (s)':<34} {held['start_to_ready_s']:9.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,10000",
                        help="services per run, comma-separated")
    parser.add_argument("--per", type=int, default=10, help="real servers per service")
    parser.add_argument("--vips", type=int, default=1000, help="backend-setup VIPs (0: skip)")
    parser.add_argument("--held", default="10000", metavar="SIZES",
                        help="sizes at which `ipvsctl run` holds the file (6, 7), comma-separated;"
                             " '' for none")
    parser.add_argument("--only", choices=("all", "held"), default="all",
                        help="held: only 6 and 7 (`ipvsctl run`) at the --held sizes, on a "
                             "table `ipvsctl apply` makes first")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="runs behind each median (default: 3, start-up 5; the test "
                             "suite's tiny run uses 1)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--calibrate-only", type=Path, metavar="FILE",
                        help="only time `ipvsctl validate` per size (no IPVS needed); write FILE")
    parser.add_argument("--host", type=Path, metavar="FILE",
                        help="the --calibrate-only results of the host, for the native estimate")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    held = {int(s) for s in args.held.split(",") if s}
    global REPEATS
    REPEATS = args.repeats
    for name in ("json", "calibrate_only", "host"):
        if getattr(args, name):  # the run changes directory (install_locally)
            setattr(args, name, getattr(args, name).resolve())
    if args.calibrate_only:
        with tempfile.TemporaryDirectory(prefix="ipvsctl-calibrate-") as tmp:
            env = install_locally(Path(tmp))
            measure(ipvsctl("--help"), out=Path(tmp) / "warm", env=env)
            args.calibrate_only.write_text(
                json.dumps(calibrate(sizes, args.per, Path(tmp), env), indent=2) + "\n")
        return 0
    sh("modprobe", "-a", "ip_vs", "ip_vs_wrr")  # loaded for both sides before any timing
    results: dict[str, Any] = {"machine": machine(), "targets": TARGETS, "sizes": []}
    if args.host and args.host.exists():
        results["host"] = json.loads(args.host.read_text())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ipvsctl-bench-") as tmp:
        work = Path(tmp)
        measure(ipvsctl("--help"), out=work / "warm-repo")  # from the repository, for comparison
        help_repo = measure(ipvsctl("--help"), out=work / "help-repo").check()
        env = {"IPVSCTL_STATE_DIR": str(work / "state"), "IPVSCTL_RUN_DIR": str(work / "run"),
               **install_locally(work)}
        # The fixed cost in every figure above: interpreter start and the CLI's imports.
        measure(ipvsctl("--help"), out=work / "warm", env=env)  # fills the page cache
        if args.only == "held":
            for n in sorted(held):
                results["sizes"].append(held_only(n, args.per, work, env))
                print(f"# {n} services done after {time.monotonic() - started:.0f} s",
                      flush=True)
            sizes, args.vips = [], 0
        else:
            results["startup"] = startup(work, env)
            results["startup"]["ipvsctl_help_from_repository"] = figure(help_repo)
        for n in sizes:
            results["sizes"].append(one_size(n, args.per, work, env, n in held))
            print(f"# {n} services done after {time.monotonic() - started:.0f} s", flush=True)
        if args.vips:
            results["backend_setup"] = backend_setup(args.vips, work, env)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    for line in table(results):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
