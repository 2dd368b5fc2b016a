"""Two people chat, see typing and ticks, block and clear, across a server restart."""

import httpx

from chatkit.protocol import Sentence
from chatkit.server.runner import start_server
from tests.helpers.failures import assert_failed_ack
from tests.helpers.realtime import connect


async def test_conversation_survives_a_restart(settings, server, make_user):
    ann, bob = await make_user("Ann", "Lee"), await make_user("Bob", "Ray")
    a = await connect(server.url, ann.token, label="ann")
    b = await connect(server.url, bob.token, label="bob")
    first = await a.send("hello bob", other_user_id=bob.id)
    chat_id = first["chat"]
    assert (await b.next("new-chat"))["to"]["_id"] == ann.id
    await a.next("message-delivered", match=lambda e: e["messageId"] == first["_id"])  # ✓✓ grey

    await b.emit("typing", {"chatId": chat_id})
    typing = await a.next("typing")
    assert typing == {"chatId": chat_id, "userId": bob.id, "userName": "Bob Ray"}
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen", match=lambda e: e["chatId"] == chat_id)  # ✓✓ blue
    await b.close()

    # Bob is offline; Ann writes twice, then the server restarts.
    pending = [await a.send(f"while you were away {i}", chat_id=chat_id) for i in range(2)]
    assert not any(m["isDelivered"] for m in pending)
    await a.close()
    await server.runner.cleanup()
    restarted = await start_server(settings, settings.mongo_url or "")
    try:
        a = await connect(restarted.url, ann.token, label="ann")
        b = await connect(restarted.url, bob.token, label="bob")
        # Bob's arrival delivers both, and Ann hears of it once, for the latest.
        delivered = await a.next("message-delivered")
        assert delivered["messageId"] == pending[-1]["_id"]
        await a.no_event("message-delivered")
        async with httpx.AsyncClient(base_url=restarted.url) as api:
            page = (await api.get(f"/api/v1/chats/{chat_id}/messages", headers=bob.headers)).json()["data"]
            assert [m["content"] for m in page] == [
                "while you were away 1", "while you were away 0", "hello bob"]

            # Bob blocks Ann: her next message is refused, both see the Label line.
            r = await api.post(f"/api/v1/actions/{ann.id}/block", headers=bob.headers)
            assert r.json()["data"]["blockedByMe"] is True
            assert (await a.next("message"))["type"] == "Label"
            ack = await a.emit_ack("new-message", {"content": "hey?", "chatId": chat_id})
            assert_failed_ack(ack, Sentence.BLOCKED)

            # Ann clears the chat: she sees nothing, Bob still sees everything.
            assert (await api.patch(f"/api/v1/chats/clear/{chat_id}", headers=ann.headers)).status_code == 200
            mine = (await api.get(f"/api/v1/chats/{chat_id}/messages", headers=ann.headers)).json()["data"]
            theirs = (await api.get(f"/api/v1/chats/{chat_id}/messages", headers=bob.headers)).json()["data"]
            assert mine == []
            assert [m["content"] for m in theirs][-1] == "hello bob"
        await a.close()
        await b.close()
    finally:
        await restarted.runner.cleanup()
