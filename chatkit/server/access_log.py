"""One access-log line per HTTP request, for operators: who asked what, the answer, how long.

aiohttp's own access log is off (``access_log=None`` in the runner) because it prints the
request line whole, query string included, where a signed media URL carries its signature.
This middleware logs instead, on the ``chatkit.access`` logger:

    GET /api/v1/chats?page=2&limit=20 200 4.1ms user=6b0a888ab88aa8a94ba53c20 from=127.0.0.1

The path is the raw one (percent-escapes kept, so nothing a client sends can break the
line); of the query only the values of known harmless parameters are kept, every other
value is replaced by ``...``. No header is logged, so neither is a token; no body, so
neither is a password. The user is the one the request authenticated as (``http.authenticated``).
Socket.IO's transport requests (long-polling, the websocket upgrade that lasts the whole
connection) are logged at DEBUG only: they are the socket, not requests an operator reads.
The same facts travel as structured fields (``extra``) for ``--log-format json``.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

from chatkit.server.http import AUTH_KEY, SOCKET_IO_PATH, Handler

log = logging.getLogger("chatkit.access")

# Query parameters whose values say nothing secret; anything else (a media URL's
# signature, a token someone put in a URL by mistake) is logged as "...".
SHOWN_PARAMS = frozenset({"page", "limit", "search", "noOfMessages", "startDate", "endDate", "expires",
                          "EIO", "transport"})
PATH_MAX = 512  # characters of path and query kept: a line per request, not a copy of it


def _target(request: web.Request) -> str:
    path = request.rel_url.raw_path
    query = request.rel_url.raw_query_string
    if query:
        shown = [f"{quote(k, safe='')}={quote(v, safe='') if k in SHOWN_PARAMS else '...'}"
                 for k, v in parse_qsl(query, keep_blank_values=True)]
        path = f"{path}?{'&'.join(shown)}"
    # Raw paths are ASCII by HTTP's grammar; escape anything else rather than trust it.
    safe = path.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in safe)[:PATH_MAX]


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time the request through every other middleware and log its outcome once."""
    started = time.perf_counter()
    status = 500  # what the client sees if the handler dies past every other middleware
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects and the like, raised rather than returned
        status = exc.status
        raise
    except BaseException:
        status = 499 if request.transport is None or request.transport.is_closing() else 500
        raise
    finally:
        _log(request, status, (time.perf_counter() - started) * 1000)


def _log(request: web.Request, status: int, ms: float) -> None:
    level = logging.DEBUG if request.path.startswith(SOCKET_IO_PATH) else logging.INFO
    if not log.isEnabledFor(level):
        return
    ctx = request.get(AUTH_KEY)
    user = str(ctx.user_id) if ctx is not None else None
    target = _target(request)
    fields: dict[str, Any] = {"method": request.method, "path": target, "status": status,
                              "durationMs": round(ms, 1), "userId": user, "remote": request.remote}
    log.log(level, "%s %s %d %.1fms user=%s from=%s", request.method, target, status, ms, user or "-",
            request.remote or "-", extra={"access": fields})
