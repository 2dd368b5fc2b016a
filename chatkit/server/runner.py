"""The life of ``chatkit serve``: database up, indexes, listen, then a clean shutdown.

Shutdown order matters for "nothing lost": stop accepting connections, let requests
and socket events in flight finish, then close the database, then stop an owned mongod.
Tests start the very same server through ``start_server``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from chatkit import mongod
from chatkit.server.app import build_services, create_app
from chatkit.server.context import SERVICES, Services
from chatkit.settings import Settings
from chatkit.storage.database import Storage

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
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
        await storage.ensure_indexes()
        app = create_app(build_services(settings, storage))
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
    return RunningServer(f"http://{settings.host}:{port}", port, app[SERVICES], runner)


def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM. Raises ``StartupError`` (or ``MongodError``) on a bad start."""
    local: mongod.LocalMongo | None = None
    url = settings.mongo_url
    if not url:
        local = mongod.acquire(settings.data_dir, "server")
        url = local.url
    try:
        asyncio.run(_serve(settings, url))
    finally:
        if local is not None:
            local.stop()
            log.info("mongod stopped")


async def _serve(settings: Settings, url: str) -> None:
    server = await start_server(settings, url)
    log.info("chatkit serving on %s", server.url)
    try:
        await _until_signalled()
        log.info("shutting down: no new connections, finishing work in flight")
    finally:
        await server.stop()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
