"""Shutdown stops accepting, finishes work in flight, then closes: nothing acked is lost,
and a client that retries what went unanswered (same ``clientId``) ends with each message
stored exactly once."""

import asyncio
from collections import Counter

import httpx
import socketio

from chatkit.server.runner import start_server
from tests.helpers.realtime import connect


async def _all_contents(url: str, account, chat_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=url) as api:
        out: list[str] = []
        for page in range(1, 10):
            r = await api.get(f"/api/v1/chats/{chat_id}/messages", headers=account.headers,
                              params={"limit": 100, "page": page})
            batch = r.json()["data"]
            out += [m["content"] for m in batch]
            if len(batch) < 100:
                return out
    raise AssertionError("too many pages")


async def test_shutdown_mid_burst_loses_nothing_and_retries_store_once(settings, server, make_user):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    sender = socketio.AsyncClient(reconnection=False)
    await sender.connect(server.url, headers={"authorization": ann.token}, transports=["websocket"])
    receiver = await connect(server.url, bob.token, label="bob")
    first = await sender.call("new-message", {"content": "m-start", "otherUserId": bob.id}, timeout=5)
    chat_id = first["message"]["chat"]
    await receiver.next("new-chat")

    def payload(i: int) -> dict:
        return {"content": f"m{i}", "chatId": chat_id, "clientId": f"c{i}"}

    async def send(i: int) -> dict | None:
        try:
            return await sender.call("new-message", payload(i), timeout=5)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return None

    burst = [asyncio.create_task(send(i)) for i in range(100)]
    await receiver.next("message")  # the burst is being stored and delivered: now stop
    await server.runner.cleanup()  # what SIGTERM does: stop listening, drain, hang up
    acks = await asyncio.gather(*burst)
    await sender.disconnect()
    await receiver.close()

    acked = {a["message"]["content"] for a in acks if a and a.get("success")}
    assert acked, "messages in flight when shutdown began were handled"
    for a in acks:
        assert a is None or a.get("success") or a.get("message"), "a refused send says why"

    restarted = await start_server(settings, settings.mongo_url or "")
    try:
        stored = await _all_contents(restarted.url, bob, chat_id)
        assert acked <= set(stored), f"acked but lost: {sorted(acked - set(stored))}"

        # The client retries everything it has no success ack for, with the same clientId.
        retry = socketio.AsyncClient(reconnection=False)
        await retry.connect(restarted.url, headers={"authorization": ann.token}, transports=["websocket"])
        for i, ack in enumerate(acks):
            if not (ack and ack.get("success")):
                again = await retry.call("new-message", payload(i), timeout=5)
                assert again["success"] is True, again
        await retry.disconnect()

        counts = Counter(await _all_contents(restarted.url, bob, chat_id))
        assert set(counts) == {"m-start"} | {f"m{i}" for i in range(100)}
        assert max(counts.values()) == 1, [c for c, n in counts.items() if n > 1]
    finally:
        await restarted.runner.cleanup()
