"""``/api/v1/users/auth``: register, login, change-password, log-out, me."""

from __future__ import annotations

from aiohttp import web

from chatkit.domain.tokens import IssuedToken
from chatkit.domain.views import View, user_view
from chatkit.protocol import Rest, Sentence
from chatkit.server.context import SERVICES
from chatkit.server.http import authenticated, read_json, reply
from chatkit.server.payloads import Schema
from chatkit.storage.documents import UserDoc

routes = web.RouteTableDef()

_PUSH = {"notificationToken": (str, type(None))}
REGISTER = Schema(
    required={"firstName": str, "lastName": str, "email": str, "password": str}, optional=_PUSH
)
LOGIN = Schema(required={"email": str, "password": str}, optional=_PUSH)
CHANGE_PASSWORD = Schema(required={"currentPassword": str, "newPassword": str})


def _with_token(user: UserDoc, issued: IssuedToken) -> View:
    return {**user_view(user), "token": issued.token, "tokenExpDate": issued.expires_at}


@routes.post(Rest.REGISTER)
async def register(request: web.Request) -> web.Response:
    body = await read_json(request, REGISTER)
    user, issued = await request.app[SERVICES].accounts.register(
        body["firstName"], body["lastName"], body["email"], body["password"],
        body.get("notificationToken"),
    )
    return reply(_with_token(user, issued), status=201, message=Sentence.REGISTERED)


@routes.post(Rest.LOGIN)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    user, issued = await request.app[SERVICES].accounts.login(
        body["email"], body["password"], body.get("notificationToken"), client=request.remote
    )
    return reply(_with_token(user, issued), message=Sentence.LOGGED_IN)


@routes.patch(Rest.CHANGE_PASSWORD)
async def change_password(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    body = await read_json(request, CHANGE_PASSWORD)
    user, issued = await request.app[SERVICES].accounts.change_password(
        ctx, body["currentPassword"], body["newPassword"]
    )
    return reply(_with_token(user, issued), message=Sentence.PASSWORD_SET)


@routes.post(Rest.LOG_OUT)
async def log_out(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    await request.app[SERVICES].accounts.logout(ctx)
    return reply(message=Sentence.LOGGED_OUT)


@routes.get(Rest.ME)
async def me(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    return reply(user_view(ctx.user))
