"""Deadlines for stopping: every step bounded, and a last-resort exit.

SIGTERM must end ``chatkit serve`` within ``shutdown_timeout`` plus ``MARGIN`` seconds
whatever is stuck: a client that never hangs up, a paused database, a mongod that does
not answer. So each step of the stop is awaited for at most its share (``bounded``); a
step that overruns is logged together with the stacks of the pending asyncio tasks (the
evidence of what it was waiting on) and left behind. Should something block the event
loop itself, or the interpreter's own teardown, the ``Watchdog`` thread logs the same
dump plus every thread's stack and ends the process at the deadline.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

MARGIN = 5.0  # seconds past shutdown_timeout for hanging up, closing the database, stopping mongod
CANCEL_GRACE = 0.5  # seconds a step that overran gets to unwind once cancelled
STACK_LIMIT = 12  # frames per task in a dump
EXIT_OVERDUE = 1  # exit status when the watchdog has to end the process


async def bounded(what: str, step: Awaitable[Any], timeout: float) -> bool:
    """Await ``step`` for at most ``timeout`` seconds; True if it finished cleanly.

    Unlike ``asyncio.wait_for``, an overrunning step is cancelled but *not* waited for
    beyond ``CANCEL_GRACE``: a step stuck in its own clean-up (a ``finally`` that talks
    to a paused database) must not stall the stop a second time. A step that fails is
    logged and the stop goes on: a later step (stopping mongod) matters as much.
    """
    task = asyncio.ensure_future(step)
    try:
        await asyncio.wait({task}, timeout=max(0.0, timeout))
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        if task.cancelled():
            return True
        error = task.exception()
        if error is not None:
            log.error("shutdown: %s failed", what, exc_info=error)
        return error is None
    log.warning("shutdown: %s did not finish within %.1fs; going on without it. Pending tasks:\n%s",
                what, timeout, task_dump())
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_GRACE)
    return False


def task_dump(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """The stack of every pending asyncio task of ``loop`` (default: the running one)."""
    current = asyncio.current_task() if loop is None else None
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # the loop's task set changed under another thread: one more try
        tasks = list(asyncio.all_tasks(loop))
    out = io.StringIO()
    for task in tasks:
        if task is current or task.done():
            continue
        task.print_stack(limit=STACK_LIMIT, file=out)
    return out.getvalue().rstrip() or "(no pending tasks)"


def thread_dump() -> str:
    """The current stack of every thread (where a blocked event loop is blocked)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = io.StringIO()
    for ident, frame in sys._current_frames().items():
        out.write(f"Thread {names.get(ident, ident)} (most recent call last):\n")
        out.write("".join(traceback.format_stack(frame, limit=STACK_LIMIT)))
    return out.getvalue().rstrip()


class Watchdog:
    """Ends the process if stopping takes longer than allowed.

    ``arm`` starts the clock (the first call wins: a second Ctrl-C does not extend it);
    ``disarm`` once the stop is complete. Until armed it does nothing, so a server that
    runs for months has no timer, and tests that start servers in-process never arm it.
    """

    def __init__(self) -> None:
        self._deadline: float | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    @property
    def armed(self) -> bool:
        return self._deadline is not None

    def arm(self, seconds: float, loop: asyncio.AbstractEventLoop | None = None) -> None:
        with self._lock:
            if self._deadline is not None:
                return
            self._deadline = time.monotonic() + seconds
        threading.Thread(target=self._watch, args=(seconds, loop), name="chatkit-shutdown-watchdog",
                         daemon=True).start()

    def remaining(self) -> float | None:
        """Seconds left until the deadline, or None if not armed."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def disarm(self) -> None:
        self._done.set()

    def _watch(self, seconds: float, loop: asyncio.AbstractEventLoop | None) -> None:
        if self._done.wait(seconds):
            return
        tasks = "(event loop closed)"
        if loop is not None and not loop.is_closed():
            try:
                tasks = task_dump(loop)
            except Exception as exc:  # a diagnostic must never stop the exit
                tasks = f"(could not list tasks: {exc!r})"
        log.error("shutdown did not finish within %.1fs; exiting now. Pending tasks:\n%s\nThreads:\n%s",
                  seconds, tasks, thread_dump())
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_OVERDUE)  # an owned mongod follows (PR_SET_PDEATHSIG) and stops cleanly
