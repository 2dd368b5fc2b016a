"""Start a dead child again, a bounded number of times, or give up with one clear reason.

``chatkit serve --workers N`` keeps processes of its own running: the N workers and,
without ``--redis-url``, a redis-server. Any of them may die (killed, out of memory, a
bug). One death is worth a restart: clients reconnect and nothing is lost. A child that
keeps dying is not: the supervisor then stops and exits non-zero with one line, so
that the operator's supervisor (systemd, Kubernetes) takes over. Same rule as the
owned mongod's (``chatkit.server.mongod_watch``): at most ``ATTEMPTS`` starts, a
growing pause in between, and a child that stayed up ``HEALTHY_AFTER`` seconds starts
a fresh count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from chatkit.server.mongod_watch import ATTEMPTS, BACKOFF, HEALTHY_AFTER, describe_exit

log = logging.getLogger(__name__)


class StartFailed(Exception):
    """A restart did not come up; the text says why (kept as the last reason)."""


async def keep_restarting(
    what: str, died: Callable[[], Awaitable[int]], restart: Callable[[], Awaitable[None]],
    lost: Callable[[str], Exception],
) -> NoReturn:
    """Run for as long as the supervisor does: ``died()`` returns the child's exit status
    when it dies, ``restart()`` starts it again (raising ``StartFailed``); when restarts
    are exhausted, raises ``lost(sentence)``. Cancel it before stopping the child."""
    loop = asyncio.get_running_loop()
    starts = 0
    up_since = loop.time()
    while True:
        code = await died()
        if loop.time() - up_since >= HEALTHY_AFTER:
            starts = 0
        reason = describe_exit(code)
        log.warning("%s %s; starting it again", what, reason)
        while True:
            if starts >= ATTEMPTS:
                raise lost(f"{what} died and could not be kept running ({ATTEMPTS} starts; last: {reason}); "
                           "exiting so that a supervisor can restart chatkit")
            if starts:
                await asyncio.sleep(BACKOFF * 2 ** (starts - 1))
            starts += 1
            try:
                await restart()
            except StartFailed as exc:
                reason = str(exc)
                log.warning("starting %s failed (attempt %d of %d): %s", what, starts, ATTEMPTS, reason)
                continue
            log.info("%s is back (attempt %d of %d)", what, starts, ATTEMPTS)
            up_since = loop.time()
            break
