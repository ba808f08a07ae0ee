"""exec: run a program (argv[0] an absolute path) without a shell; exit status 0 = up.

The argument list goes to execve() as it is: no shell ever sees it, so `;`, `$(...)` or `|` in
an argument are just bytes of that argument. The environment is built here, not inherited:
PATH, and the target (IPVSCTL_VIP, IPVSCTL_ADDRESS, IPVSCTL_PORT, IPVSCTL_PROTOCOL).
The program runs in a session of its own, so at the timeout its whole process group is killed.
Its output is discarded but for the last bytes of stderr, which name the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from ipvsctl.health.checkers._base import Check, Context, Done
from ipvsctl.health.spec import ExecCheck
from ipvsctl.health.target import Probe

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TAIL = 200  # bytes of stderr kept for the log
_running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def environment(probe: Probe) -> dict[str, str]:
    target = probe.target
    return {"PATH": PATH, "IPVSCTL_VIP": target.vip or "", "IPVSCTL_ADDRESS": target.address,
            "IPVSCTL_PORT": str(target.port), "IPVSCTL_PROTOCOL": target.protocol}


async def settled(timeout: float = 5.0) -> None:
    """Wait (bounded) for killed programs to be reaped, before the loop closes."""
    if _running:
        await asyncio.wait(set(_running), timeout=timeout)


class ExecProbe(Check):
    __slots__ = ("process", "task")

    def __init__(self, ctx: Context, probe: Probe, done: Done) -> None:
        super().__init__(ctx, probe, done)
        self.process: asyncio.subprocess.Process | None = None
        self.task = ctx.loop.create_task(self._run())
        _running.add(self.task)
        self.task.add_done_callback(_running.discard)

    async def _run(self) -> None:
        spec = self.probe.target.spec
        assert isinstance(spec, ExecCheck)
        argv = spec.argv
        if not argv or not os.path.isabs(argv[0]):
            self.finish(False, "the program must be given by its absolute path")
            return
        self.stage = "starting the program"
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env=environment(self.probe),
                start_new_session=True, close_fds=True)
        except OSError as exc:
            self.finish(False, f"cannot run {argv[0]}: {exc.strerror or exc}")
            return
        self.process = process
        if self.done is None:  # aborted while it started
            self.release()
        self.stage = "waiting for the program"
        tail = b""
        assert process.stderr is not None
        while chunk := await process.stderr.read(4096):  # drained, so it never blocks on us
            tail = (tail + chunk)[-TAIL:]
        status = await process.wait()
        self.process = None
        if status == 0:
            self.finish(True, "exit status 0")
            return
        said = tail.decode(errors="replace").strip().splitlines()
        why = f": {said[-1]}" if said else ""
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        self.finish(False, how + why)

    def release(self) -> None:
        """Kill the program's process group; the task still drains and reaps it (so no
        zombie is left), and reports nothing: `done` is gone."""
        process = self.process
        if process is not None and process.returncode is None:
            self.process = None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid
