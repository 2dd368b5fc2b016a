"""The same exchange with nothing of chatkit's: httpx for REST, python-socketio for events.

    pip install httpx "python-socketio" aiohttp
    python examples/raw_client.py [BASE_URL]                   (default http://127.0.0.1:8080)

For writers of clients in other languages, this is the whole recipe: register (or log
in) over REST for a token; connect Socket.IO with the token in the ``authorization``
header or in the ``auth`` payload as ``{token}``; emit ``new-message`` with an ack; the
first message of a chat arrives as ``new-chat`` (later ones as ``message``). Ann and
Bob are registered afresh on each run. Exits 0 when Bob got the message as ``new-chat``
and Ann heard it was delivered. See docs/protocol.md for every field.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import httpx
import socketio

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
PASSWORD = "correct horse battery"


async def register(http: httpx.AsyncClient, first: str, email: str) -> dict[str, Any]:
    """``POST /api/v1/users/auth/register``: the user, plus ``token`` and ``tokenExpDate``."""
    r = await http.post("/api/v1/users/auth/register", json={
        "firstName": first, "lastName": "Example", "email": email, "password": PASSWORD})
    body = r.json()
    if r.status_code != 201:  # every error is {"success": false, "message": "..."}
        raise SystemExit(f"register {email}: {r.status_code} {body['message']}")
    return body["data"]


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=BASE, timeout=10) as http:
        ann = await register(http, "Ann", f"ann.{run}@example.com")
        bob = await register(http, "Bob", f"bob.{run}@example.com")

    loop = asyncio.get_running_loop()
    bob_got_it: asyncio.Future[dict[str, Any]] = loop.create_future()
    ann_heard: asyncio.Future[dict[str, Any]] = loop.create_future()

    bob_sio = socketio.AsyncClient(reconnection=False)

    @bob_sio.on("new-chat")  # the first message of a chat Bob could not see before
    async def on_new_chat(chat: dict[str, Any]) -> None:
        first = chat["messages"][0]
        print(f"bob: new chat with {chat['to']['fullName']}: {first['content']}")
        await bob_sio.emit("message-delivered", {"messageId": first["_id"]})  # my device has it
        if not bob_got_it.done():
            bob_got_it.set_result(first)

    @bob_sio.on("message")  # every later message (not reached in this run)
    async def on_message(message: dict[str, Any]) -> None:
        print(f"bob: message {message['content']}")

    @bob_sio.on("error")  # a refused event: {"message": "..."}
    async def on_error(error: dict[str, Any]) -> None:
        print(f"bob: error {error['message']}")

    # the token in the Socket.IO auth payload (what browsers use)
    await bob_sio.connect(BASE, auth={"token": bob["token"]}, transports=["websocket"])

    ann_sio = socketio.AsyncClient(reconnection=False)

    @ann_sio.on("message-delivered")  # {chatId, messageId, messageTime}
    async def on_delivered(receipt: dict[str, Any]) -> None:
        if not ann_heard.done():
            ann_heard.set_result(receipt)

    # the token in the authorization header (what the original mobile apps do)
    await ann_sio.connect(BASE, headers={"authorization": ann["token"]}, transports=["websocket"])
    try:
        ack = await ann_sio.call("new-message", {
            "content": "Hi Bob!",
            "otherUserId": bob["_id"],          # or "chatId" once the chat exists
            "clientId": str(uuid.uuid4()),      # a retry with the same clientId is stored once
        }, timeout=10)
        if not ack["success"]:
            raise SystemExit(f"new-message refused: {ack['message']}")
        print(f"ann: stored {ack['message']['_id']} in chat {ack['message']['chat']}")
        first = await asyncio.wait_for(bob_got_it, 10)
        receipt = await asyncio.wait_for(ann_heard, 10)
        assert receipt["messageId"] == first["_id"] == ack["message"]["_id"]
        print(f"ann: delivered {receipt['messageId']} at {receipt['messageTime']}")
    finally:
        await ann_sio.disconnect()
        await bob_sio.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
