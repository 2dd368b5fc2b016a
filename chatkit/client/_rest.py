"""The REST side: one httpx client, the token in ``Authorization``, replies unwrapped or raised.

Every reply passes through :meth:`RestApi.request`, which turns the contract's
envelope (``{success, message, data}``) into either the body or the exception of the
status, and turns "no answer" into a :class:`TransportError`. So no method above
looks at a status code or a ``success`` flag.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from chatkit.client import _wire as w
from chatkit.client._exceptions import ConnectionLost, ProtocolError, Timeout, for_status
from chatkit.client._models import Media

log = logging.getLogger("chatkit.client")


class RestApi:
    """REST calls against one base URL, with the session's token once there is one."""

    def __init__(self, base_url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None) -> None:
        self.base_url = httpx.URL(base_url)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.token: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    def _auth(self, url: httpx.URL) -> dict[str, str]:
        """The token goes only to our own server: a signed image URL on another host
        (a CDN, the original backend's Firebase) must not learn it."""
        if self.token is None:
            return {}
        if url.is_relative_url or (url.scheme, url.host, url.port) == (
                self.base_url.scheme, self.base_url.host, self.base_url.port):
            return {"Authorization": self.token}
        return {}

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        target = httpx.URL(url)
        headers = self._auth(target)
        try:
            return await self.http.request(method, target, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise Timeout(f"No answer from {self.base_url} within the timeout ({method} {target.path})") from None
        except httpx.TransportError as exc:
            raise ConnectionLost(f"Cannot reach {self.base_url}: {type(exc).__name__}") from None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                      files: list[tuple[str, tuple[str, bytes, str]]] | None = None) -> w.Wire:
        """The JSON body of a successful reply; any failure raised as its exception."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self._send(method, path, params=query, json=json, data=data, files=files)
        body = _json(response)
        if response.is_success and body.get("success") is True:
            return body
        raise _failure(response, body)

    async def download(self, url: str) -> Media:
        """An image's bytes: a signed URL as served, or a media path (sent with the token)."""
        response = await self._send("GET", url)
        if response.status_code == 200:
            return Media(response.content, response.headers.get("content-type", "application/octet-stream"))
        raise _failure(response, _json(response))


def _json(response: httpx.Response) -> w.Wire:
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(f"HTTP {response.status_code} without a JSON body", response.status_code) from None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise ProtocolError(f"HTTP {response.status_code} without the reply envelope", response.status_code)
    return body


def _failure(response: httpx.Response, body: w.Wire) -> Exception:
    message = body.get("message")
    if not isinstance(message, str):
        message = f"HTTP {response.status_code}"
    retry_after = response.headers.get("retry-after")
    return for_status(response.status_code, message,
                      retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None)
