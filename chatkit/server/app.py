"""Assemble the aiohttp application: REST routes, health check and Socket.IO on one port."""

from __future__ import annotations

import asyncio

from aiohttp import web

from chatkit.protocol import Rest, Sentence
from chatkit.server import debug, openapi, routes_auth, routes_chats, routes_media
from chatkit.server.access_log import access_log
from chatkit.server.context import SERVICES
from chatkit.server.forwarded import forwarded_middleware
from chatkit.server.http import error_middleware, failure
from chatkit.server.live_admin import LiveAdmin
from chatkit.server.sio_server import new_socket_server
from chatkit.server.sockets import SocketGateway, SocketNotifier
from chatkit.services import build_services
from chatkit.settings import Settings
from chatkit.storage.database import Storage

GATEWAY = web.AppKey("gateway", SocketGateway)
LIVE_ADMIN = web.AppKey("live_admin", LiveAdmin)


async def healthz(request: web.Request) -> web.Response:
    if await request.app[SERVICES].storage.ping():
        return web.json_response({"success": True, "status": "ok", "database": "ok"})
    return failure(503, Sentence.DATABASE_UNAVAILABLE)


def create_app(settings: Settings, storage: Storage) -> web.Application:
    """The server over ``storage``: its services emit to this app's sockets."""
    sio = new_socket_server(settings.redis_url, channel=f"{settings.redis_prefix}:socketio")
    services = build_services(settings, storage, SocketNotifier(sio), local=SocketNotifier(sio, here_only=True))
    gateway = SocketGateway(sio, services)
    app = web.Application(middlewares=[forwarded_middleware(settings.trusted_networks), access_log,
                                       gateway.track_transports, error_middleware])
    app[SERVICES] = services
    sio.attach(app)
    app[GATEWAY] = gateway
    app[LIVE_ADMIN] = LiveAdmin(services, gateway)
    app.router.add_get(Rest.HEALTHZ, healthz)
    app.add_routes(routes_auth.routes)
    app.add_routes(routes_chats.routes)
    app.add_routes(routes_media.routes)
    app.add_routes(openapi.routes)
    app.on_startup.append(_start_pushes)  # first: a bad Firebase key stops the start before anything runs
    app.on_startup.append(_start_presence_sharing)
    app.on_startup.append(_start_mails)
    app.on_startup.append(_start_live_admin)
    app.on_startup.append(debug.on_startup(gateway))  # only with CHATKIT_DEBUG_MEMORY=1
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_limits)
    return app


async def _start_pushes(app: web.Application) -> None:
    await app[SERVICES].push_sender.start()


async def _start_presence_sharing(app: web.Application) -> None:
    """With several processes: read the deployment's presence before serving (exit 4 if
    Redis does not answer)."""
    sharing = app[SERVICES].presence_sharing
    if sharing is not None:
        await sharing.start()


async def _start_mails(app: web.Application) -> None:
    await app[SERVICES].mail_sender.start()


async def _start_live_admin(app: web.Application) -> None:
    app[LIVE_ADMIN].start()


async def _close_limits(app: web.Application) -> None:
    await app[SERVICES].limits.close()


async def _drain(app: web.Application) -> None:
    """Runs after the listening socket closed: finish socket work, then hang up."""
    services = app[SERVICES]
    timeout = services.settings.shutdown_timeout
    # Side by side, each within the timeout: pushes queued meanwhile wait in the database.
    await asyncio.gather(app[GATEWAY].drain(timeout), services.push_sender.stop(timeout),
                         services.mail_sender.stop(timeout))
    if services.presence_sharing is not None:
        await services.presence_sharing.stop()
    await app[LIVE_ADMIN].stop()
