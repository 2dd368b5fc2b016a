"""Child processes that chatkit owns (its mongod, its redis-server, its workers): tied to
their owner so none outlives it, and stopped in bounded time."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess

log = logging.getLogger(__name__)

KILL_WAIT = 5.0  # seconds to wait for a SIGKILLed child to be reaped


def die_with_parent() -> None:
    """Run in the child before exec (``preexec_fn``): SIGTERM it if its owner dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def terminate(proc: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    """SIGTERM ``proc`` and wait up to ``timeout`` seconds, then SIGKILL it: returns
    within about ``timeout`` plus ``KILL_WAIT`` seconds whatever the child does. A paused
    (SIGSTOP) child is continued, so that it can stop cleanly."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.1fs; killing it", name, timeout)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_WAIT)
