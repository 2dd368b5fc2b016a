"""The N ``chatkit serve --worker`` processes of ``chatkit serve --workers N``.

Each worker is the ordinary server (``chatkit.server.runner``) started as a child
process with the supervisor's settings in its environment (the mongo and redis URLs
included, so they never show in ``ps``) and listening on the shared port with
``SO_REUSEPORT``. A worker says it is up by printing its ``chatkit serving on`` line on
its stdout, a pipe only the supervisor reads; its log goes to the supervisor's stderr.

The first worker starts alone: it builds the indexes and runs the one-time migration
of a legacy database, which the others then find done. A worker that cannot start
has already said why on stderr (``error: ...``), so the supervisor exits with its
status and adds nothing. Workers run in their own session, so Ctrl-C in a terminal
reaches only the supervisor, which forwards one SIGTERM to each (they drain as a single
server does, ``chatkit.server.shutdown``), and ``PR_SET_PDEATHSIG`` stops them if the
supervisor is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import NoReturn

from chatkit.child_process import KILL_WAIT, die_with_parent
from chatkit.errors import OperatorError
from chatkit.server.mongod_watch import describe_exit
from chatkit.server.restarts import StartFailed, keep_restarting

log = logging.getLogger(__name__)

READY_LINE = b"chatkit serving on "


class WorkerFailed(OperatorError):
    """A worker exited while starting; it printed the reason itself. Exit with its status."""

    def __init__(self, code: int) -> None:
        super().__init__(f"a worker {describe_exit(code)} while starting")
        self.exit_code = code if code > 0 else 1
        self.reported = code > 0  # an exit status of its own: its error line is on stderr already


class WorkerLost(OperatorError):
    """A worker kept dying and restarts were exhausted."""


class WorkerPool:
    def __init__(self, count: int, env: Mapping[str, str]) -> None:
        self.count = count
        self.env = dict(env)
        self.procs: dict[int, asyncio.subprocess.Process] = {}

    def pids(self) -> list[int]:
        return [self.procs[slot].pid for slot in sorted(self.procs)]

    async def start(self) -> None:
        """All workers up (the first alone, then the rest together), or ``WorkerFailed``."""
        await self._start(0)
        await asyncio.gather(*(self._start(slot) for slot in range(1, self.count)))

    async def keep(self, slot: int) -> NoReturn:
        """Keep worker ``slot`` running; raises ``WorkerLost`` when it keeps dying."""
        await keep_restarting(f"worker {slot + 1} of {self.count}", self.procs[slot].wait,
                              lambda: self._restart(slot), WorkerLost)

    async def stop(self, timeout: float) -> None:
        """SIGTERM every worker and wait for their drain; kill one still running after ``timeout``."""
        live = [p for p in self.procs.values() if p.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if not live:
            return
        waits = [asyncio.ensure_future(p.wait()) for p in live]
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for proc in live:
            if proc.returncode is None:
                log.warning("worker pid %d did not stop within %.1fs; killing it", proc.pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        if pending:
            await asyncio.wait(pending, timeout=KILL_WAIT)
        for proc in live:
            if proc.returncode not in (0, None):
                log.warning("worker pid %d %s", proc.pid, describe_exit(proc.returncode))

    async def _start(self, slot: int) -> None:
        proc = await self._spawn(slot)
        if not await _ready(proc):
            raise WorkerFailed(await proc.wait())

    async def _restart(self, slot: int) -> None:
        proc = await self._spawn(slot)
        if not await _ready(proc):
            raise StartFailed(f"the new worker {describe_exit(await proc.wait())} while starting")

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatkit", "serve", "--worker", env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        self.procs[slot] = proc
        log.debug("worker %d of %d started as pid %d", slot + 1, self.count, proc.pid)
        return proc


async def _ready(proc: asyncio.subprocess.Process) -> bool:
    """Whether the worker printed its serving line (False: it exited first)."""
    assert proc.stdout is not None
    while True:
        line = await proc.stdout.readline()
        if not line:
            return False
        if line.startswith(READY_LINE):
            return True
