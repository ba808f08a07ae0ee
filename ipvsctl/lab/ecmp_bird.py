"""BIRD 2 for the ECMP lab's router: its config (rendered here) and its process.

The router learns each VIP's /32 from every director over eBGP and, with `merge paths`, puts
one kernel route with a next hop per director; equal paths are what ECMP needs, so every
director announces with the same AS and attributes. Its timers are the directors': a session
lost without a word (the director's link gone) ends after the hold time.

BIRD runs by absolute path with argv lists only, its control socket in the lab's own directory.
The directors' speakers are `ipvsctl run`'s own (ipvsctl/bgp/).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from ipvsctl.errors import HostError
from ipvsctl.lab.ecmp_plan import DIRECTOR_AS, ROUTER_AS, EcmpPlan, Timers

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
IP = "/usr/sbin/ip"
START_TIMEOUT = 30.0  # seconds until a new BIRD answers on its socket (emulated VMs are slow)


def timer_lines(t: Timers) -> str:
    return (f"hold time {t.hold}; keepalive time {t.keepalive}; "
            f"connect delay time {t.connect_delay}; connect retry time {max(1, t.connect_delay)}; "
            f"error wait time {t.error_wait[0]}, {t.error_wait[1]}; graceful restart off;")


def render_router(plan: EcmpPlan, timers: Timers) -> str:
    """The lab router: every director a neighbour, only the VIPs' /32s accepted, ECMP on."""
    vips = ", ".join(f"{v}/32" for v in plan.vips)
    peers = "".join(f"protocol bgp d{i} from directors {{ neighbor {a} as {DIRECTOR_AS}; }}\n"
                    for i, a in enumerate(plan.directors, 1))
    return f"""# ipvsctl lab --ecmp: the router
router id {plan.router};
protocol device {{ scan time 10; }}
protocol kernel kernel4 {{
  ipv4 {{ import none; export where source = RTS_BGP; }};
  merge paths on;   # equal BGP paths from several directors: one multipath kernel route
}}
template bgp directors {{
  local {plan.router} as {ROUTER_AS};
  {timer_lines(timers)}
  ipv4 {{ import where net ~ [ {vips} ]; export none; }};
}}
{peers}"""


def lab_dir(path: Path) -> None:
    """The lab's files (the router's BIRD, the directors' cluster files and logs): root's only,
    as `ipvsctl run` wants the files it trusts."""
    path.mkdir(mode=0o700, parents=True, exist_ok=False)


def check_config(conf: Path) -> None:
    done = _run([BIRD, "-p", "-c", str(conf)])
    if done.returncode != 0:
        raise HostError(f"lab: BIRD refuses {conf}: {done.stderr.strip() or done.stdout.strip()}")


class Bird:
    """One BIRD daemon in one namespace: started, reconfigured, stopped or killed."""

    def __init__(self, netns: str, name: str, workdir: Path) -> None:
        self.netns, self.name, self.workdir = netns, name, workdir
        self.conf = workdir / f"{name}.conf"
        self.sock = workdir / f"{name}.ctl"
        self.pidfile = workdir / f"{name}.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, conf: str) -> None:
        self.conf.write_text(conf)
        check_config(self.conf)
        self.sock.unlink(missing_ok=True)
        # As root, like the directors' BIRD under `ipvsctl run`: the router's kernel protocol
        # writes routes, and the lab's folder is root's alone.
        argv = [BIRD, "-f", "-c", str(self.conf), "-s", str(self.sock), "-P", str(self.pidfile)]
        try:
            self.proc = subprocess.Popen([IP, "netns", "exec", self.netns, *argv],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
        except OSError as exc:
            raise HostError(f"lab: cannot start {BIRD}: {exc} (Debian package bird2)") from exc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise HostError(f"lab: BIRD in {self.netns} exited: {err.strip()}")
            if self.sock.exists() and self.birdc("show status").returncode == 0:
                return
            time.sleep(0.05)
        raise HostError(f"lab: BIRD in {self.netns} did not answer in {START_TIMEOUT:.0f} s")

    def birdc(self, *command: str) -> subprocess.CompletedProcess[str]:
        return _run([BIRDC, "-s", str(self.sock), *command])

    def configure(self) -> None:
        done = self.birdc("configure")
        if done.returncode != 0 or "Reconfigured" not in done.stdout:
            raise HostError(f"lab: birdc configure in {self.netns}: {done.stdout.strip()}")

    def signal(self, signum: int) -> None:
        """Signal the daemon itself (`ip netns exec` execs it, so the child is BIRD)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, hard: bool = False) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"lab: {argv[0]}: {exc} (Debian package bird2)") from exc
