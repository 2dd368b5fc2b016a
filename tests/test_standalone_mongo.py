"""On a standalone MongoDB (no replica set, so no change streams) operator actions still
reach open sockets: the server polls its connected users instead."""

import subprocess
import uuid

import httpx
import pytest
from bson import ObjectId
from pymongo import MongoClient

from chatkit import mongod
from chatkit.protocol import Sentence
from chatkit.server.runner import start_server
from chatkit.settings import Settings
from tests.helpers.accounts import register
from tests.helpers.constants import TEST_SECRET
from tests.helpers.realtime import connect


@pytest.fixture(scope="module")
def standalone_url(tmp_path_factory: pytest.TempPathFactory):
    binary = mongod.find_mongod()
    assert binary is not None, "the test environment installs chatkit[embedded]"
    db_path = tmp_path_factory.mktemp("standalone")
    port = mongod.free_port()
    proc = subprocess.Popen(
        [str(binary), "--dbpath", str(db_path), "--port", str(port), "--bind_ip", "127.0.0.1",
         "--logpath", str(db_path / "mongod.log"), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    client: MongoClient = MongoClient(url, serverSelectionTimeoutMS=20000)
    try:
        client.admin.command("ping")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(30)


async def test_ban_closes_sockets_without_change_streams(standalone_url, tmp_path):
    settings = Settings(host="127.0.0.1", port=0, data_dir=tmp_path, mongo_url=standalone_url,
                        db_name=f"t_{uuid.uuid4().hex[:12]}", jwt_secret=TEST_SECRET, bcrypt_rounds=4,
                        shutdown_timeout=5)
    server = await start_server(settings, standalone_url)
    try:
        async with httpx.AsyncClient(base_url=server.url) as api:
            ann, bob = await register(api, "Ann"), await register(api, "Bob")
        a = await connect(server.url, ann.token, label="ann")
        b = await connect(server.url, bob.token, label="bob")
        ack = await a.emit_ack("new-message", {"content": "hi", "otherUserId": bob.id})
        assert ack["success"] is True  # messaging works on a standalone server too

        await server.services.accounts.set_banned(await server.services.accounts.find_user(ann.id), True)
        await a.wait_disconnected(timeout=5)
        assert a.queues["error"] and a.queues["error"][-1]["message"] == Sentence.ACCOUNT_BLOCKED
        assert b.sio.connected  # nobody else is touched

        # A session revoked behind the server's back (another process) is noticed too.
        await server.services.storage.sessions.revoke_all(ObjectId(bob.id))
        await b.wait_disconnected(timeout=5)
        await a.close()
        await b.close()
    finally:
        await server.services.storage.client.drop_database(settings.db_name)
        await server.stop()
