"""Shutdown stops accepting, finishes work in flight, then closes: nothing acked is lost."""

import asyncio

import httpx
import socketio

from chatkit.server.runner import start_server


async def test_every_acked_message_survives_a_shutdown_mid_burst(settings, server, make_user):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    sender = socketio.AsyncClient(reconnection=False)
    await sender.connect(server.url, headers={"authorization": ann.token}, transports=["websocket"])
    first = await sender.call("new-message", {"content": "m-start", "otherUserId": bob.id}, timeout=5)
    chat_id = first["message"]["chat"]

    async def send(i: int) -> dict | None:
        try:
            return await sender.call("new-message", {"content": f"m{i}", "chatId": chat_id,
                                                     "clientId": f"c{i}"}, timeout=5)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return None

    burst = [asyncio.create_task(send(i)) for i in range(100)]
    await asyncio.sleep(0.02)
    await server.runner.cleanup()  # what SIGTERM does: stop listening, drain, hang up
    acks = await asyncio.gather(*burst)
    await sender.disconnect()

    acked = {a["message"]["content"] for a in acks if a and a.get("success")}
    assert len(acked) == 100, "events already sent when shutdown began are still handled"
    refused = [a for a in acks if a and not a.get("success")]
    assert all(a["message"] for a in refused), "a refused send says why"

    restarted = await start_server(settings, settings.mongo_url or "")
    try:
        async with httpx.AsyncClient(base_url=restarted.url) as api:
            pages = [await api.get(f"/api/v1/chats/{chat_id}/messages", headers=bob.headers,
                                   params={"limit": 100, "page": p}) for p in (1, 2)]
        stored = {m["content"] for r in pages for m in r.json()["data"]}
        assert acked <= stored, f"acked but lost: {sorted(acked - stored)}"
        assert "m-start" in stored
    finally:
        await restarted.runner.cleanup()

