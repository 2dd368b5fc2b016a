"""``chatkit.client`` against a live server: every method, typed events, errors as exceptions.

Each test drives real ``ChatClient``s (httpx + python-socketio) over loopback against
the test's server, and checks what a program using the library would see: the
models a method returns, the events that arrive, the exception it raises. The
reconnection guarantees are in ``test_client_reconnect.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from chatkit.client import (
    AuthError,
    BadRequest,
    BlockState,
    ChatClient,
    ChatEvent,
    ChatOpened,
    Conflict,
    Connected,
    ConnectionLost,
    Disconnected,
    ErrorEvent,
    Forbidden,
    Message,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    NotFound,
    OnlineUsers,
    ProtocolError,
    RateLimited,
    StoppedTyping,
    Timeout,
    Typing,
    UnsupportedMedia,
)
from chatkit.protocol import Sentence
from tests.helpers.clients import People, open_chat
from tests.helpers.constants import PASSWORD, UNKNOWN_ID
from tests.helpers.images import pixels, png

# --- the package ------------------------------------------------------------------------


def test_importing_the_client_loads_no_server_code() -> None:
    """A client program pulls in neither the aiohttp server nor PyMongo/bson."""
    probe = ("import sys, chatkit.client\n"
             "banned = ('pymongo', 'bson', 'motor', 'aiohttp.web', 'chatkit.server', 'chatkit.domain',\n"
             "          'chatkit.storage', 'chatkit.services', 'chatkit.cli')\n"
             "print(','.join(sorted(m for m in sys.modules for b in banned if m == b or m.startswith(b + '.'))))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"chatkit.client loaded server modules: {result.stdout.strip()}"


# --- account ----------------------------------------------------------------------------


async def test_register_login_me_and_logout(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    assert ann.user.full_name == "Ann Lee" and ann.user.email == ann.email
    assert ann.user.created_at is not None and ann.user.created_at.tzinfo is not None
    assert ann.client.connected and ann.client.token
    assert await ann.client.health() is True
    await ann.events.next(Connected, lambda e: not e.reconnected)

    phone = people.client()
    phone_events = people.record(phone, "Ann's phone")
    user = await phone.login(ann.email.upper(), PASSWORD)
    assert user.id == ann.id
    assert (await phone.me()).email == ann.email
    assert phone.token != ann.client.token  # one session per device

    await phone.logout()
    assert phone.token is None and not phone.connected
    await phone_events.next(Disconnected, lambda e: not e.reconnecting)
    await phone_events.ended.wait()  # events() ends with the session
    assert (await ann.client.me()).id == ann.id and ann.client.connected  # the first device is still in


async def test_a_client_can_resume_a_session_from_its_token(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    resumed = people.client(token=ann.client.token)
    events = people.record(resumed, "Ann resumed")
    async with resumed:
        assert resumed.connected
        await events.next(OnlineUsers)
        chat_id = (await bob.client.send("are you there", to=ann.id)).chat_id
        opened_event = await events.next(ChatOpened)
        assert opened_event.chat_id == chat_id and opened_event.to.id == bob.id
    assert not resumed.connected


async def test_change_password_keeps_this_device_connected(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    old_token = ann.client.token
    user = await ann.client.change_password(PASSWORD, "a new password 2")
    assert user.password_changed_at is not None and ann.client.token != old_token
    with pytest.raises(AuthError) as caught:
        await ChatClient(people.url, token=old_token).me()
    assert caught.value.message == Sentence.PASSWORD_CHANGED and caught.value.status == 401
    # the live connection comes back with the new token (the server closed the old socket)
    await ann.events.until(lambda r: r.client.connected and r.all(Connected)[-1].reconnected,
                           what="reconnected with the new token")
    await bob.client.send("still there?", chat_id=chat_id)
    got = await ann.events.next(MessageReceived, lambda e: e.message.content == "still there?")
    assert not got.message.is_mine
    assert (await ann.client.send("yes", chat_id=chat_id)).content == "yes"


# --- reading ----------------------------------------------------------------------------


async def test_users_chats_chat_and_paged_messages(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    await people.register("Cara", "de la Cruz")
    directory = await ann.client.users()
    assert [u.full_name for u in directory] == ["Bob Ray", "Cara de la Cruz"]
    assert directory.total == 2 and directory.pages == 1 and not directory.has_next
    found = await ann.client.users("de la")
    assert [u.full_name for u in found] == ["Cara de la Cruz"] and found.items[0].is_online is False

    chat_id = await open_chat(ann, bob, "m0")
    for i in range(1, 7):
        await ann.client.send(f"m{i}", chat_id=chat_id)
    listing = await bob.client.chats(messages=2)
    assert len(listing) == 1
    entry = listing.items[0]
    assert entry.id == chat_id and entry.to.id == ann.id and entry.to.full_name == "Ann Lee"
    assert [m.content for m in entry.messages] == ["m6", "m5"]
    assert entry.unread_count == 7 and entry.last_message_at == entry.messages[0].created_at
    assert entry.block == BlockState(False, False, False)

    chat = await bob.client.chat(chat_id, messages=3)
    assert [m.content for m in chat.messages] == ["m6", "m5", "m4"] and chat.unread_count is None
    assert all(not m.is_mine and m.sender_id == ann.id and m.receiver_id == bob.id for m in chat.messages)

    # a page at a time, newest first; a message arriving mid-iteration neither repeats nor shifts
    got: list[str] = []
    async for message in bob.client.messages(chat_id, page_size=3):
        got.append(message.content)
        if len(got) == 1:
            await ann.client.send("late", chat_id=chat_id)
    assert got == [f"m{i}" for i in range(6, -1, -1)]
    since = chat.messages[1].created_at
    assert [m.content async for m in bob.client.messages(chat_id, since=since)] == ["late", "m6", "m5"]
    assert [m.content async for m in bob.client.messages(chat_id, search="M1")] == ["m1"]


async def test_send_into_a_chat_and_to_a_user(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    first = await ann.client.send("hello", to=bob.id)
    assert first.is_mine and first.type == "text" and first.client_id
    assert first.created_at.tzinfo == UTC and len(first.id) == 24
    again = await ann.client.send("hello again", to=bob.id)  # finds the same chat
    assert again.chat_id == first.chat_id
    # a retry with the same clientId is stored once and answered with the stored message
    retried = await ann.client.send("hello again", chat_id=first.chat_id, client_id=again.client_id)
    assert retried.id == again.id
    link = await ann.client.send("https://example.com/cat.png", chat_id=first.chat_id, type="image")
    assert link.type == "image" and link.content == "https://example.com/cat.png"
    assert [m.content async for m in ann.client.messages(first.chat_id)] == [
        "https://example.com/cat.png", "hello again", "hello"]


async def test_images_upload_and_download(people: People, tmp_path: Path) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    cara = await people.register("Cara", "Day")
    red = tmp_path / "red.png"
    red.write_bytes(png(8, 6, seed=1))
    sent = await ann.client.send_images([png(10, 10), red], to=bob.id)  # a new chat: the reply is the chat
    assert [m.type for m in sent] == ["image", "image"] and sent[0].created_at < sent[1].created_at
    chat_id = sent[0].chat_id
    opened_event = await bob.events.next(ChatOpened)
    assert opened_event.message.id == sent[0].id and opened_event.sender_name == "Ann Lee"
    second = await bob.events.next(MessageReceived)
    assert second.message.id == sent[1].id

    media = await bob.client.download(second.message.content)  # the signed URL, as served
    assert media.content_type == "image/png"
    assert pixels(media.content) == pixels(red.read_bytes())
    more = await ann.client.send_images([png(4, 4, seed=3)], chat_id=chat_id)  # an existing chat
    assert len(more) == 1 and more[0].chat_id == chat_id

    path = "/api/v1/media/" + second.message.content.split("/api/v1/media/")[1].split("?")[0]
    assert (await bob.client.download(path)).content == media.content  # by token, as a participant
    with pytest.raises(NotFound) as caught:
        await cara.client.download(path)  # not hers
    assert caught.value.status == 404

    with pytest.raises(UnsupportedMedia) as refused:
        await ann.client.send_images([b"not an image at all"], chat_id=chat_id)
    assert refused.value.status == 415 and "JPEG, PNG, GIF and WebP" in refused.value.message


async def test_block_unblock_and_clear(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    assert await bob.client.block(ann.id) == BlockState(True, True, False)
    for person in (ann, bob):
        label = await person.events.next(MessageReceived, lambda e: e.message.type == "Label")
        assert label.message.content == "blocked" and label.message.sender_id == bob.id
    with pytest.raises(Forbidden) as caught:
        await ann.client.send("let me in", chat_id=chat_id)
    assert caught.value.message == Sentence.BLOCKED and caught.value.status == 403
    assert (await ann.client.chat(chat_id)).block == BlockState(True, False, True)
    assert await bob.client.unblock(ann.id) == BlockState(False, False, False)
    await ann.events.next(MessageReceived, lambda e: e.message.content == "unblocked")

    assert await ann.client.clear(chat_id) is False
    assert [c.id for c in await ann.client.chats()] == []  # nothing visible to Ann any more
    assert await bob.client.clear(chat_id) is True  # Ann cleared first and nothing came since
    with pytest.raises(NotFound):
        await ann.client.chat(chat_id)
    assert await db.chats.count_documents({"_id": ObjectId(chat_id)}) == 0


# --- typed events -------------------------------------------------------------------------


async def test_every_server_event_arrives_typed(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    assert isinstance(await ann.events.next(Connected), Connected)
    first = await ann.client.send("hi Bob", to=bob.id)
    chat_id = first.chat_id

    # new-chat: to each side, `to` is the other participant
    for person, other in ((ann, bob), (bob, ann)):
        event = await person.events.next(ChatOpened)
        assert event.chat_id == chat_id and event.to.id == other.id and event.to.full_name == other.user.full_name
        assert event.message == Message(
            id=first.id, chat_id=chat_id, sender_id=ann.id, receiver_id=bob.id, content="hi Bob", type="text",
            is_delivered=True, is_read=False, created_at=first.created_at, updated_at=first.updated_at,
            is_mine=person is ann, client_id=first.client_id)
        assert event.sender_name == "Ann Lee" and event.unread_count == (1 if person is bob else 0)

    # online-users: contacts and me; the client's `online` follows it
    await ann.events.until(lambda r: {ann.id, bob.id} <= r.client.online, what="both online")
    assert {ann.id, bob.id} <= (await ann.events.next(OnlineUsers, lambda e: bob.id in e.user_ids)).user_ids

    # message, and message-delivered: at once while Bob is online ...
    second = await ann.client.send("second", chat_id=chat_id)
    received = await bob.events.next(MessageReceived)
    assert received.message.id == second.id and not received.message.is_mine and not received.recovered
    delivered = await ann.events.next(MessageDelivered, lambda e: e.message_id == second.id)
    assert delivered.chat_id == chat_id and delivered.message_time == second.created_at
    await bob.client.mark_delivered(second.id)  # accepted; it was delivered already
    # ... and when Bob comes back for one he missed
    await bob.client.disconnect()
    waiting = await ann.client.send("while you were out", chat_id=chat_id)
    assert waiting.is_delivered is False
    await bob.client.connect()
    late = await ann.events.next(MessageDelivered, lambda e: e.message_id == waiting.id)
    assert late.message_time == waiting.created_at
    assert (await bob.events.next(MessageReceived, lambda e: e.message.id == waiting.id)).recovered

    # messages-seen when Bob views the chat
    await bob.client.join(chat_id)
    seen = await ann.events.next(MessagesSeen)
    assert seen.chat_id == chat_id and seen.seen_time.tzinfo == UTC
    assert seen.seen_time >= second.created_at - timedelta(seconds=1)
    await bob.client.leave(chat_id)

    # typing / stop-typing
    await bob.client.typing(chat_id)
    typing = await ann.events.next(Typing)
    assert (typing.chat_id, typing.user_id, typing.user_name) == (chat_id, bob.id, "Bob Ray")
    await bob.client.stop_typing(chat_id)
    stopped = await ann.events.next(StoppedTyping)
    assert (stopped.chat_id, stopped.user_id) == (chat_id, bob.id)

    # error: a failed event raises and the server's error event arrives too
    with pytest.raises(NotFound):
        await ann.client.typing(UNKNOWN_ID)
    error = await ann.events.next(ErrorEvent)
    assert error.message == Sentence.CHAT_NOT_FOUND and not error.retryable

    # disconnected, for good, when the client closes
    await ann.client.close()
    final = await ann.events.next(Disconnected)
    assert not final.reconnecting


async def test_callbacks_and_the_iterator_see_the_same_events_in_order(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    by_async: list[str] = []
    by_sync: list[str] = []
    everything: list[ChatEvent] = []

    @bob.client.on(MessageReceived)
    async def on_message(event: MessageReceived) -> None:
        await asyncio.sleep(0)  # an async callback may await; order still holds
        by_async.append(event.message.content)

    @bob.client.on(MessageReceived)
    def also_on_message(event: MessageReceived) -> None:
        by_sync.append(event.message.content)

    @bob.client.on(ChatEvent)
    def on_anything(event: ChatEvent) -> None:
        everything.append(event)

    @bob.client.on(Typing)
    def broken(event: Typing) -> None:
        raise RuntimeError("a consumer's bug")  # logged; the others still run

    chat_id = await open_chat(ann, bob)
    await ann.client.typing(chat_id)
    for i in range(5):
        await ann.client.send(f"n{i}", chat_id=chat_id)
    await bob.events.until(lambda r: len(r.all(MessageReceived)) == 5, what="five messages")
    expected = [f"n{i}" for i in range(5)]
    assert [e.message.content for e in bob.events.all(MessageReceived)] == expected
    assert by_async == expected and by_sync == expected
    assert [type(e) for e in everything] == [type(e) for e in bob.events.history]

    bob.client.off(MessageReceived, also_on_message)
    await ann.client.send("n5", chat_id=chat_id)
    await bob.events.next(MessageReceived, lambda e: e.message.content == "n5")
    await bob.events.until(lambda r: by_async[-1:] == ["n5"], what="the async callback")
    assert by_sync == expected


# --- errors -------------------------------------------------------------------------------


async def test_rest_failures_raise_their_exception(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    newcomer = people.client(realtime=False)
    with pytest.raises(Conflict) as taken:
        await newcomer.register("Ann", "Again", ann.email, PASSWORD)
    assert taken.value.status == 409 and taken.value.message == Sentence.EMAIL_TAKEN
    with pytest.raises(BadRequest) as short:
        await newcomer.register("Ann", "Again", "x@example.com", "short")
    assert short.value.status == 400 and short.value.message == "password must be at least 8 characters"
    with pytest.raises(AuthError) as wrong:
        await newcomer.login(ann.email, "not the password")
    assert wrong.value.status == 401 and wrong.value.message == Sentence.BAD_LOGIN
    with pytest.raises(AuthError) as anonymous:
        await newcomer.me()
    assert anonymous.value.message == Sentence.AUTH_REQUIRED
    with pytest.raises(NotFound) as missing:
        await ann.client.chat(UNKNOWN_ID)
    assert missing.value.message == Sentence.CHAT_NOT_FOUND
    with pytest.raises(BadRequest) as malformed:
        await ann.client.chat("nope")
    assert malformed.value.message == "chat id must be a 24-character hex id"
    with pytest.raises(NotFound):
        await ann.client.block(UNKNOWN_ID)
    with pytest.raises(BadRequest) as self_block:
        await ann.client.block(ann.id)
    assert self_block.value.message == "You can't block yourself"


async def test_too_many_failed_logins_raise_rate_limited(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    client = people.client(realtime=False)
    caught: pytest.ExceptionInfo[RateLimited] | None = None
    for _ in range(60):  # whatever the throttle's policy, guessing soon stops being answered
        try:
            await client.login(ann.email, "wrong password")
        except AuthError as exc:
            assert exc.message == Sentence.BAD_LOGIN
            continue
        except RateLimited:
            caught = pytest.ExceptionInfo.from_current()
            break
    assert caught is not None, "60 wrong passwords and still no 429"
    assert caught.value.status == 429 and caught.value.message.startswith("Too many failed logins")
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


@pytest.mark.parametrize("settings", [{"open_registration": False}], indirect=True)
async def test_closed_registration_raises_forbidden(people: People) -> None:
    with pytest.raises(Forbidden) as caught:
        await people.client().register("Ann", "Lee", "ann@example.com", PASSWORD)
    assert caught.value.status == 403 and caught.value.message == Sentence.REGISTRATION_CLOSED


async def test_socket_failures_raise_their_exception(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    with pytest.raises(BadRequest) as to_self:
        await ann.client.send("me", to=ann.id)
    assert to_self.value.message == Sentence.NOT_TO_YOURSELF
    with pytest.raises(NotFound) as nobody:
        await ann.client.send("anyone?", to=UNKNOWN_ID)
    assert nobody.value.status == 404 and nobody.value.message == Sentence.USER_NOT_FOUND
    with pytest.raises(BadRequest) as empty:
        await ann.client.send("   ", to=bob.id)
    assert empty.value.message == "content must not be empty"
    with pytest.raises(BadRequest) as both:
        await ann.client.send("which?", to=bob.id, chat_id=UNKNOWN_ID)
    assert both.value.message == Sentence.ONE_TARGET
    with pytest.raises(NotFound) as no_message:
        await ann.client.mark_delivered(UNKNOWN_ID)
    assert no_message.value.message == Sentence.MESSAGE_NOT_FOUND
    with pytest.raises(NotFound):
        await ann.client.join(UNKNOWN_ID)
    assert await ann.client.chats() is not None  # nothing changed: still usable

    offline = people.client(realtime=False, token=ann.client.token)
    with pytest.raises(ConnectionLost) as not_connected:
        await offline.send("no socket", to=bob.id)
    assert not_connected.value.message == Sentence.NOT_CONNECTED


async def test_a_refused_socket_raises_auth_error(people: People) -> None:
    with pytest.raises(AuthError) as caught:
        async with people.client(token="not-a-token"):
            pass
    assert caught.value.message == Sentence.INVALID_TOKEN and caught.value.status == 401


async def _silent_server(reply: bytes | None) -> tuple[asyncio.Server, str]:
    """A loopback HTTP "server" that answers every request with ``reply`` (or never)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if reply is not None:
            writer.write(reply)
            await writer.drain()
        else:
            await reader.read()  # hold the connection, say nothing
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    return listener, f"http://127.0.0.1:{port}"


async def test_no_answer_and_nonsense_raise_transport_and_protocol_errors(people: People) -> None:
    mute, mute_url = await _silent_server(None)
    garbled, garbled_url = await _silent_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    try:
        async with ChatClient(mute_url, timeout=0.5, realtime=False) as client:
            with pytest.raises(Timeout):
                await client.login("ann@example.com", PASSWORD)
        async with ChatClient(garbled_url, realtime=False) as client:
            with pytest.raises(ProtocolError) as caught:
                await client.login("ann@example.com", PASSWORD)
            assert caught.value.status == 200
    finally:
        for listener in (mute, garbled):
            listener.close()
    closed_port = mute_url  # nothing listens there any more
    async with ChatClient(closed_port, realtime=False) as client:
        with pytest.raises(ConnectionLost):
            await client.login("ann@example.com", PASSWORD)
