"""Worker processes: each runs ``load.run_plan`` over its share of the pairs.

Started with ``spawn`` (a fresh interpreter: nothing of the caller's threads or event
loop is inherited), they connect, say ``ready``, wait until every worker is ready and
the coordinator says go (so all start sending at once), then send back their counts.
While they run, the coordinator reads their progress from a small shared array each
worker alone writes (no lock on the hot path).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from chatkit.bench.load import Plan, Progress, run_plan
from chatkit.bench.provision import BenchError
from chatkit.errors import OperatorError

CELLS = 3  # sent, received, lost
STOP_TIMEOUT = 5.0


def _child(plan: Plan, cells: Any, conn: Connection, go: Any) -> None:
    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()

        async def started() -> None:
            await loop.run_in_executor(None, go.wait)

        return await run_plan(plan, Progress(cells), lambda info: conn.send(("ready", info)), started)

    try:
        conn.send(("done", asyncio.run(main())))
    except OperatorError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # one line to the coordinator rather than a traceback per worker
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Fleet:
    """The worker processes of one run."""

    def __init__(self, plans: list[Plan]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.go = ctx.Event()
        self.cells = [ctx.RawArray("q", CELLS) for _ in plans]
        self.conns: list[Connection] = []
        self.processes = []
        for plan, cells in zip(plans, self.cells, strict=True):
            receiver, sender = ctx.Pipe(duplex=False)
            self.conns.append(receiver)
            self.processes.append(ctx.Process(target=_child, args=(plan, cells, sender, self.go),
                                              name="chatkit-bench-worker", daemon=True))

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def totals(self) -> tuple[int, int, int]:
        """Messages sent, received and counted lost so far, all workers together."""
        sent = received = lost = 0
        for cells in self.cells:
            sent, received, lost = sent + cells[0], received + cells[1], lost + cells[2]
        return sent, received, lost

    def collect(self, kind: str, tick: Callable[[], None], every: float = 0.1) -> list[dict[str, Any]]:
        """One ``kind`` message from every worker, calling ``tick`` meanwhile; a worker's
        error (or death) ends the run with that error."""
        got: dict[int, dict[str, Any]] = {}
        while len(got) < len(self.conns):
            waiting = [c for i, c in enumerate(self.conns) if i not in got]
            for conn in wait(waiting, timeout=every):
                assert isinstance(conn, Connection)
                index = self.conns.index(conn)
                try:
                    what, value = conn.recv()
                except EOFError:
                    raise BenchError(f"bench worker {index} died (exit code {self.processes[index].exitcode})") \
                        from None
                if what == "error":
                    raise BenchError(str(value))
                if what != kind:
                    raise BenchError(f"bench worker {index} said {what!r}, expected {kind!r}")
                got[index] = value
            tick()
        return [got[i] for i in range(len(self.conns))]

    def stop(self, failed: bool) -> None:
        """Reap the workers: after a failure at once, else once they have closed their
        sockets (a worker still alive then is terminated)."""
        deadline = time.monotonic() + (0.0 if failed else STOP_TIMEOUT)
        for process in self.processes:
            if process.pid is None:
                continue
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(STOP_TIMEOUT)
