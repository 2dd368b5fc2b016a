"""``/api/v1/users/auth``: register, verify-account, login, send-otp, verify-otp,
change-password, log-out, me (read and change); and ``/api/v1/actions/lang``.

Thin: parse (JSON, or multipart where a picture may come along), call the domain,
reply; sentences in the request's language (``lang`` header, else the user's own).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from chatkit.domain.email_access import SignIn
from chatkit.domain.errors import BadRequest
from chatkit.domain.images import CleanImage, clean_image
from chatkit.domain.language import pick
from chatkit.domain.tokens import IssuedToken
from chatkit.domain.views import View
from chatkit.protocol import Rest, Sentence
from chatkit.server.context import SERVICES
from chatkit.server.http import authenticated, read_json, reply, say
from chatkit.server.payloads import Schema
from chatkit.server.uploads import read_upload
from chatkit.services import Services
from chatkit.storage.documents import UserDoc

routes = web.RouteTableDef()

PICTURE_FIELDS = ("profilePicture", "image")
TEXT_FIELD_MAX = 8192  # multipart text fields: a push token is up to 4096 characters
_PUSH = {"notificationToken": (str, type(None))}
_CODE = {"code": (str, int), "otp": (str, int)}
REGISTER = Schema(
    required={"firstName": str, "lastName": str, "email": str, "password": str}, optional=_PUSH
)
LOGIN = Schema(required={"email": str, "password": str}, optional=_PUSH)
CHANGE_PASSWORD = Schema(required={"newPassword": str}, optional={"currentPassword": (str, type(None))})
VERIFY_ACCOUNT = Schema(required={"email": str}, optional={**_CODE, **_PUSH})
SEND_OTP = Schema(required={"email": str})
VERIFY_OTP = Schema(optional={"email": (str, type(None)), **_CODE, **_PUSH})
PROFILE = Schema(optional={"firstName": str, "lastName": str, "lang": str})
LANG = Schema(required={"lang": str})


def _with_token(services: Services, user: UserDoc, issued: IssuedToken) -> View:
    return {**services.profiles.view(user), "token": issued.token, "tokenExpDate": issued.expires_at}


def _signed_in(request: web.Request, services: Services, result: SignIn, sentence: str) -> web.Response:
    """A token, or (an unverified account) the original's "code sent" reply without one."""
    if result.issued is None:
        return reply(services.profiles.view(result.user), message=say(request, Sentence.VERIFICATION_SENT))
    return reply(_with_token(services, result.user, result.issued), message=say(request, sentence))


def _header_lang(request: web.Request) -> str | None:
    return pick(request.headers.get("lang")) if request.headers.get("lang") else None


def _code(body: dict[str, Any]) -> str:
    """The code from ``code`` or ``otp`` (the original apps' name); digits as a number too."""
    given = [body[k] for k in ("code", "otp") if k in body]
    if len(given) != 1:
        raise BadRequest(Sentence.CODE_REQUIRED)
    value = given[0]
    return f"{value:06d}" if isinstance(value, int) and 0 <= value < 10**6 else str(value)


async def _body_and_picture(request: web.Request, schema: Schema) -> tuple[dict[str, Any], CleanImage | None]:
    """A JSON body, or a multipart one with the same fields as text and an optional picture
    (judged and cleaned off the event loop: no EXIF or GPS is kept)."""
    if not request.content_type.startswith("multipart/"):
        return await read_json(request, schema), None
    settings = request.app[SERVICES].settings
    names = (*schema.required, *schema.optional)
    async with read_upload(request, file_field=PICTURE_FIELDS, text_fields=names, max_files=1,
                           max_bytes=settings.media_max_bytes, field_max=TEXT_FIELD_MAX) as upload:
        body = schema.parse(dict(upload.fields))
        raw = next(upload.read_files(), None)
        picture = None if raw is None else await asyncio.to_thread(
            clean_image, raw, max_pixels=settings.media_max_pixels)
    return body, picture


@routes.post(Rest.REGISTER)
async def register(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await services.limits.registration(request.remote)  # before the body is read or a password hashed
    body, picture = await _body_and_picture(request, REGISTER)
    if services.email_access.required:
        user = await services.email_access.register(
            body["firstName"], body["lastName"], body["email"], body["password"],
            lang=_header_lang(request) or "en", picture=picture,
        )
        return reply(services.profiles.view(user), message=say(request, Sentence.VERIFICATION_SENT))
    user, issued = await services.accounts.register(
        body["firstName"], body["lastName"], body["email"], body["password"],
        body.get("notificationToken"),
    )
    if picture is not None:
        user = await services.profiles.update(user, picture=picture)
    return reply(_with_token(services, user, issued), status=201, message=say(request, Sentence.REGISTERED))


@routes.post(Rest.VERIFY_ACCOUNT)
async def verify_account(request: web.Request) -> web.Response:
    body = await read_json(request, VERIFY_ACCOUNT)
    services = request.app[SERVICES]
    result = await services.email_access.verify_account(body["email"], _code(body), body.get("notificationToken"))
    return _signed_in(request, services, result, Sentence.ACCOUNT_VERIFIED)


@routes.post(Rest.LOGIN)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    services = request.app[SERVICES]
    result = await services.email_access.login(
        body["email"], body["password"], body.get("notificationToken"), client=request.remote,
        lang=_header_lang(request),
    )
    return _signed_in(request, services, result, Sentence.LOGGED_IN)


@routes.post(Rest.SEND_OTP)
async def send_otp(request: web.Request) -> web.Response:
    body = await read_json(request, SEND_OTP)
    await request.app[SERVICES].email_access.send_otp(body["email"], _header_lang(request))
    return reply(message=say(request, Sentence.OTP_SENT))


@routes.post(Rest.VERIFY_OTP)
async def verify_otp(request: web.Request) -> web.Response:
    body = await read_json(request, VERIFY_OTP)
    services = request.app[SERVICES]
    result = await services.email_access.verify_otp(
        body.get("email"), _code(body), body.get("notificationToken"), client=request.remote,
    )
    return _signed_in(request, services, result, Sentence.LOGGED_IN)


@routes.patch(Rest.CHANGE_PASSWORD)
async def change_password(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    services = request.app[SERVICES]
    await services.limits.action(ctx.user_id)  # before the body is read or a password hashed
    body = await read_json(request, CHANGE_PASSWORD)
    user, issued = await services.accounts.change_password(ctx, body.get("currentPassword"), body["newPassword"])
    return reply(_with_token(services, user, issued), message=say(request, Sentence.PASSWORD_SET))


@routes.post(Rest.LOG_OUT)
async def log_out(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    await request.app[SERVICES].accounts.logout(ctx)
    return reply(message=say(request, Sentence.LOGGED_OUT))


@routes.get(Rest.ME)
async def me(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    return reply(request.app[SERVICES].profiles.view(ctx.user))


@routes.patch(Rest.ME)
async def update_me(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    services = request.app[SERVICES]
    await services.limits.action(ctx.user_id)
    if request.content_type.startswith("multipart/"):  # a picture may come: an upload
        await services.limits.upload(ctx.user_id)
    body, picture = await _body_and_picture(request, PROFILE)
    user = await services.profiles.update(ctx.user, first_name=body.get("firstName"),
                                          last_name=body.get("lastName"), lang=body.get("lang"), picture=picture)
    return reply(services.profiles.view(user), message=say(request, Sentence.PROFILE_UPDATED, user))


@routes.post(Rest.LANG)
async def set_lang(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    body = await read_json(request, LANG)
    services = request.app[SERVICES]
    user = await services.profiles.update(ctx.user, lang=body["lang"])
    return reply(services.profiles.view(user), message=say(request, Sentence.LANG_SET, user))
