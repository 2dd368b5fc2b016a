"""Test harness: one real mongod per session, a fresh database and a real server per test.

The server is chatkit's own (``start_server``, the code ``chatkit serve`` runs) on a free
loopback port; tests talk to it over the wire with httpx and python-socketio.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit import mongod
from chatkit.server.runner import RunningServer, start_server
from chatkit.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 32
PASSWORD = "correct horse 1"


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    local = mongod.acquire(tmp_path_factory.mktemp("mongo"), "test")
    try:
        yield local.url
    finally:
        local.stop()


@pytest.fixture
def settings(mongo_url: str, tmp_path: Path) -> Settings:
    return Settings(
        host="127.0.0.1", port=0, data_dir=tmp_path, mongo_url=mongo_url,
        db_name=f"t_{uuid.uuid4().hex[:12]}", jwt_secret=TEST_SECRET, bcrypt_rounds=4,
        shutdown_timeout=5,
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    running = await start_server(settings, settings.mongo_url or "")
    try:
        yield running
    finally:
        storage = running.services.storage
        await storage.client.drop_database(settings.db_name)
        await running.stop()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


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
        return {"Authorization": self.token}


async def register(
    api: httpx.AsyncClient, first: str = "Ann", last: str = "Lee", email: str | None = None,
    password: str = PASSWORD, **extra: Any,
) -> Account:
    email = email or f"{first.lower()}.{uuid.uuid4().hex[:8]}@example.com"
    r = await api.post("/api/v1/users/auth/register", json={
        "firstName": first, "lastName": last, "email": email, "password": password, **extra,
    })
    assert r.status_code == 201, r.text
    return Account(r.json()["data"], password)


@pytest.fixture
def make_user(api: httpx.AsyncClient):
    async def make(first: str = "Ann", last: str = "Lee", **kw: Any) -> Account:
        return await register(api, first, last, **kw)

    return make
