"""Memory diagnostics for a running server, off unless ``CHATKIT_DEBUG_MEMORY=1``.

Written to tell a leak from allocator retention (bench/churn_soak.py drives it):

- ``SIGUSR1`` logs one report: RSS; how many entries the per-socket maps hold (the
  gateway's, presence's, python-socketio's and engine.io's), which must all be zero
  when no socket is open; the asyncio task count; the object types whose count grew
  since the previous report; and, when tracemalloc is tracing (``PYTHONTRACEMALLOC=25``),
  the allocation sites that grew.
- ``SIGUSR2`` runs a full garbage collection, then glibc's ``malloc_trim(0)``, and logs
  RSS before and after each: memory that ``malloc_trim`` hands back was free already
  (retained by the allocator), memory that stays is live.

A diagnostic, not a setting: it reads its one variable directly and changes nothing
about how requests are served.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import logging
import os
import signal
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from chatkit.server.sockets import SocketGateway

log = logging.getLogger(__name__)

ENV = "CHATKIT_DEBUG_MEMORY"
TOP = 15
_PAGE = os.sysconf("SC_PAGE_SIZE")


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE / 2**20


class MemoryReport:
    """What SIGUSR1 and SIGUSR2 print; keeps the previous counts to report growth."""

    def __init__(self, gateway: SocketGateway) -> None:
        self.gateway = gateway
        self._types: collections.Counter[str] = collections.Counter()
        self._snapshot: tracemalloc.Snapshot | None = None

    def report(self) -> None:
        gateway = self.gateway
        sio: Any = gateway.sio
        rooms = sio.manager.rooms.get("/", {})
        maps = {
            **gateway.footprint(),
            **{f"presence.{k}": v for k, v in gateway.services.presence.footprint().items()},
            **gateway.services.chat_cache.footprint(),
            "sio.rooms": len(rooms),
            "sio.sids": len(rooms.get(None, {})),
            "sio.pending_connect": sum(len(v) for v in sio.manager.pending_connect.values()),
            "sio.pending_disconnect": sum(len(v) for v in sio.manager.pending_disconnect.values()),
            "sio.callbacks": len(sio.manager.callbacks),
            "sio.environ": len(sio.environ),
            "eio.sockets": len(sio.eio.sockets),
            "asyncio.tasks": len(asyncio.all_tasks()),
        }
        log.warning("memory: rss %.1f MB; %s", rss_mb(), ", ".join(f"{k}={v}" for k, v in maps.items()))
        tasks = collections.Counter(getattr(t.get_coro(), "__qualname__", "?") for t in asyncio.all_tasks())
        log.warning("memory: tasks by coroutine: %s", ", ".join(f"{k}={v}" for k, v in tasks.most_common(TOP)))
        gc.collect()  # count what is alive, not garbage the collector has yet to reach
        types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        grown = [(name, n - self._types[name]) for name, n in types.items() if n > self._types[name]]
        grown.sort(key=lambda item: -item[1])
        if self._types:
            log.warning("memory: object types grown: %s", ", ".join(f"{k}+{v}" for k, v in grown[:TOP]) or "none")
        self._types = types
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")])
            if self._snapshot is not None:
                log.warning("memory: traced %.1f MB; by file: %s", tracemalloc.get_traced_memory()[0] / 2**20,
                            ", ".join(f"{s.traceback[0].filename.rsplit('/', 2)[-1]} {s.size_diff / 1024:+.0f} KB"
                                      for s in snapshot.compare_to(self._snapshot, "filename")[:TOP]))
                for stat in snapshot.compare_to(self._snapshot, "traceback")[:TOP]:
                    where = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback[:6])
                    log.warning("memory: %+.1f KB in %+d blocks at %s", stat.size_diff / 1024, stat.count_diff, where)
            self._snapshot = snapshot
        log.warning("memory: end of report")

    def trim(self) -> None:
        before = rss_mb()
        gc.collect()
        collected = rss_mb()
        try:
            trimmed = ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            trimmed = -1
        log.warning("memory: rss %.1f MB; after gc %.1f MB; after malloc_trim(0) %.1f MB (returned %s)",
                    before, collected, rss_mb(), trimmed)


def on_startup(gateway: SocketGateway) -> Callable[[web.Application], Awaitable[None]]:
    """An ``on_startup`` hook that installs the signal handlers if ``CHATKIT_DEBUG_MEMORY`` is on."""

    async def start(app: web.Application) -> None:
        if not enabled():
            return
        memory = MemoryReport(gateway)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, memory.report)
        loop.add_signal_handler(signal.SIGUSR2, memory.trim)
        log.warning("memory diagnostics on: SIGUSR1 reports, SIGUSR2 collects and trims (pid %d)", os.getpid())

    return start
