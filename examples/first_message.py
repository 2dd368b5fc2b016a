"""Connect two users, send a message, and receive it as ``new-chat``, with ``chatkit.client``.

    .venv/bin/python examples/first_message.py [BASE_URL]     (default http://127.0.0.1:8080)

Ann and Bob are registered afresh on each run (throwaway addresses), so the message is
always the first of their chat: Bob receives it as ``ChatOpened`` (the ``new-chat``
event), not as ``MessageReceived`` (``message``), and tells the server his device has
it, which Ann hears as ``MessageDelivered``. Exits 0 when all of that happened.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from chatkit.client import ChatClient, ChatOpened, MessageDelivered

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
PASSWORD = "correct horse battery"


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    async with ChatClient(BASE) as ann, ChatClient(BASE) as bob:
        # register (or login) logs this device in and opens the live connection
        await ann.register("Ann", "Example", f"ann.{run}@example.com", PASSWORD)
        bob_user = await bob.register("Bob", "Example", f"bob.{run}@example.com", PASSWORD)

        sent = await ann.send("Hi Bob!", to=bob_user.id)  # returns once the message is stored
        print(f"ann: stored {sent.id} in chat {sent.chat_id}")

        async with asyncio.timeout(10):
            async for event in bob.events():  # every event since the client was made, in order
                if isinstance(event, ChatOpened):
                    print(f"bob: new chat with {event.to.full_name}: {event.message.content}")
                    await bob.mark_delivered(event.message.id)
                    break
            async for event in ann.events():
                if isinstance(event, MessageDelivered) and event.message_id == sent.id:
                    print(f"ann: delivered {event.message_id}")
                    break


if __name__ == "__main__":
    asyncio.run(main())
