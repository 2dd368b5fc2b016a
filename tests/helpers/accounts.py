"""Registered users as tests see them, the ``Authorization`` header they send, and
hand-made tokens (to test what the server does with tokens it did not issue)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt

from tests.helpers.constants import AUTH, PASSWORD, TEST_SECRET


def auth_header(token: str) -> dict[str, str]:
    """The REST ``Authorization`` header for a token (raw JWT, or ``Bearer <jwt>``)."""
    return {"Authorization": token}


class Account:
    """A registered user as a test sees it: id, token and the headers to use it."""

    def __init__(self, data: dict[str, Any], password: str) -> None:
        self.data = data
        self.id: str = data["_id"]
        self.token: str = data["token"]
        self.email: str = data["email"]
        self.password = password

    @property
    def headers(self) -> dict[str, str]:
        return auth_header(self.token)


async def register(
    api: httpx.AsyncClient, first: str = "Ann", last: str = "Lee", email: str | None = None,
    password: str = PASSWORD, **extra: Any,
) -> Account:
    """Register over HTTP (a unique email unless given) and return the new account."""
    email = email or f"{first.lower()}.{uuid.uuid4().hex[:8]}@example.com"
    r = await api.post(AUTH + "/register", json={
        "firstName": first, "lastName": last, "email": email, "password": password, **extra,
    })
    assert r.status_code == 201, r.text
    return Account(r.json()["data"], password)


def token_claims(user_id: Any, **overrides: Any) -> dict[str, Any]:
    """The claims of a user token as the server issues them (valid for an hour from now)."""
    now = int(time.time())
    return {"userId": user_id, "role": "user", "iat": now, "exp": now + 3600, **overrides}


def sign_token(claims: dict[str, Any], secret: str | None = TEST_SECRET, algorithm: str = "HS256") -> str:
    """A JWT of these claims; by default signed as the test server signs (right secret, HS256).
    Signed, but never issued by a login: the server holds no session for it."""
    return jwt.encode(claims, secret, algorithm=algorithm)
