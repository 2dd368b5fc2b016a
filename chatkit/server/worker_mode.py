"""What one of the processes of ``chatkit serve --workers N`` does differently.

The N workers listen on one port with ``SO_REUSEPORT``: the kernel hands each new TCP
connection to one of them. A websocket is one connection for its whole life, so
websocket clients work with any worker (they share state through Redis). Engine.IO
long-polling is a series of requests, each free to land on another worker, which does
not know the session: such clients would connect and then fail at random. So a worker
refuses the polling transport up front with a sentence that says what to do (use the
websocket transport, or put a proxy with sticky sessions in front of separate ports,
see the README), rather than letting the client flap.

Each reply also names the worker's pid in ``X-Chatkit-Worker``, so an operator (and
the tests) can see which process a connection reached.
"""

from __future__ import annotations

import os

from aiohttp import web
from aiohttp.typedefs import Handler

from chatkit.server.http import failure

WORKER_HEADER = "X-Chatkit-Worker"
SOCKET_PATH = "/socket.io/"
POLLING_REFUSED = (
    "This server runs several processes on one port, so the polling transport cannot work here: "
    "connect with the websocket transport only (transports: ['websocket']), "
    "or reach it through a proxy with sticky sessions"
)


def adapt(app: web.Application) -> None:
    """Make ``app`` a worker of ``--workers``; call before the app is started."""
    app.middlewares.append(_refuse_polling)
    app.on_response_prepare.append(_name_worker)


@web.middleware
async def _refuse_polling(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(SOCKET_PATH) and request.query.get("transport") == "polling":
        return failure(400, POLLING_REFUSED)
    return await handler(request)


async def _name_worker(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())
