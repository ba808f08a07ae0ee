"""Where a no-op `ipvsctl plan` of a large table spends its time (issue #6), in one run.

    python bench/profile_plan.py [--services 2000] [--per 10] [--format yaml|json] OUT_DIR

Needs root and a kernel with IPVS (run it in the test-bed VM: tests/vm/run --out DIR -- ...).
Fills a fresh namespace with N x PER real servers (`ipvsctl apply`), then writes to OUT_DIR:
importtime.txt (`python -X importtime -m ipvsctl --help`), plan.prof and plan-top.txt (cProfile
of `python -m ipvsctl plan FILE --netns NS`), and phases.json: wall time of the CLI's start-up,
of a plain plan, and of each phase of a plan in-process (load, observe, record, plan).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen
from measure import measure, namespaces, sh

# argv: PROFILE_OUT, then the ipvsctl arguments. Imports are inside the profile.
PROFILED_PLAN = """
import cProfile, sys
profile = cProfile.Profile()
profile.enable()
from ipvsctl.cli import app
code = 0
try:
    app(sys.argv[2:], prog_name="ipvsctl")
except SystemExit as exc:
    code = exc.code
profile.disable()
profile.dump_stats(sys.argv[1])
sys.exit(code)
"""


def ipvsctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "ipvsctl", *args]


def phases(path: Path, netns: str) -> dict[str, float]:
    """Each phase of plan_cluster, in this process (imports already paid)."""
    from ipvsctl.config import load
    from ipvsctl.director.planner import Ownership, plan_director
    from ipvsctl.director.record import Record
    from ipvsctl.ipvs import IpvsAdapter

    out: dict[str, float] = {}
    t = time.monotonic()
    cluster = load(str(path))
    out["load"] = time.monotonic() - t
    with IpvsAdapter(netns) as adapter:
        t = time.monotonic()
        adapter._channel()
        out["open_channel"] = time.monotonic() - t
        t = time.monotonic()
        observed = adapter.observe()
        out["observe"] = time.monotonic() - t
        t = time.monotonic()
        adapter.timeouts(), adapter.sysctls()
        out["timeouts_and_sysctls"] = time.monotonic() - t
    t = time.monotonic()
    record = Record.load(netns)
    out["record_load"] = time.monotonic() - t
    t = time.monotonic()
    plan = plan_director(cluster, observed, Ownership(frozenset(record.managed), False),
                         now=time.time(), drains=record.drains)
    out["plan_director"] = time.monotonic() - t
    out["changes"] = float(len(plan))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--per", type=int, default=10)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="the cluster file as the README writes it, or as JSON")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("IPVSCTL_STATE_DIR", str(out / "state"))
    os.environ.setdefault("IPVSCTL_RUN_DIR", "/tmp/ipvsctl-profile-run")
    sh("modprobe", "-a", "ip_vs", "ip_vs_wrr")
    data = Path("/tmp/ipvsctl-profile")
    data.mkdir(exist_ok=True)
    cluster = data / f"cluster.{args.format}"
    cluster.write_text(gen.cluster_yaml(args.services, args.per) if args.format == "yaml"
                       else gen.cluster_json(args.services, args.per))
    result: dict[str, object] = {"services": args.services, "per": args.per}
    measure(ipvsctl("--help"), out=data / "warm")
    result["python_pass"] = measure([sys.executable, "-c", "pass"], out=data / "py").seconds
    result["help"] = measure(ipvsctl("--help"), out=data / "help").check().seconds
    imp = subprocess.run([sys.executable, "-X", "importtime", "-m", "ipvsctl", "--help"],
                         capture_output=True, text=True, check=True)
    (out / "importtime.txt").write_text(imp.stderr)
    with namespaces("prof") as (ns,):
        result["apply"] = measure(ipvsctl("apply", str(cluster), "--netns", ns),
                                  out=data / "apply").check().seconds
        result["plan"] = measure(ipvsctl("plan", str(cluster), "--netns", ns),
                                 out=data / "plan").check(0).seconds
        result["ipvsadm_Sn"] = measure(["ip", "netns", "exec", ns, "ipvsadm", "-Sn"],
                                       out=data / "sn").check().seconds
        prof = out / "plan.prof"
        # Not `-m cProfile -m ipvsctl`: the CLI ends with os._exit, before cProfile would save.
        result["plan_profiled"] = measure(
            [sys.executable, "-c", PROFILED_PLAN, str(prof), "plan", str(cluster), "--netns", ns],
            out=data / "plan-prof").check(0).seconds
        with open(out / "plan-top.txt", "w") as fh:
            st = pstats.Stats(str(prof), stream=fh)
            st.sort_stats("tottime").print_stats(40)
            st.sort_stats("cumulative").print_stats(60)
        result["phases"] = phases(cluster, ns)
    (out / "phases.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
