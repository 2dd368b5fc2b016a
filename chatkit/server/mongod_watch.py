"""Keep the server's own mongod running: start it again when it dies, or give up clearly.

When ``chatkit serve`` owns its mongod (no ``--mongo-url``) and that process dies
(killed, crashed, out of memory), nothing else will start it: the server would answer
503 for ever. So the server watches the process and starts it again on the same files,
port and replica set; the MongoDB client keeps the URL and reconnects by itself, and
requests meanwhile fail fast with 503 (the client's operation time limit).

Restarts are bounded: a mongod that keeps dying (a full disk, a port taken, corrupt
files) is started at most ``ATTEMPTS`` times, with a growing pause in between, before
``watch`` raises ``MongodLost``: the server then stops and exits non-zero with one
clear line, so that a supervisor (systemd, Kubernetes) takes over rather than chatkit
limping on. A mongod that stayed up for ``HEALTHY_AFTER`` seconds starts a fresh count.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import NoReturn

from chatkit.mongod import LocalMongo, MongodError

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between looks at the process
ATTEMPTS = 3  # starts tried for a mongod that keeps dying
BACKOFF = 0.5  # seconds before the second start; doubles after each failure
HEALTHY_AFTER = 30.0  # seconds up after which a death counts as a new, first failure
READY_TIMEOUT = 30.0  # seconds a restarted mongod gets to accept writes


class MongodLost(MongodError):
    """The owned mongod died and could not be started again."""


async def watch(local: LocalMongo) -> NoReturn:
    """Run for as long as the server does; raises ``MongodLost`` when restarts are exhausted.

    Must run on the thread that started the mongod (the main thread; see
    ``LocalMongo.relaunch``). Cancel it before stopping the mongod on shutdown.
    """
    loop = asyncio.get_running_loop()
    starts = 0
    up_since = loop.time()
    while True:
        await asyncio.sleep(POLL_INTERVAL)
        code = local.exit_code()
        if code is None:
            continue
        if loop.time() - up_since >= HEALTHY_AFTER:
            starts = 0
        reason = describe_exit(code)
        log.warning("mongod on port %d %s; starting it again", local.port, reason)
        while True:
            if starts >= ATTEMPTS:
                raise MongodLost(
                    f"the local mongod died and could not be kept running ({ATTEMPTS} starts; last: "
                    f"{reason}); exiting so that a supervisor can restart chatkit"
                )
            if starts:
                await asyncio.sleep(BACKOFF * 2 ** (starts - 1))
            starts += 1
            try:
                await _restart(local)
            except MongodError as exc:
                reason = str(exc)
                log.warning("starting mongod failed (attempt %d of %d): %s", starts, ATTEMPTS, reason)
                continue
            log.info("mongod is back on port %d (attempt %d of %d); the database connection recovers by itself",
                     local.port, starts, ATTEMPTS)
            up_since = loop.time()
            break


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


async def _restart(local: LocalMongo) -> None:
    """Start the mongod here (this thread owns it), then wait for it off the event loop."""
    local.relaunch()
    abort = threading.Event()
    try:
        await asyncio.to_thread(local.wait_ready, abort, READY_TIMEOUT)
    except BaseException:
        abort.set()  # cancelled by a shutdown: let the waiting thread stop at once
        raise
