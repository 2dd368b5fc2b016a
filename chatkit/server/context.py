"""Where routes find the services: one key on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from chatkit.services import Services

SERVICES = web.AppKey("services", Services)
