"""A database written by the original backend works once chatkit starts on it."""

from datetime import UTC, datetime, timedelta

import socketio
from bson import ObjectId

from chatkit.protocol import Sentence
from chatkit.server.runner import start_server
from tests.helpers.accounts import auth_header, sign_token, token_claims
from tests.helpers.constants import AUTH
from tests.helpers.failures import assert_error


async def test_original_backend_chats_are_listed_and_duplicates_merged(settings, api, server, make_user):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    db = server.services.storage.db
    a, b = ObjectId(ann.id), ObjectId(bob.id)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    # The original: no pairKey, no lastMessageAt, messages without receiver, and a duplicate chat.
    first = (await db.chats.insert_one({"participants": [a, b], "createdAt": t0, "updatedAt": t0})).inserted_id
    dup = (await db.chats.insert_one({"participants": [b, a], "createdAt": t0 + timedelta(seconds=1),
                                      "updatedAt": t0})).inserted_id
    await db.messages.insert_many([
        {"chat": first, "sender": a, "content": "old hello", "type": "text", "isDelivered": True,
         "isRead": False, "createdAt": t0 + timedelta(minutes=1), "updatedAt": t0},
        {"chat": dup, "sender": b, "content": "reply in duplicate", "type": "text", "isDelivered": False,
         "isRead": False, "createdAt": t0 + timedelta(minutes=2), "updatedAt": t0},
    ])
    await db.meta.delete_many({})

    # A second server on the same database runs the migration at start.
    restarted = await start_server(settings, settings.mongo_url or "")
    try:
        r = await api.get(restarted.url + "/api/v1/chats", headers=ann.headers, params={"noOfMessages": 5})
        assert r.status_code == 200, r.text
        chats = r.json()["data"]
        assert len(chats) == 1
        assert chats[0]["_id"] == str(first)
        assert [m["content"] for m in chats[0]["messages"]] == ["reply in duplicate", "old hello"]
        assert chats[0]["unreadMessagesCount"] == 1
        assert await db.chats.count_documents({}) == 1

        # Sending into the migrated pair reuses the one chat.
        bob_socket = socketio.AsyncClient()
        await bob_socket.connect(restarted.url, headers={"authorization": bob.token}, transports=["websocket"])
        try:
            ack = await bob_socket.call("new-message", {"content": "new", "otherUserId": ann.id}, timeout=5)
        finally:
            await bob_socket.disconnect()
        assert ack["success"] is True
        assert ack["message"]["chat"] == str(first)
        assert await db.chats.count_documents({}) == 1
    finally:
        await restarted.runner.cleanup()


async def test_a_token_issued_by_the_original_backend_keeps_working(settings, api, server, make_user):
    """Same JWT secret, token stored on the user as the original did: nobody is logged out."""
    ann = await make_user("Ann")
    db = server.services.storage.db
    legacy = sign_token(token_claims(ann.id), settings.jwt_secret)
    await db.users.update_one({"_id": ObjectId(ann.id)},
                              {"$set": {"token": legacy, "notificationToken": "device-1"}})

    r = await api.get(AUTH + "/me", headers=auth_header(legacy))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["_id"] == ann.id
    user = await db.users.find_one({"_id": ObjectId(ann.id)})
    assert "token" not in user and "notificationToken" not in user  # moved to a session
    session = await db.sessions.find_one({"userId": ObjectId(ann.id), "notificationToken": "device-1"})
    assert session is not None

    # From now on it is an ordinary session: logging out ends it.
    assert (await api.post(AUTH + "/log-out", headers=auth_header(legacy))).status_code == 200
    r = await api.get(AUTH + "/me", headers=auth_header(legacy))
    assert r.status_code == 401


async def test_a_token_the_original_did_not_keep_is_refused(settings, api, server, make_user):
    ann = await make_user("Ann")
    stale = sign_token(token_claims(ann.id), settings.jwt_secret)
    assert_error(await api.get(AUTH + "/me", headers=auth_header(stale)), 401, Sentence.SESSION_EXPIRED)
