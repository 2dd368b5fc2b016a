"""``chatkit.client`` across broken connections: nothing lost, nothing doubled, sessions respected.

The transport is killed from the test, in the middle of real traffic, the way a
network drops it: the TCP connection cut under the websocket, or the engine.io
connection torn down without a goodbye. The client must come back by itself, send
again what was not acknowledged (stored once, by ``clientId``), fetch what the gap
hid, and give its consumer every message exactly once, in the same order as the
server stored them within each sender's stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId

from chatkit.client import (
    AuthError,
    Backoff,
    ChatClient,
    ChatOpened,
    Connected,
    ConnectionLost,
    Disconnected,
    ErrorEvent,
    Message,
    MessageReceived,
    MessagesSeen,
)
from chatkit.mongod import free_port
from chatkit.protocol import Sentence
from chatkit.server.runner import RunningServer, start_server
from chatkit.settings import Settings
from tests.helpers.clients import People, Person, assert_exactly_once, open_chat
from tests.helpers.constants import PASSWORD

BURST = 30
QUIET = 0.5  # seconds to wait for something that must not come
SLOW_RETURN = Backoff(first=0.5, ceiling=1.0)  # a gap long enough for the other side to write into


async def cut_tcp(client: ChatClient) -> None:
    """Cut the TCP connection under the client's websocket: no close frame, no goodbye."""
    sio = client._rt.sio
    assert sio is not None and sio.eio.ws is not None, "the client has no websocket to cut"
    transport = sio.eio.ws._conn.transport
    assert transport is not None
    transport.abort()


async def drop_engineio(client: ChatClient) -> None:
    """Tear down the client's engine.io connection without waiting for anything."""
    sio = client._rt.sio
    assert sio is not None
    await sio.eio.disconnect(abort=True)


KILLS: dict[str, Callable[[ChatClient], Awaitable[None]]] = {"tcp-cut": cut_tcp, "engineio-abort": drop_engineio}


@pytest.mark.parametrize("kill", list(KILLS), ids=list(KILLS))
async def test_a_drop_in_the_middle_of_a_burst_loses_and_doubles_nothing(people: People, db: Any,
                                                                          kill: str) -> None:
    ann = await people.register("Ann", "Lee", backoff=SLOW_RETURN)
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    acked: list[Message] = []
    killed = asyncio.Event()

    async def send_as(person: Person, text: str) -> Message:
        message = await person.client.send(text, chat_id=chat_id)
        if person is ann:
            acked.append(message)
            if len(acked) == BURST // 3 and not killed.is_set():
                killed.set()
                await KILLS[kill](ann.client)  # with two thirds of Ann's burst still in flight
        return message

    # both directions at once: every send is queued at once, acked as the server stores them
    sent = await asyncio.wait_for(asyncio.gather(
        *(send_as(ann, f"a{i}") for i in range(BURST)),
        *(send_as(bob, f"b{i}") for i in range(BURST)),
    ), 45)
    assert killed.is_set()
    expected = {"hi"} | {f"a{i}" for i in range(BURST)} | {f"b{i}" for i in range(BURST)}
    assert {m.content for m in sent} == expected - {"hi"} and len({m.id for m in sent}) == 2 * BURST

    # Ann's consumer: the drop was seen and mended, and every message came exactly once
    for person in (ann, bob):
        await person.events.until(lambda r: {m.content for m in r.messages() if m.chat_id == chat_id} >= expected,
                                  what="every message of the burst", timeout=20)
    await ann.events.next(Disconnected, lambda e: e.reconnecting)
    await ann.events.next(Connected, lambda e: e.reconnected)
    await asyncio.sleep(QUIET)  # a duplicate would come late: give it the time to show
    got = assert_exactly_once(ann, chat_id, expected)
    assert_exactly_once(bob, chat_id, expected)

    # each sender's messages reach the consumer in the order sent
    for prefix in ("a", "b"):
        own = [int(m.content[1:]) for m in got if m.content.startswith(prefix)]
        assert own == sorted(own), f"{prefix} messages out of order for Ann: {own}"

    # and the database holds each message once
    stored = await db.messages.find({"chat": ObjectId(chat_id)}, {"content": 1}).to_list(None)
    assert Counter(d["content"] for d in stored) == Counter(expected)


async def test_messages_written_while_disconnected_come_once_as_recovered(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    cara = await people.register("Cara", "Day")
    chat_id = await open_chat(ann, bob)
    await ann.client.send("seen live", chat_id=chat_id)
    await ann.events.next(MessageReceived, lambda e: e.message.content == "seen live")

    await ann.client.disconnect()
    assert (await ann.events.next(Disconnected)).reconnecting is False
    for text in ("while", "you", "were", "away"):
        await bob.client.send(text, chat_id=chat_id)
    await bob.client.block(ann.id)  # a Label line: it does not move the chat up the listing
    cara_chat = (await cara.client.send("new friend?", to=ann.id)).chat_id

    await ann.client.connect()
    await ann.events.next(Connected, lambda e: e.reconnected)
    opened_event = await ann.events.next(ChatOpened, lambda e: e.chat_id == cara_chat)
    assert opened_event.recovered and opened_event.to.id == cara.id and opened_event.message.content == "new friend?"
    assert opened_event.sender_name == "Cara Day" and opened_event.unread_count == 1
    recovered = [e for e in ann.events.all(MessageReceived) if e.recovered]
    assert [e.message.content for e in recovered] == ["while", "you", "were", "away", "blocked"]
    await asyncio.sleep(QUIET)  # a duplicate would come late: give it the time to show
    assert Counter(m.content for m in ann.events.messages()) == Counter(
        ["hi", "seen live", "while", "you", "were", "away", "blocked", "new friend?"])

    # history from before the first connection is never replayed
    assert [m.content async for m in ann.client.messages(chat_id)][-1] == "hi"
    assert all(m.content != "hi" for m in ann.events.messages()[1:])


async def test_a_session_whose_history_predates_the_client_replays_none_of_it(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    for i in range(3):
        await bob.client.send(f"old{i}", chat_id=chat_id)
    later = people.client(backoff=Backoff(first=0.05))
    later_events = people.record(later, "Ann's laptop")
    await later.login(ann.email, PASSWORD)
    await later_events.next(Connected)
    await cut_tcp(later)
    await later_events.next(Connected, lambda e: e.reconnected)
    await bob.client.send("new", chat_id=chat_id)
    got = await later_events.next(MessageReceived)
    assert got.message.content == "new" and not got.recovered
    assert [m.content for m in later_events.messages()] == ["new"]


async def test_viewing_a_chat_survives_a_reconnect(people: People) -> None:
    ann = await people.register("Ann", "Lee", backoff=Backoff(first=0.05))
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    await bob.client.send("unread until Ann looks", chat_id=chat_id)
    await ann.client.join(chat_id)
    await bob.events.next(MessagesSeen)
    await cut_tcp(ann.client)
    await ann.events.next(Connected, lambda e: e.reconnected)
    stored = await bob.client.send("read at once", chat_id=chat_id)
    assert stored.is_read is True  # Ann's new socket views the chat again
    await ann.client.leave(chat_id)
    assert (await bob.client.send("not viewed", chat_id=chat_id)).is_read is False


async def test_sends_made_while_reconnecting_wait_and_go_through(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee", backoff=SLOW_RETURN)
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    await cut_tcp(ann.client)
    await ann.events.next(Disconnected, lambda e: e.reconnecting)
    assert not ann.client.connected
    sent = await asyncio.wait_for(asyncio.gather(*(ann.client.send(f"q{i}", chat_id=chat_id)
                                                   for i in range(5))), 20)
    assert [m.content for m in sent] == [f"q{i}" for i in range(5)]
    assert sorted(sent, key=lambda m: m.order) == sent  # stored in the order sent
    for i in range(5):
        await bob.events.next(MessageReceived, lambda e, i=i: e.message.content == f"q{i}")
    assert await db.messages.count_documents({"chat": ObjectId(chat_id), "content": {"$regex": "^q"}}) == 5


async def test_a_session_ended_elsewhere_stops_the_client_for_good(people: People) -> None:
    ann = await people.register("Ann", "Lee", backoff=Backoff(first=0.05))
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    # the same session logged out from elsewhere (another tab with this token)
    async with ChatClient(people.url, token=ann.client.token, realtime=False) as tab:
        await tab.logout()
    error = await ann.events.next(ErrorEvent)
    assert error.message == Sentence.SESSION_ENDED
    final = await ann.events.next(Disconnected)
    assert final.reconnecting is False and final.reason == Sentence.SESSION_ENDED
    await ann.events.ended.wait()
    assert not ann.client.connected
    with pytest.raises(ConnectionLost):
        await ann.client.send("anyone?", chat_id=chat_id)
    with pytest.raises(AuthError) as caught:
        await ann.client.me()
    assert caught.value.message == Sentence.SESSION_ENDED
    with pytest.raises(AuthError):
        await ann.client.connect()  # the server refuses the dead token, the client says why
    await ann.events.no_event(Connected, lambda e: e.reconnected)


async def test_a_send_waiting_when_the_session_ends_raises(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee", backoff=Backoff(first=1.0, ceiling=1.0))
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    await cut_tcp(ann.client)
    await ann.events.next(Disconnected, lambda e: e.reconnecting)
    waiting = asyncio.ensure_future(ann.client.send("queued", chat_id=chat_id))
    # banned while the client is away (it waits at least half a second before trying again)
    await db.users.update_one({"_id": ObjectId(ann.id)}, {"$set": {"isBlocked": True}})
    with pytest.raises(AuthError) as caught:
        await asyncio.wait_for(waiting, 20)
    assert caught.value.message == Sentence.ACCOUNT_BLOCKED
    final = await ann.events.next(Disconnected, lambda e: not e.reconnecting)
    assert final.reason == Sentence.ACCOUNT_BLOCKED
    assert await db.messages.count_documents({"content": "queued"}) == 0


async def test_a_server_restart_is_ridden_out(settings: Settings) -> None:
    """The server goes away (a shutdown closes sockets without a reason) and comes back on
    the same address: clients return by themselves, and a send made meanwhile is stored once."""
    fixed = dataclasses.replace(settings, port=free_port())
    running: RunningServer | None = await start_server(fixed, fixed.mongo_url or "")
    assert running is not None
    pool = People(running.url)
    try:
        ann = await pool.register("Ann", "Lee", backoff=Backoff(first=0.1, ceiling=0.5))
        bob = await pool.register("Bob", "Ray", backoff=Backoff(first=0.1, ceiling=0.5))
        chat_id = await open_chat(ann, bob)
        await running.stop()
        running = None
        await ann.events.next(Disconnected, lambda e: e.reconnecting)
        waiting = asyncio.ensure_future(ann.client.send("sent while the server was down", chat_id=chat_id))
        running = await start_server(fixed, fixed.mongo_url or "")
        stored = await asyncio.wait_for(waiting, 20)
        got = await bob.events.next(MessageReceived, lambda e: e.message.id == stored.id, timeout=20)
        assert got.message.content == "sent while the server was down"
        await ann.events.next(Connected, lambda e: e.reconnected)
        db = running.services.storage.db
        assert await db.messages.count_documents({"content": "sent while the server was down"}) == 1
    finally:
        await pool.close()
        if running is not None:
            await running.services.storage.client.drop_database(fixed.db_name)
            await running.stop()
