"""Assemble the aiohttp application: REST routes, health check and Socket.IO on one port."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from chatkit.domain.accounts import Accounts
from chatkit.domain.messaging import Messaging
from chatkit.domain.presence import Presence
from chatkit.domain.tokens import TokenCodec
from chatkit.server import routes_auth, routes_chats
from chatkit.server.context import SERVICES, Services
from chatkit.server.http import error_middleware, failure
from chatkit.server.live_admin import LiveAdmin
from chatkit.server.sockets import SocketGateway
from chatkit.settings import Settings
from chatkit.storage.database import Storage

GATEWAY = web.AppKey("gateway", SocketGateway)
LIVE_ADMIN = web.AppKey("live_admin", LiveAdmin)


def build_services(settings: Settings, storage: Storage, *, relay_labels: bool = False) -> Services:
    """The domain objects over ``storage``.

    ``relay_labels`` is for processes without sockets (the admin CLI): the Label lines
    they write are flagged so that a running server shows them to its clients.
    """
    codec = TokenCodec(settings.resolved_jwt_secret, timedelta(days=settings.jwt_lifetime_days))
    accounts = Accounts(
        storage, codec,
        bcrypt_rounds=settings.bcrypt_rounds,
        open_registration=settings.open_registration,
    )
    presence = Presence()
    messaging = Messaging(storage, presence=presence, relay_labels=relay_labels)
    return Services(settings=settings, storage=storage, accounts=accounts, presence=presence,
                    messaging=messaging)


async def healthz(request: web.Request) -> web.Response:
    if await request.app[SERVICES].storage.ping():
        return web.json_response({"success": True, "status": "ok", "database": "ok"})
    return failure(503, "Database unavailable")


def create_app(services: Services) -> web.Application:
    gateway = SocketGateway(services)
    app = web.Application(middlewares=[gateway.track_transports, error_middleware])
    app[SERVICES] = services
    services.messaging.emit = gateway.emit_to_user
    gateway.sio.attach(app)
    app[GATEWAY] = gateway
    app[LIVE_ADMIN] = LiveAdmin(services, gateway)
    app.router.add_get("/healthz", healthz)
    app.add_routes(routes_auth.routes)
    app.add_routes(routes_chats.routes)
    app.on_startup.append(_start_live_admin)
    app.on_shutdown.append(_drain)
    return app


async def _start_live_admin(app: web.Application) -> None:
    app[LIVE_ADMIN].start()


async def _drain(app: web.Application) -> None:
    """Runs after the listening socket closed: finish socket work, then hang up."""
    await app[GATEWAY].drain(app[SERVICES].settings.shutdown_timeout)
    await app[LIVE_ADMIN].stop()
