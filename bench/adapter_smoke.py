"""Time the IPVS adapter against ipvsadm on the same table, in the same run (needs IPVS: the VM).

    tests/vm/run -- python bench/adapter_smoke.py [SERVICES] [REAL_SERVERS_PER_SERVICE]

Adds SERVICES x REAL_SERVERS DR entries with IpvsAdapter.execute() in one namespace and with
`ipvsadm -R` in another, then times observe() against `ipvsadm -Sn`, and one weight edit.
Timings in the emulated VM vary by about 2x between runs: compare only within one run.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time

from ipvsctl import model as m
from ipvsctl.director.ops import AddRealServer, AddService, EditRealServer
from ipvsctl.ipvs import IpvsAdapter
from ipvsctl.plan.changes import Change


def netns(name: str) -> str:
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    return name


def table(services: int, per: int) -> list[m.Service]:
    vip0 = int(ipaddress.IPv4Address("10.0.0.0"))
    rip0 = int(ipaddress.IPv4Address("10.128.0.0"))
    out = []
    for i in range(services):
        key = m.ServiceKey.vip("tcp", str(ipaddress.IPv4Address(vip0 + i)), 80)
        svc = m.Service(key, m.ServiceSpec("wrr"))
        for j in range(per):
            rk = m.RealServerKey.of(str(ipaddress.IPv4Address(rip0 + i * per + j)), 80)
            svc.real_servers[rk] = m.RealServer(rk, m.RealServerSpec(weight=1 + j))
        out.append(svc)
    return out


def changes(services: list[m.Service]) -> list[Change]:
    out = []
    for svc in services:
        out.append(Change(AddService(svc), str(svc.key), f"add service {svc.key}"))
        for rs in svc.real_servers.values():
            out.append(Change(AddRealServer(svc.key, rs), str(rs.key), "add real server"))
    return out


def restore_text(services: list[m.Service]) -> str:
    lines = []
    for svc in services:
        vip = f"{svc.key.address}:{svc.key.port}"
        lines.append(f"-A -t {vip} -s {svc.spec.scheduler}")
        lines += [f"-a -t {vip} -r {rs.key} -g -w {rs.spec.weight}"
                  for rs in svc.real_servers.values()]
    return "\n".join(lines) + "\n"


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - start:8.2f} s", flush=True)
    return result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    a, b = netns("bench-adapter"), netns("bench-ipvsadm")
    try:
        services = timed("build model objects", lambda: table(n, per))
        plan = timed("build changes", lambda: changes(services))
        print(f"{n} services x {per} real servers = {len(plan)} objects")
        adapter = IpvsAdapter(a)
        timed("adapter: open (pyroute2 family lookup)", lambda: adapter.info())
        outcomes = timed("adapter: execute() all adds",
                         lambda: list(adapter.execute(plan)))
        bad = [o for o in outcomes if not o.ok]
        print(f"  outcomes {len(outcomes)}, failed {len(bad)}, writes {adapter.writes}")
        text = restore_text(services)
        timed("ipvsadm -R (same rules, other netns)", lambda: subprocess.run(
            ["ip", "netns", "exec", b, "ipvsadm", "-R"], input=text, text=True, check=True))
        observed = timed("adapter: observe()", lambda: adapter.observe())
        count = len(observed.services) + sum(len(s.real_servers)
                                             for s in observed.services.values())
        print(f"  observed {count} objects, equal to desired: "
              f"{all(observed.services[s.key] == s for s in services)}")
        saved = timed("ipvsadm -Sn (adapter's netns)", lambda: subprocess.run(
            ["ip", "netns", "exec", a, "ipvsadm", "-Sn"], capture_output=True, text=True,
            check=True).stdout)
        print(f"  ipvsadm lines {len(saved.splitlines())}")
        svc = services[n // 2]
        rs = next(iter(svc.real_servers.values()))
        edited = m.RealServer(rs.key, m.RealServerSpec(weight=99))
        before = adapter.writes
        timed("adapter: one weight edit", lambda: list(adapter.execute(
            [Change(EditRealServer(svc.key, edited), str(rs.key), "edit")])))
        print(f"  writes for one weight edit: {adapter.writes - before}")
        timed("ipvsadm -e (one weight edit)", lambda: subprocess.run(
            ["ip", "netns", "exec", b, "ipvsadm", "-e", "-t", f"{svc.key.address}:80",
             "-r", str(rs.key), "-g", "-w", "99"], check=True))
        adapter.close()
    finally:
        for name in (a, b):
            subprocess.run(["ip", "netns", "delete", name], check=False)


if __name__ == "__main__":
    main()
