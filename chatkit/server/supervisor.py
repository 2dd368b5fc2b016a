"""The life of ``chatkit serve --workers N``: one port, N server processes, one Redis.

A single chatkit process is one core. ``--workers N`` runs N of them on one machine:
this supervisor reserves the port, starts the owned mongod and the owned redis-server
once each (unless ``--mongo-url`` / ``--redis-url`` name them), then the N workers
(``chatkit.server.worker_pool``), which listen on that one port with ``SO_REUSEPORT``
and share presence and rooms through Redis. It serves nothing itself.

While running it keeps its children alive: a worker or the redis-server that dies is
started again (bounded, ``chatkit.server.restarts``), the mongod as a single server
does (``chatkit.server.mongod_watch``); past the bound it stops everything and exits
non-zero with one line. On SIGINT/SIGTERM it forwards SIGTERM to the workers, waits for
their drain, then stops redis, then mongod: the workers still need both while they
finish. The whole stop is bounded by ``shutdown_timeout`` plus ``2 * MARGIN`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from chatkit import mongod, redis_server
from chatkit.server import mongod_watch
from chatkit.server.restarts import StartFailed, keep_restarting
from chatkit.server.runner import Interrupted, StartupError, _cancelled, _url_host, stop_mongod
from chatkit.server.shutdown import MARGIN, Watchdog
from chatkit.server.worker_pool import WorkerPool
from chatkit.settings import Settings

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between looks at the redis-server
REDIS_STOP = 5.0  # seconds the redis-server gets to stop before it is killed


class RedisLost(redis_server.RedisError):
    """The owned redis-server died and could not be started again."""


def supervise(settings: Settings, ready: Callable[[str], None] | None = None) -> None:
    """Run ``settings.workers`` workers until SIGINT/SIGTERM, calling ``ready(url)`` once
    all listen. Raises ``Interrupted`` if asked to stop while starting (all that was
    started is stopped), ``WorkerFailed`` if a worker could not start, ``WorkerLost``,
    ``RedisLost`` or ``MongodLost`` if a child kept dying."""
    watchdog = Watchdog()
    deadline = settings.shutdown_timeout + 2 * MARGIN

    def interrupt(signum: int, frame: object) -> None:
        watchdog.arm(deadline)
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    reserved: socket.socket | None = None
    local_mongo: mongod.LocalMongo | None = None
    local_redis: redis_server.LocalRedis | None = None
    try:
        reserved = reserve_port(settings.host, settings.port)
        port = int(reserved.getsockname()[1])
        mongo_url = settings.mongo_url
        if not mongo_url:
            local_mongo = mongod.acquire(settings.data_dir, "server")
            mongo_url = local_mongo.url
        redis_url = settings.redis_url
        if not redis_url:
            local_redis = redis_server.start(settings.data_dir)
            redis_url = local_redis.url
        env = worker_env(settings, port, mongo_url, redis_url)
        pool = WorkerPool(settings.workers, env)
        with asyncio.Runner() as runner:
            runner.run(_supervise(settings, pool, f"http://{_url_host(settings.host)}:{port}", ready,
                                  local_mongo, local_redis, watchdog))
    finally:
        for sig in previous:  # stopping redis and mongod takes a moment; a second Ctrl-C must not orphan them
            signal.signal(sig, signal.SIG_IGN)
        try:
            if local_redis is not None:
                local_redis.stop(REDIS_STOP)
                log.info("redis-server stopped")
            if local_mongo is not None:
                stop_mongod(local_mongo, watchdog)
        finally:
            if reserved is not None:
                reserved.close()
            watchdog.disarm()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to ``host:port`` with ``SO_REUSEPORT``, held for the
    supervisor's life: port 0 becomes one free port all workers then share, and nothing
    without ``SO_REUSEPORT`` can take the port while a worker is being restarted.
    Connections go only to listening sockets, so this one never receives any."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def worker_env(settings: Settings, port: int, mongo_url: str, redis_url: str) -> dict[str, str]:
    """The supervisor's environment plus its resolved settings: flags given to the
    supervisor reach the workers, which read them as ``CHATKIT_*`` variables."""
    env = dict(os.environ)
    env.update({
        "CHATKIT_HOST": settings.host, "CHATKIT_PORT": str(port), "CHATKIT_DATA_DIR": str(settings.data_dir),
        "CHATKIT_MONGO_URL": mongo_url, "CHATKIT_REDIS_URL": redis_url, "CHATKIT_DB_NAME": settings.db_name,
        "CHATKIT_LOG_LEVEL": settings.log_level, "CHATKIT_LOG_FORMAT": settings.log_format,
        "CHATKIT_WORKERS": "1",
    })
    return env


async def _supervise(settings: Settings, pool: WorkerPool, url: str, ready: Callable[[str], None] | None,
                     local_mongo: mongod.LocalMongo | None, local_redis: redis_server.LocalRedis | None,
                     watchdog: Watchdog) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    deadline = settings.shutdown_timeout + 2 * MARGIN

    def on_signal() -> None:
        watchdog.arm(deadline, loop)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    watchers: list[asyncio.Future[Any]] = []
    try:
        starting = asyncio.ensure_future(pool.start())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            await _cancelled(starting)
            raise Interrupted("signal during start-up")
        starting.result()  # raises WorkerFailed
        log.info("chatkit serving on %s with %d workers (pids %s)", url, pool.count,
                 ", ".join(map(str, pool.pids())))
        if ready is not None:
            ready(url)
        watchers = [asyncio.ensure_future(pool.keep(slot)) for slot in range(pool.count)]
        if local_mongo is not None:
            watchers.append(asyncio.ensure_future(mongod_watch.watch(local_mongo)))
        if local_redis is not None:
            watchers.append(asyncio.ensure_future(_keep_redis(local_redis)))
        await asyncio.wait({stopping, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        watchdog.arm(deadline, loop)  # also when a child was lost: exit in bounded time
        log.info("shutting down: each worker finishes its work in flight")
    finally:
        stopping.cancel()
        for watcher in watchers:
            if not watcher.done():
                await _cancelled(watcher)
        await pool.stop(settings.shutdown_timeout + MARGIN)
    for watcher in watchers:
        if watcher.done() and not watcher.cancelled():
            watcher.result()  # raises WorkerLost, RedisLost or MongodLost


async def _keep_redis(local: redis_server.LocalRedis) -> NoReturn:
    async def died() -> int:
        while (code := local.exit_code()) is None:
            await asyncio.sleep(POLL_INTERVAL)
        return code

    async def restart() -> None:
        abort = threading.Event()
        try:
            local.relaunch()  # here, on the main thread that owns it (PR_SET_PDEATHSIG)
            await asyncio.to_thread(local.wait_ready, abort)
        except redis_server.RedisError as exc:
            raise StartFailed(str(exc)) from None
        except BaseException:
            abort.set()  # cancelled by a shutdown: let the waiting thread stop at once
            raise

    await keep_restarting(f"the local redis-server on port {local.port}", died, restart, RedisLost)
