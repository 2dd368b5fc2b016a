"""The life of ``chatkit serve``: database up, indexes, listen, then a clean shutdown.

Shutdown order matters for "nothing lost": stop accepting connections, let requests
and socket events in flight finish, then close the database, then stop an owned mongod.
Every step has a deadline (``chatkit.server.shutdown``), so SIGTERM always ends the
process within ``shutdown_timeout`` plus a fixed margin. While running, an owned mongod
that dies is started again (``chatkit.server.mongod_watch``).
Tests start the very same server through ``start_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pymongo.errors import PyMongoError

from chatkit import mongod
from chatkit.errors import OperatorError
from chatkit.server import mongod_watch, worker_mode
from chatkit.server.app import create_app
from chatkit.server.bad_requests import QuietAppRunner
from chatkit.server.context import SERVICES
from chatkit.server.shutdown import CANCEL_GRACE, MARGIN, Watchdog, bounded
from chatkit.server.worker_pool import WorkerFailed
from chatkit.services import Services
from chatkit.settings import Settings, SettingsError
from chatkit.storage.database import CLOSE_TIMEOUT, Storage, describe_mongo_error, without_time_limit

log = logging.getLogger(__name__)

__all__ = ["Interrupted", "RunningServer", "StartupError", "WorkerFailed", "serve", "start_server"]

HANGUP_BUDGET = 1.5  # seconds past shutdown_timeout to hang up on sockets and cut requests still running
MONGOD_STOP_MIN = 1.0  # seconds an owned mongod always gets to stop cleanly before it is killed


class StartupError(OperatorError):
    """A reason the server cannot start, worded for the operator."""


@dataclass
class RunningServer:
    url: str
    port: int
    services: Services
    runner: web.AppRunner

    async def stop(self) -> None:
        """Stop listening, finish what is in flight, then close the database; each step
        within its deadline, whatever a client or the database does."""
        timeout = self.services.settings.shutdown_timeout
        await bounded("stop listening, drain sockets and requests", self.runner.cleanup(), timeout + HANGUP_BUDGET)
        await bounded("close the database connection", self.services.storage.close(), CLOSE_TIMEOUT + 1)


async def start_server(settings: Settings, mongo_url: str, *, worker: bool = False) -> RunningServer:
    """Connect, prepare the database and listen; ``worker``: as one of ``--workers`` (a port
    shared with ``SO_REUSEPORT``, see ``chatkit.server.worker_mode``)."""
    try:
        storage = await Storage.connect(mongo_url, settings.db_name, operation_timeout=settings.db_timeout)
    except OperatorError:
        raise  # worded already, with its exit status (4: the database is unreachable)
    except Exception as exc:
        raise StartupError(str(exc)) from None
    try:
        try:
            with without_time_limit():  # index builds on a big database may rightly take minutes
                await storage.ensure_indexes()
        except PyMongoError as exc:
            # e.g. duplicate emails already in a database the original backend wrote
            raise StartupError(
                f"cannot prepare database {settings.db_name!r}: {describe_mongo_error(exc)}"
            ) from None
        try:
            settings.resolved_jwt_secret()  # a server issues tokens: have the secret now
        except SettingsError as exc:
            raise StartupError(str(exc)) from None
        app = create_app(settings, storage)
        if worker:
            worker_mode.adapt(app)
        runner = QuietAppRunner(app, handle_signals=False, shutdown_timeout=settings.shutdown_timeout,
                                access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=worker or None)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    except BaseException:
        await storage.close()
        raise
    port = runner.addresses[0][1]
    url = f"http://{_url_host(settings.host)}:{port}"
    app[SERVICES].media_urls.bind(url)  # image URLs point here unless CHATKIT_PUBLIC_URL says otherwise
    if settings.public_url is None and settings.host in ("0.0.0.0", "::"):
        log.warning("image URLs will name %s, which other machines cannot load: set CHATKIT_PUBLIC_URL", url)
    return RunningServer(url, port, app[SERVICES], runner)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (a dependency except on Windows, where it does
    not build), else asyncio's own.

    The server's time per message is largely event-loop bookkeeping (callbacks, futures,
    socket reads); uvloop does that work in C and cuts the CPU a message costs by about
    a tenth. Behaviour is the same on either loop.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def stop_mongod(local: mongod.LocalMongo, watchdog: Watchdog) -> None:
    """Stop an owned mongod last, within what the watchdog leaves (at least ``MONGOD_STOP_MIN``)."""
    left = watchdog.remaining()
    local.stop(30.0 if left is None else max(MONGOD_STOP_MIN, left - CANCEL_GRACE))
    log.info("mongod stopped")


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived before the server was up; everything started is stopped."""


def serve(settings: Settings, ready: Callable[[str], None] | None = None, *, worker: bool = False) -> None:
    """Run until SIGINT/SIGTERM, calling ``ready(url)`` once listening.

    With ``settings.workers`` above 1 (and not ``worker``, one of them), runs the
    supervisor of that many worker processes instead (``chatkit.server.supervisor``).
    Raises ``StartupError`` (or ``MongodError``) on a bad start, and ``Interrupted`` if
    asked to stop before the server was up. A signal during the (slow) mongod start
    becomes an exception so that the half-started mongod is stopped, not orphaned.
    Raises ``mongod_watch.MongodLost`` if an owned mongod died and could not be started
    again. From the first SIGINT/SIGTERM on, the process ends within ``shutdown_timeout``
    plus ``MARGIN`` seconds, if need be by the watchdog.
    """
    watchdog = Watchdog()
    deadline = settings.shutdown_timeout + MARGIN

    def interrupt(signum: int, frame: object) -> None:
        watchdog.arm(deadline)
        raise Interrupted(signal.Signals(signum).name)

    if settings.workers > 1 and not worker:
        from chatkit.server.supervisor import supervise  # it builds on this module

        supervise(settings, ready)
        return
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    local: mongod.LocalMongo | None = None
    try:
        url = settings.mongo_url
        if not url:
            local = mongod.acquire(settings.data_dir, "server")
            url = local.url
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_serve(settings, url, ready, local, watchdog, worker))
    finally:
        for sig in previous:  # stopping mongod takes a moment; a second Ctrl-C must not orphan it
            signal.signal(sig, signal.SIG_IGN)
        try:
            if local is not None:
                stop_mongod(local, watchdog)
        finally:
            watchdog.disarm()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def _serve(settings: Settings, url: str, ready: Callable[[str], None] | None,
                 local: mongod.LocalMongo | None, watchdog: Watchdog, worker: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    deadline = settings.shutdown_timeout + MARGIN

    def on_signal() -> None:
        watchdog.arm(deadline, loop)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    starting = asyncio.ensure_future(start_server(settings, url, worker=worker))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        await bounded("abandon the start", _cancelled(starting), settings.shutdown_timeout)
        raise Interrupted("signal during start-up")
    server = starting.result()
    if worker:
        log.info("worker %d serving on %s", os.getpid(), server.url)
    else:
        log.info("chatkit serving on %s", server.url)
    if ready is not None:
        ready(server.url)
    watching = asyncio.ensure_future(mongod_watch.watch(local)) if local is not None else None
    try:
        await asyncio.wait({stopping, *([watching] if watching else [])}, return_when=asyncio.FIRST_COMPLETED)
        watchdog.arm(deadline, loop)  # also when the mongod was lost: exit in bounded time
        log.info("shutting down: no new connections, finishing work in flight")
    finally:
        stopping.cancel()
        if watching is not None and not watching.done():
            await bounded("stop watching mongod", _cancelled(watching), CANCEL_GRACE)
        await server.stop()
    if watching is not None and watching.done() and not watching.cancelled():
        watching.result()  # raises MongodLost


async def _cancelled(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait for it to unwind."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
