"""Assemble the aiohttp application: REST routes, health check, and (later) Socket.IO."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from chatkit.domain.accounts import Accounts
from chatkit.domain.tokens import TokenCodec
from chatkit.server import routes_auth
from chatkit.server.context import SERVICES, Services
from chatkit.server.http import error_middleware, failure
from chatkit.settings import Settings
from chatkit.storage.database import Storage

MULTIPART_OVERHEAD = 1024 * 1024


def build_services(settings: Settings, storage: Storage) -> Services:
    codec = TokenCodec(settings.resolved_jwt_secret(), timedelta(days=settings.jwt_lifetime_days))
    accounts = Accounts(
        storage, codec,
        bcrypt_rounds=settings.bcrypt_rounds,
        open_registration=settings.open_registration,
    )
    return Services(settings=settings, storage=storage, accounts=accounts)


async def healthz(request: web.Request) -> web.Response:
    if await request.app[SERVICES].storage.ping():
        return web.json_response({"success": True, "status": "ok", "database": "ok"})
    return failure(503, "Database unavailable")


def create_app(services: Services) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=4 * services.settings.max_image_bytes + MULTIPART_OVERHEAD,
    )
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.add_routes(routes_auth.routes)
    return app
