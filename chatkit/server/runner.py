"""The life of ``chatkit serve``: database up, indexes, listen, then a clean shutdown.

Shutdown order matters for "nothing lost": stop accepting connections, let requests
and socket events in flight finish, then close the database, then stop an owned mongod.
Tests start the very same server through ``start_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from pymongo.errors import PyMongoError

from chatkit import mongod
from chatkit.errors import OperatorError
from chatkit.server.app import create_app
from chatkit.server.context import SERVICES
from chatkit.services import Services
from chatkit.settings import Settings, SettingsError
from chatkit.storage.database import Storage, describe_mongo_error

log = logging.getLogger(__name__)


class StartupError(OperatorError):
    """A reason the server cannot start, worded for the operator."""


@dataclass
class RunningServer:
    url: str
    port: int
    services: Services
    runner: web.AppRunner

    async def stop(self) -> None:
        """Stop listening, finish what is in flight, then close the database."""
        try:
            await self.runner.cleanup()
        finally:
            await self.services.storage.close()


async def start_server(settings: Settings, mongo_url: str) -> RunningServer:
    try:
        storage = await Storage.connect(mongo_url, settings.db_name)
    except Exception as exc:
        raise StartupError(str(exc)) from None
    try:
        try:
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
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=settings.shutdown_timeout,
                               access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    except BaseException:
        await storage.close()
        raise
    port = runner.addresses[0][1]
    return RunningServer(f"http://{_url_host(settings.host)}:{port}", port, app[SERVICES], runner)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived before the server was up; everything started is stopped."""


def serve(settings: Settings, ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM, calling ``ready(url)`` once listening.

    Raises ``StartupError`` (or ``MongodError``) on a bad start, and ``Interrupted`` if
    asked to stop before the server was up. A signal during the (slow) mongod start
    becomes an exception so that the half-started mongod is stopped, not orphaned.
    """
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    local: mongod.LocalMongo | None = None
    try:
        url = settings.mongo_url
        if not url:
            local = mongod.acquire(settings.data_dir, "server")
            url = local.url
        asyncio.run(_serve(settings, url, ready))
    finally:
        for sig in previous:  # stopping mongod takes a moment; a second Ctrl-C must not orphan it
            signal.signal(sig, signal.SIG_IGN)
        try:
            if local is not None:
                local.stop()
                log.info("mongod stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


async def _serve(settings: Settings, url: str, ready: Callable[[str], None] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.ensure_future(start_server(settings, url))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        raise Interrupted("signal during start-up")
    stopping.cancel()
    server = starting.result()
    log.info("chatkit serving on %s", server.url)
    if ready is not None:
        ready(server.url)
    try:
        await stop.wait()
        log.info("shutting down: no new connections, finishing work in flight")
    finally:
        await server.stop()
