"""A router for the BGP tests: a namespace running a real BIRD 2 that installs what the
directors announce into its kernel table (ECMP over equal paths), as the lab's router does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.helpers import run

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"


def router_conf(router_id: str, local_as: int, peers: list[tuple[str, str, int]],
                vips: str = "192.0.2.0/24{32,32}", hold: int = 3) -> str:
    """peers: (name, address, AS) of each director."""
    lines = [
        "log stderr all;",
        f"router id {router_id};",
        "protocol device { scan time 10; }",
        "protocol kernel kernel4 {",
        "  ipv4 { import none; export where source = RTS_BGP; };",
        "  merge paths on;",
        "}",
        "template bgp directors {",
        f"  local as {local_as}; hold time {hold}; keepalive time 1;",
        "  connect delay time 1; error wait time 1, 10; graceful restart off;",
        f"  ipv4 {{ import where net ~ [ {vips} ]; export none; }};",
        "}",
    ]
    for name, address, asn in peers:
        lines.append(f"protocol bgp {name} from directors {{ neighbor {address} as {asn}; }}")
    return "\n".join(lines) + "\n"


class Router:
    """A BIRD in namespace `ns`, its files in `folder`."""

    def __init__(self, ns: str, folder: Path, conf: str) -> None:
        self.ns = ns
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "router.conf"
        self.conf.write_text(conf)
        self.socket = folder / "router.ctl"
        run([BIRD, "-p", "-c", str(self.conf)])
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, BIRD, "-f", "-c", str(self.conf), "-s",
             str(self.socket), "-P", str(folder / "router.pid")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(folder / "router.log").open("wb"))

    def next_hops(self, prefix: str) -> list[str]:
        """The next hops of the router's kernel route to prefix ([] when it has none)."""
        out = run(["ip", "-n", self.ns, "-4", "route", "show", prefix, "proto", "bird"],
                  check=False).stdout
        words = out.split()
        return sorted(words[i + 1] for i, w in enumerate(words) if w == "via")

    def wait_hops(self, prefix: str, want: list[str], timeout: float) -> float:
        """Seconds until the route's next hops are `want`; AssertionError after timeout."""
        start = time.monotonic()
        while True:
            hops = self.next_hops(prefix)
            if hops == sorted(want):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"{prefix}: next hops {hops}, not {want} after "
                                     f"{timeout}s\n{self.birdc('show', 'protocols', 'all')}")
            time.sleep(0.02)

    def birdc(self, *command: str) -> str:
        return run([BIRDC, "-s", str(self.socket), *command], check=False).stdout

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def wire(router_ns: str, director_ns: str, router_ip: str, director_ip: str,
         tag: str) -> None:
    """One veth between router and director, a /24 on each end."""
    a, b = f"r{tag}", f"d{tag}"
    run(["ip", "link", "add", a, "netns", router_ns, "type", "veth", "peer", "name", b,
         "netns", director_ns])
    run(["ip", "-n", router_ns, "addr", "add", f"{router_ip}/24", "dev", a])
    run(["ip", "-n", director_ns, "addr", "add", f"{director_ip}/24", "dev", b])
    run(["ip", "-n", router_ns, "link", "set", a, "up"])
    run(["ip", "-n", director_ns, "link", "set", b, "up"])
