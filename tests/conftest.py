"""Test harness: one real mongod per session, a fresh database and a real server per test.

The server is chatkit's own (``start_server``, the code ``chatkit serve`` runs) on a free
loopback port; tests talk to it over the wire with httpx and python-socketio. Fixtures
only: the helpers tests import live in ``tests.helpers``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from chatkit import mongod
from chatkit.cli.main import app as cli_app
from chatkit.server.runner import RunningServer, start_server
from chatkit.settings import Settings
from tests.helpers.accounts import Account, register
from tests.helpers.constants import TEST_SECRET
from tests.helpers.realtime import Pair, PeerPool


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    local = mongod.acquire(tmp_path_factory.mktemp("mongo"), "test")
    try:
        yield local.url
    finally:
        local.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server per session (Debian's ``redis-server``), started and owned the
    way ``chatkit serve --workers`` owns one; deployments in it are told apart by their
    database name (``Settings.redis_prefix``)."""
    from chatkit import redis_server

    local = redis_server.start(tmp_path_factory.mktemp("redis"))
    try:
        yield local.url
    finally:
        local.stop()


@pytest.fixture
def settings(mongo_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """This test's settings; a test changes some with
    ``@pytest.mark.parametrize("settings", [{"presence": "all"}], indirect=True)``."""
    overrides = getattr(request, "param", {})
    return Settings(**{
        "host": "127.0.0.1", "port": 0, "data_dir": tmp_path, "mongo_url": mongo_url,
        "db_name": f"t_{uuid.uuid4().hex[:12]}", "jwt_secret": TEST_SECRET, "bcrypt_rounds": 4,
        "shutdown_timeout": 5, **overrides,
    })


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


@pytest.fixture
def make_user(api: httpx.AsyncClient):
    """Register a user over HTTP: ``await make_user("Ann", "Lee", **extra) -> Account``."""
    async def make(first: str = "Ann", last: str = "Lee", **kw: Any) -> Account:
        return await register(api, first, last, **kw)

    return make


# --- messaging-core fixtures (issue 3) ---------------------------------------------


@pytest.fixture
async def sockets(server: RunningServer) -> AsyncIterator[PeerPool]:
    """Connect Socket.IO peers with ``await sockets.connect(account)``; all closed at test end."""
    pool = PeerPool(server.url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def pair(make_user, sockets: PeerPool) -> Pair:
    """The usual opening: Ann Lee and Bob Ray registered, then a socket for Ann and one for Bob."""
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    ann_socket = await sockets.connect(ann)
    bob_socket = await sockets.connect(bob)
    return Pair(ann, bob, ann_socket, bob_socket)


@pytest.fixture
def db(server: RunningServer) -> Any:
    """The test database (PyMongo async), to check what was stored or recorded for pushes."""
    return server.services.storage.db


@pytest.fixture
def admin(server: RunningServer, settings: Settings, tmp_path: Path):
    """Run ``chatkit admin ...`` against the running server's database, off the event loop."""
    runner = CliRunner()
    base = ["admin", "--data-dir", str(tmp_path / "cli"), "--mongo-url", settings.mongo_url or "",
            "--db-name", settings.db_name]

    async def run(*args: str, ok: bool = True) -> Any:
        result = await asyncio.to_thread(runner.invoke, cli_app, [*base, *args])
        if ok:
            assert result.exit_code == 0, (
                f"chatkit admin {' '.join(args)} exited {result.exit_code}: {result.output}"
                + (f"\n{result.exception!r}" if result.exception else "")
            )
        return result

    return run


# --- admin CLI with stdin and env (foundation tests) ----------------------------------


@pytest.fixture
def admin_cli(settings: Settings):
    """Run ``chatkit admin ...`` in-process against this test's database, never asserting.

    Returns an async function ``run(*args, input=None, env=None) -> typer.testing.Result`` so a
    test can check failures (exit code, the one line on stderr) and feed a password on
    standard input. The command runs in a worker thread (it calls ``asyncio.run``
    itself) while the test's server keeps serving on the main loop; no server needed.
    """
    runner = CliRunner()
    base = ["admin", "--mongo-url", settings.mongo_url or "", "--db-name", settings.db_name,
            "--data-dir", str(settings.data_dir)]

    async def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return await asyncio.to_thread(
            runner.invoke, cli_app, [*base, *args], input=input,
            env={"CHATKIT_BCRYPT_ROUNDS": "4", **(env or {})}, catch_exceptions=True,
        )

    return run


@pytest.fixture
async def people(server: RunningServer) -> AsyncIterator[Any]:
    """``chatkit.client`` users on the test server: ``await people.login(...)`` / ``register``;
    every client is closed at the test's end."""
    from tests.helpers.clients import People

    pool = People(server.url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Any]:
    """The test SMTP server (``tests.helpers.mailbox``): servers set up with its ``MAIL``
    overrides mail through it."""
    from tests.helpers.mailbox import Mailbox

    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()
