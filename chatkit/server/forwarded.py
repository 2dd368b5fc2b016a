"""The client's address behind a reverse proxy: ``X-Forwarded-For`` from trusted proxies.

Per-address rules (the login throttle, the registration limit) and the access log use
the address a request came from. Behind nginx every request comes from nginx, so
without this all clients would share one address: one person's failed logins would
slow everyone's. The header is only believed from the proxies the operator names
(``CHATKIT_TRUSTED_PROXIES``), because anyone can send one: the client is the nearest
address in the chain that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: list[str], networks: tuple[Network, ...]) -> str | None:
    """The client's address: ``peer``, unless it is a trusted proxy; then, walking the
    ``X-Forwarded-For`` chain from the nearest hop, the first that is not trusted."""
    if peer is None or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the chain: the proxy is all we know
    return hops[0] if hops else peer


def forwarded_middleware(networks: tuple[Network, ...]) -> Middleware:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        address = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), networks)
        if address is not None and address != request.remote:
            request = request.clone(remote=address)
        return await handler(request)

    return forwarded
