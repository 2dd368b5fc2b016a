"""REST plumbing shared by every route: JSON in and out, errors, the caller's identity."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from chatkit.domain.accounts import AuthContext
from chatkit.domain.errors import BadRequest, ChatkitError, PayloadTooLarge, TooManyRequests
from chatkit.domain.language import pick, translate
from chatkit.protocol import Sentence
from chatkit.server.context import SERVICES
from chatkit.server.payloads import Schema
from chatkit.storage.database import is_unavailable
from chatkit.storage.documents import UserDoc
from chatkit.wire import jsonable

log = logging.getLogger(__name__)

JSON_BODY_MAX = 2 * 1024 * 1024
SOCKET_IO_PATH = "/socket.io/"
AUTH_KEY = web.RequestKey("chatkit_auth", AuthContext)  # the caller, once authenticated (lang, access log)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(data: dict[str, Any] | list[Any] | None = None, *, status: int = 200, **fields: Any) -> web.Response:
    body: dict[str, Any] = {"success": True, **fields}
    if data is not None:
        body["data"] = data
    return web.json_response(jsonable(body), status=status)


def failure(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as ``{success:false, message}``; no traceback ever does."""
    response = await _answer(request, handler)
    if isinstance(request.content.exception(), web.RequestPayloadError):
        _abandon_body(request, response)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TooManyRequests as exc:
        response = _failure(request, exc.status, exc.message)
        if exc.retry_after is not None:  # for clients that back off by the header
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ChatkitError as exc:
        return _failure(request, exc.status, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return _failure(request, 413, Sentence.BODY_TOO_LARGE)
    except web.RequestPayloadError:
        log.warning("unreadable request body on %s %s", request.method, request.path)
        return _failure(request, 400, Sentence.BODY_UNREADABLE)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _failure(request, exc.status, exc.reason or "Error")
        if "Allow" in exc.headers:  # a 405 says which methods the path takes (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if is_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
            return _failure(request, 503, Sentence.DATABASE_RETRY)
        if request.path.startswith(SOCKET_IO_PATH) and isinstance(exc, (ValueError, IndexError)):
            # python-engineio decodes a websocket frame outside its own error handling: a
            # frame that is no Engine.IO packet at all ends the socket here. The client's
            # fault, and anyone can send one: one line, never a traceback to flood the log.
            log.warning("malformed Engine.IO frame from %s: %s; socket closed", request.remote, type(exc).__name__)
            return _failure(request, 400, "Malformed Socket.IO traffic")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _failure(request, 500, "Internal server error")


def answer_lang(request: web.Request, user: UserDoc | None = None) -> str:
    """The language to answer in: the ``lang`` header, else the stored ``lang`` of ``user``
    (by default the caller, once authenticated)."""
    if user is None:
        ctx = request.get(AUTH_KEY)
        user = ctx.user if ctx is not None else None
    return pick(request.headers.get("lang"), user.get("lang") if user is not None else None)


def say(request: web.Request, message: str, user: UserDoc | None = None) -> str:
    """``message`` in the language of this request (see :func:`answer_lang`)."""
    return translate(message, answer_lang(request, user))


def _failure(request: web.Request, status: int, message: str) -> web.Response:
    return failure(status, say(request, message))


def _abandon_body(request: web.Request, response: web.StreamResponse) -> None:
    """Give up a body aiohttp could not decode (``Content-Encoding: gzip`` on bytes that
    are not gzip, a broken chunk), whether or not the handler read it; close the
    connection after the reply.

    The stream cannot go on past such a body; left as it is, aiohttp would try to drain
    it after the reply, hit the same error again and log it with a traceback.
    """
    request.content.feed_eof()
    response.force_close()


async def read_json(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The body as JSON, checked against ``schema``; too large, malformed or misshapen is a 4xx."""
    if request.content_length is not None and request.content_length > JSON_BODY_MAX:
        raise PayloadTooLarge(Sentence.BODY_TOO_LARGE)
    raw = await _read_body(request, JSON_BODY_MAX)
    if not raw.strip():
        raise BadRequest("The body must be a JSON object")
    try:
        payload = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        raise BadRequest("Malformed JSON body") from None
    except RecursionError:  # "[[[[..." nested deeper than the parser's stack
        raise BadRequest("Malformed JSON body: nested too deeply") from None
    return schema.parse(payload)


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing it once it passes ``limit`` bytes.

    ``StreamReader.read(n)`` returns whatever is buffered (often 64 KiB), not n bytes,
    so the body is collected chunk by chunk; a chunked body has no Content-Length to
    check up front, hence the running total.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(Sentence.BODY_TOO_LARGE)
        chunks.append(chunk)


async def authenticated(request: web.Request) -> AuthContext:
    """The caller, from ``Authorization: <jwt>`` or ``Authorization: Bearer <jwt>``."""
    ctx = await request.app[SERVICES].accounts.authenticate(request.headers.get("Authorization"))
    request[AUTH_KEY] = ctx  # errors are then answered in the caller's stored language
    return ctx
