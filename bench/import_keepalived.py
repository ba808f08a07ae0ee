"""`ipvsctl import --from keepalived` on a large keepalived.conf, against keepalived's own reader.

    .venv/bin/python bench/import_keepalived.py [--services 5000] [--keep DIR]

Writes a keepalived.conf of N virtual servers, each with two real servers (one HTTP_GET, one
TCP_CHECK), then measures in the same run, on this host (no IPVS needed):
- `ipvsctl import --from keepalived FILE -o OUT`: wall time and peak memory (max RSS);
- `keepalived -t -f FILE` (keepalived 2.2.7 reading and checking the same file): wall time.
Prints both and their ratio; the target of the importer is <= 3 s and <= 200 MB at 5,000.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import install_locally  # bench/ is the script's folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
KEEPALIVED = "/usr/sbin/keepalived"


def config(services: int) -> str:
    out = ["global_defs {\n    router_id LB1\n}\n"]
    for n in range(services):
        vip = f"10.{100 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}"
        rs = f"{n // 250}.{n % 250 + 1}"
        out.append(f"""virtual_server {vip} 80 {{
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    protocol TCP
    persistence_timeout 50
    real_server 10.1.{rs} 80 {{
        weight 1
        HTTP_GET {{
            url {{
                path /healthz
                status_code 200
            }}
            connect_timeout 3
            retry 3
            delay_before_retry 3
        }}
    }}
    real_server 10.2.{rs} 80 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
}}
""")
    return "".join(out)


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Wall seconds, the child's peak RSS in bytes and its CPU seconds (user + system; what a
    shared, loaded host disturbs least), from getrusage of this one child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False, env=env)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{argv[0]} exited {done.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, max(after.ru_maxrss, before.ru_maxrss) * 1024, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ipvsctl-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "keepalived.conf"
    conf.write_text(config(args.services))
    with tempfile.TemporaryDirectory(prefix="ipvsctl-site-") as tmp:
        here = os.getcwd()
        env = {**os.environ, **install_locally(Path(tmp))}  # as installed: compiled, local
        ours, peak, cpu = timed([sys.executable, "-m", "ipvsctl", "import", "--from",
                                 "keepalived", str(conf), "-o", str(folder / "cluster.yaml")],
                                env)
        os.chdir(here)
    theirs, _, their_cpu = timed([KEEPALIVED, "-t", "-f", str(conf)]) \
        if os.path.exists(KEEPALIVED) else (0.0, 0, 0.0)
    print(f"services: {args.services:,} ({len(conf.read_text().splitlines()):,} lines)")
    print(f"ipvsctl import: {ours:.2f} s (cpu {cpu:.2f} s), peak {peak / 2**20:.0f} MiB")
    if theirs:
        print(f"keepalived -t:  {theirs:.2f} s (cpu {their_cpu:.2f} s); "
              f"ratio import / keepalived -t: {ours / theirs:.1f}")
    if args.keep is None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
