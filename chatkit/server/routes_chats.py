"""``/api/v1/chats`` and ``/api/v1/actions``: listings, one chat, message pages, clear, block."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from chatkit.domain.errors import BadRequest
from chatkit.domain.inputs import parse_id
from chatkit.protocol import Rest, Sentence
from chatkit.server.context import SERVICES
from chatkit.server.http import authenticated, reply
from chatkit.server.payloads import int_param
from chatkit.wire import parse_iso

routes = web.RouteTableDef()

PAGE_MAX = 100


def _paging(request: web.Request, default_limit: int = 20) -> tuple[int, int]:
    q = request.query
    page = int_param(q.get("page"), "page", 1, maximum=1_000_000)
    limit = int_param(q.get("limit"), "limit", default_limit, maximum=PAGE_MAX)
    return page, limit


def _pagination(total: int, page: int, limit: int) -> dict[str, int]:
    return {"totalResults": total, "totalPages": (total + limit - 1) // limit, "page": page, "limit": limit}


def _date(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 date or time") from None


@routes.get(Rest.CHAT_USERS)
async def list_users(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    page, limit = _paging(request)
    users, total = await request.app[SERVICES].listings.list_users(
        ctx.user_id, search=request.query.get("search"), page=page, limit=limit
    )
    return reply(users, pagination=_pagination(total, page, limit))


@routes.get(Rest.CHATS)
async def list_chats(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    page, limit = _paging(request)
    n = int_param(request.query.get("noOfMessages"), "noOfMessages", 1, minimum=0, maximum=PAGE_MAX)
    chats, total = await request.app[SERVICES].listings.list_chats(
        ctx.user, page=page, limit=limit, search=request.query.get("search"), last_messages=n,
    )
    return reply(chats, pagination=_pagination(total, page, limit))


@routes.get(Rest.CHAT)
async def get_chat(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    chat_id = parse_id(request.match_info["id"], "chat id")
    n = int_param(request.query.get("noOfMessages"), "noOfMessages", 20, minimum=0, maximum=PAGE_MAX)
    chat = await request.app[SERVICES].listings.get_chat(ctx.user, chat_id, last_messages=n)
    return reply(chat)


@routes.get(Rest.CHAT_MESSAGES)
async def list_messages(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    chat_id = parse_id(request.match_info["id"], "chat id")
    page, limit = _paging(request, default_limit=50)
    start, end = _date(request, "startDate"), _date(request, "endDate")
    if start and end and start > end:
        raise BadRequest("startDate must not be after endDate")
    messages, total = await request.app[SERVICES].listings.list_messages(
        ctx.user_id, chat_id, page=page, limit=limit, search=request.query.get("search"),
        start=start, end=end,
    )
    return reply(messages, pagination=_pagination(total, page, limit))


@routes.patch(Rest.CLEAR_CHAT)
async def clear_chat(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    await request.app[SERVICES].limits.action(ctx.user_id)
    chat_id = parse_id(request.match_info["id"], "chat id")
    outcome = await request.app[SERVICES].clearing.clear_chat(ctx.user_id, chat_id)
    return reply({"deleted": outcome == "deleted"}, message=Sentence.CHAT_CLEARED)


@routes.post(Rest.BLOCK)
async def block(request: web.Request) -> web.Response:
    return await _set_block(request, True)


@routes.post(Rest.UNBLOCK)
async def unblock(request: web.Request) -> web.Response:
    return await _set_block(request, False)


async def _set_block(request: web.Request, blocked: bool) -> web.Response:
    ctx = await authenticated(request)
    await request.app[SERVICES].limits.action(ctx.user_id)
    other_id = parse_id(request.match_info["id"], "user id")
    flags = await request.app[SERVICES].blocks.set_block(ctx.user_id, other_id, blocked)
    return reply(flags, message=Sentence.USER_BLOCKED if blocked else Sentence.USER_UNBLOCKED)
