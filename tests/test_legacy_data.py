"""A database written by the original backend works once chatkit starts on it."""

from datetime import datetime, timedelta, timezone

import socketio
from bson import ObjectId

from chatkit.server.runner import start_server


async def test_original_backend_chats_are_listed_and_duplicates_merged(settings, api, server, make_user):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    db = server.services.storage.db
    a, b = ObjectId(ann.id), ObjectId(bob.id)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
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
