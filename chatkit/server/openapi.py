"""``GET /api/v1/openapi.json``: the REST API's OpenAPI 3.1 document, for client generators.

The document is written by hand in ``openapi.yaml`` beside this module (``docs/openapi.yaml``
is the same file) and checked against the running server by the tests, so what is served
here is what the server does. It is read and turned into JSON once, on the first request.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from chatkit.protocol import Rest

routes = web.RouteTableDef()


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document as a dict (loaded once)."""
    text = resources.files("chatkit.server").joinpath("openapi.yaml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict), "openapi.yaml must hold a mapping"
    return loaded


@functools.cache
def _body() -> bytes:
    return json.dumps(document(), ensure_ascii=False).encode("utf-8")


@routes.get(Rest.OPENAPI)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=_body(), content_type="application/json", charset="utf-8")
