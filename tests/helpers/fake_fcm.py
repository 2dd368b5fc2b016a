"""A stand-in for Google: the OAuth token endpoint and the FCM v1 send endpoint, on loopback.

``firebase-admin`` reaches it the way it reaches Google: the service-account key it is
given names this server as its ``token_uri`` (the key pair is made here, so the fake
checks the signed assertion like Google does), and chatkit's ``CHATKIT_FCM_ENDPOINT``
points the FCM calls here. Every FCM call is recorded; what it answers is scripted per
device token (default: accepted).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "chatkit-test"
TOKEN_PATH = "/oauth2/token"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth's ``aud``, whatever the token_uri
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    fcm_code: str | None = None  # FCM's errorCode detail, e.g. UNREGISTERED
    grpc_status: str | None = None  # Google's error status, e.g. UNAVAILABLE
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the client gives up)


OK = Answer()
UNREGISTERED = Answer(404, "UNREGISTERED", "NOT_FOUND")
UNAVAILABLE = Answer(503, None, "UNAVAILABLE")
HANG = Answer(hang=True)


def unavailable(retry_after: int) -> Answer:
    return Answer(503, None, "UNAVAILABLE", {"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class FcmRequest:
    token: str
    message: dict[str, Any]  # the v1 ``message`` object as sent
    authorization: str
    validate_only: bool


@cache
def _key_pair() -> tuple[str, Any]:
    """One RSA key per test session: generating it is the slow part."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


class FakeGoogle:
    def __init__(self) -> None:
        self.requests: list[FcmRequest] = []
        self.token_requests = 0
        self.access_tokens: set[str] = set()
        self._script: dict[str, deque[Answer]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Event()
        self.url = ""

    def answer(self, token: str, *answers: Answer) -> None:
        """What FCM answers for ``token``'s next requests, in order; then ``OK``."""
        self._script[token].extend(answers)

    def to(self, token: str) -> list[FcmRequest]:
        return [r for r in self.requests if r.token == token]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[FcmRequest]:
        """Until ``count`` FCM requests in all have arrived."""
        async def reached() -> None:
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            raise AssertionError(f"{count} FCM request(s) expected within {timeout}s, got "
                                 f"{[(r.token, r.message.get('notification')) for r in self.requests]}") from None
        return list(self.requests)

    def service_account(self, directory: Path) -> Path:
        """A service-account key file whose tokens come from this server."""
        pem, _ = _key_pair()
        path = directory / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": PROJECT, "private_key_id": "test-key",
            "private_key": pem, "client_email": f"chatkit@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": self.url + TOKEN_PATH,
        }))
        return path

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_post(SEND_PATH, self._send)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        _, public_key = _key_pair()
        try:
            jwt.decode(str(form.get("assertion", "")), public_key, algorithms=["RS256"],
                       audience=[self.url + TOKEN_PATH, GOOGLE_AUDIENCE])
        except jwt.PyJWTError as exc:
            return web.json_response({"error": "invalid_grant", "error_description": str(exc)}, status=400)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.token_requests += 1
        token = f"ya29.fake-{uuid.uuid4().hex}"
        self.access_tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def _send(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return _error(401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials.")
        body = await request.json()
        message = body["message"]
        token = message.get("token", "")
        self.requests.append(FcmRequest(token, message, auth, bool(body.get("validate_only"))))
        self._arrived.set()
        answer = self._script[token].popleft() if self._script[token] else OK
        if answer.hang:
            await asyncio.sleep(3600)
        if answer.status == 200:
            return web.json_response({"name": f"projects/{PROJECT}/messages/{len(self.requests)}"})
        return _error(answer.status, answer.grpc_status or "UNKNOWN", answer.fcm_code, "scripted failure",
                      answer.headers)


def _error(status: int, grpc_status: str, fcm_code: str | None, text: str,
           headers: dict[str, str] | None = None) -> web.Response:
    details = [{"@type": FCM_ERROR, "errorCode": fcm_code}] if fcm_code else []
    return web.json_response({"error": {"code": status, "message": text, "status": grpc_status, "details": details}},
                             status=status, headers=headers)
