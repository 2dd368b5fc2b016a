"""``ChatClient``: the whole contract as async methods that return models or raise.

REST goes through httpx, real time through python-socketio; both share one base URL
and the session's token, so logging in once serves both. A caller never sees wire
JSON: replies are parsed into ``_models`` where they arrive, server events into
``_events``, failures into ``_exceptions``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from chatkit.client._dispatch import Callback, Dispatcher
from chatkit.client._events import ChatEvent
from chatkit.client._exceptions import AuthError, BadRequest, ConnectionLost, ServiceUnavailable
from chatkit.client._models import BlockState, Chat, DirectoryEntry, Media, Message, Page, Session, User
from chatkit.client._realtime import Backoff, Realtime
from chatkit.client._rest import RestApi
from chatkit.client._wire import flag, iso, obj
from chatkit.protocol import Event, Rest, Sentence

E = TypeVar("E", bound=ChatEvent)
Image = bytes | str | os.PathLike[str]


class ChatClient:
    """An asyncio client of a chatkit server::

        async with ChatClient("http://127.0.0.1:8080") as chat:
            await chat.login("ann@example.com", "correct horse")
            await chat.send("Hi Bob", to=bob_id)
            async for event in chat.events():
                ...

    Logging in (or registering) also opens the live connection, unless
    ``realtime=False``. From then on every server event arrives typed, through
    ``events()`` and through ``@chat.on(EventType)`` callbacks. A dropped connection is
    restored with backoff; the messages sent while it was down are fetched and given
    as ``recovered`` events, so each message reaches the consumer exactly once, and a
    ``send`` waiting for its acknowledgement is sent again (stored once, by its
    ``clientId``). Live events start at the first connection: earlier messages are
    history, read with ``chats()`` and ``messages()``.

    ``transport`` is handed to httpx (e.g. ``httpx.AsyncHTTPTransport(retries=2)``);
    ``timeout`` bounds each request and acknowledgement, ``send_timeout`` a whole
    ``send`` including reconnections. ``queue_events=False`` keeps no queue for
    ``events()`` (for callers that only use callbacks).
    """

    def __init__(self, base_url: str, *, token: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0,
                 send_timeout: float = 60.0, realtime: bool = True, queue_events: bool = True,
                 backoff: Backoff | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._rest = RestApi(self.base_url, timeout=timeout, transport=transport)
        self._rest.token = token
        self._dispatcher = Dispatcher(queue_events=queue_events)
        self._rt = Realtime(self.base_url, self._rest, self._dispatcher, timeout=timeout,
                            send_timeout=send_timeout, backoff=backoff or Backoff())
        self._rt.my_name = lambda: self.user.full_name if self.user else None
        self._realtime = realtime
        self.user: User | None = None
        """The logged-in account, as the last login, registration or ``me()`` returned it."""
        self.token_expires_at: datetime | None = None

    async def __aenter__(self) -> ChatClient:
        if self._rest.token is not None and self._realtime:
            try:
                await self.connect()
            except BaseException:
                await self.close()
                raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Hang up, end ``events()``, close HTTP. Sends still waiting raise ``ConnectionLost``."""
        await self._rt.disconnect("closed")
        await self._dispatcher.aclose()
        await self._rest.aclose()

    # --- state ----------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The session's token (keep it to resume with ``ChatClient(url, token=...)``)."""
        return self._rest.token

    @property
    def connected(self) -> bool:
        """The live connection is up and restored."""
        return self._rt.connected

    @property
    def online(self) -> frozenset[str]:
        """Ids of the users online among my contacts (and me), per the last ``online-users``."""
        return self._rt.online

    # --- the live connection ------------------------------------------------------------

    async def connect(self) -> None:
        """Open the live connection with the session's token (login does this already).
        Raises ``AuthError`` if the server refuses the session."""
        await self._rt.connect()

    async def disconnect(self) -> None:
        """Close the live connection (REST keeps working); ``connect()`` opens it again and
        catches up on what was missed meanwhile."""
        await self._rt.disconnect("disconnected")

    def events(self) -> AsyncIterator[ChatEvent]:
        """Every event, in order, from the client's creation on (nothing is lost before
        you start iterating). The iteration ends when the live connection ends for good
        (closed, logged out, refused); one consumer at a time."""
        return self._dispatcher.stream()

    def on(self, kind: type[E]) -> Callable[[Callback[E]], Callback[E]]:
        """Decorator: call the function (sync or async) with each event of ``kind``
        (a subclass of ``ChatEvent``; ``ChatEvent`` itself for all), in order."""
        def register(callback: Callback[E]) -> Callback[E]:
            self._dispatcher.add(kind, callback)
            return callback
        return register

    def off(self, kind: type[E], callback: Callback[E]) -> None:
        """Stop calling ``callback`` for ``kind``."""
        self._dispatcher.remove(kind, callback)

    # --- account --------------------------------------------------------------------

    async def register(self, first_name: str, last_name: str, email: str, password: str, *,
                       notification_token: str | None = None) -> User:
        """Create an account and log this device in."""
        body: dict[str, Any] = {"firstName": first_name, "lastName": last_name, "email": email,
                                "password": password}
        if notification_token is not None:
            body["notificationToken"] = notification_token
        return await self._start_session(await self._rest.request("POST", Rest.REGISTER, json=body))

    async def login(self, email: str, password: str, *, notification_token: str | None = None) -> User:
        """Log this device in; the token is kept for REST and the live connection."""
        body: dict[str, Any] = {"email": email, "password": password}
        if notification_token is not None:
            body["notificationToken"] = notification_token
        return await self._start_session(await self._rest.request("POST", Rest.LOGIN, json=body))

    async def _start_session(self, reply: dict[str, Any]) -> User:
        session = Session.from_wire(reply.get("data"))
        if self._rest.token is not None:  # another session before: its stream and ledger end here
            await self._rt.disconnect("new session")
        self._rt.ledger.reset()
        self._rest.token = session.token
        self.user, self.token_expires_at = session.user, session.expires_at
        if self._realtime:
            await self.connect()
        return session.user

    async def logout(self) -> None:
        """End this device's session: its token stops working, the live connection closes."""
        try:
            await self._rest.request("POST", Rest.LOG_OUT)
        except AuthError:
            pass  # the session had ended already: logged out all the same
        await self._rt.disconnect("logged out")
        self._rest.token = None
        self.user = None
        self.token_expires_at = None

    async def change_password(self, current_password: str, new_password: str) -> User:
        """Change the password: every other session ends; this one continues with the new
        token the server returns (the live connection comes back with it)."""
        async with self._rt.renewing():
            reply = await self._rest.request("PATCH", Rest.CHANGE_PASSWORD, json={
                "currentPassword": current_password, "newPassword": new_password})
            session = Session.from_wire(reply.get("data"))
            self._rest.token = session.token
        self.user, self.token_expires_at = session.user, session.expires_at
        return session.user

    async def me(self) -> User:
        self.user = User.from_wire((await self._rest.request("GET", Rest.ME)).get("data"))
        return self.user

    # --- reading --------------------------------------------------------------------

    async def users(self, search: str | None = None, *, page: int = 1, limit: int = 20) -> Page[DirectoryEntry]:
        """The directory: other active users, by name; ``search`` matches the start of a
        word of the name, or of the email."""
        body = await self._rest.request("GET", Rest.CHAT_USERS, params={"search": search, "page": page,
                                                                         "limit": limit})
        return Page.from_wire(body, DirectoryEntry.from_wire)

    async def chats(self, search: str | None = None, *, page: int = 1, limit: int = 20,
                    messages: int = 1) -> Page[Chat]:
        """My chats, newest activity first, each with its last ``messages`` messages.
        (Listing marks my waiting messages delivered, as the contract says.)"""
        body = await self._rest.request("GET", Rest.CHATS, params={"search": search, "page": page, "limit": limit,
                                                                    "noOfMessages": messages})
        return Page.from_wire(body, Chat.from_wire)

    async def chat(self, chat_id: str, *, messages: int = 20) -> Chat:
        """One chat with its latest ``messages`` messages (changes no receipt)."""
        body = await self._rest.request("GET", Rest.CHAT.format(id=chat_id), params={"noOfMessages": messages})
        return Chat.from_wire(body.get("data"))

    async def messages(self, chat_id: str, *, search: str | None = None, since: datetime | None = None,
                       until: datetime | None = None, page_size: int = 50) -> AsyncIterator[Message]:
        """Every visible message of a chat, newest first, fetched a page at a time as you
        iterate. The first page fixes the end, so messages arriving meanwhile neither
        shift the pages nor repeat. (Reading marks my incoming messages read.)"""
        page, end = 1, until
        seen: set[str] = set()
        while True:
            params = {"page": page, "limit": page_size, "search": search,
                      "startDate": iso(since) if since else None, "endDate": iso(end) if end else None}
            body = await self._rest.request("GET", Rest.CHAT_MESSAGES.format(id=chat_id), params=params)
            listing = Page.from_wire(body, Message.from_wire)
            if end is None and listing.items:
                end = listing.items[0].created_at
            for message in listing:
                if message.id not in seen:
                    seen.add(message.id)
                    yield message
            if not listing.has_next:
                return
            page += 1

    async def download(self, url: str) -> Media:
        """An image message's bytes, from its ``content`` URL."""
        return await self._rest.download(url)

    async def health(self) -> bool:
        """Whether the server and its database answer (``/healthz``)."""
        try:
            body = await self._rest.request("GET", Rest.HEALTHZ)
        except ServiceUnavailable:
            return False
        return body.get("status") == "ok"

    # --- writing --------------------------------------------------------------------

    async def send(self, text: str, *, chat_id: str | None = None, to: str | None = None,
                   client_id: str | None = None, type: Literal["text", "image"] = "text") -> Message:
        """Send a message into ``chat_id`` or to the user ``to`` (opening our chat); returns
        it as stored. Waits through reconnections; sending again with the same
        ``client_id`` (e.g. after ``Timeout``) stores it at most once."""
        if (chat_id is None) == (to is None):
            raise BadRequest(Sentence.ONE_TARGET, 400)
        payload: dict[str, Any] = {"content": text, "clientId": client_id or uuid.uuid4().hex}
        if chat_id is not None:
            payload["chatId"] = chat_id
        else:
            payload["otherUserId"] = to
        if type != "text":
            payload["type"] = type
        return await self._rt.send(payload)

    async def send_images(self, images: Sequence[Image], *, chat_id: str | None = None,
                          to: str | None = None) -> list[Message]:
        """Upload 1 to 4 images (bytes or file paths), one image message each, all or
        nothing; returns the messages oldest first."""
        if (chat_id is None) == (to is None):
            raise BadRequest("Give exactly one of chatId and receiverId", 400)
        files = [("media", (name, data, "application/octet-stream")) for name, data in await _read_images(images)]
        fields = {"chatId": chat_id} if chat_id is not None else {"receiverId": to or ""}
        body = await self._rest.request("POST", Rest.CHATS, data=fields, files=files)
        if body.get("chat") is not None:
            return list(reversed(Chat.from_wire(body["chat"]).messages))
        return [Message.from_wire(m) for m in body.get("messages") or []]

    async def block(self, user_id: str) -> BlockState:
        return BlockState.from_wire((await self._rest.request("POST", Rest.BLOCK.format(id=user_id))).get("data"))

    async def unblock(self, user_id: str) -> BlockState:
        return BlockState.from_wire((await self._rest.request("POST", Rest.UNBLOCK.format(id=user_id))).get("data"))

    async def clear(self, chat_id: str) -> bool:
        """Clear a chat for me; True if that deleted it for good (the other user had cleared it)."""
        reply = await self._rest.request("PATCH", Rest.CLEAR_CHAT.format(id=chat_id))
        return flag(obj(reply.get("data"), "data"), "deleted")

    # --- live actions ---------------------------------------------------------------

    async def join(self, chat_id: str) -> None:
        """I am viewing this chat: its incoming messages become read. Kept across reconnects."""
        if not self._rt.active:
            raise ConnectionLost(Sentence.NOT_CONNECTED)
        self._rt.state.joined.add(chat_id)
        if not self._rt.connected:
            return  # joined again when the connection is restored
        try:
            await self._rt.call(Event.JOIN_CHAT, {"chatId": chat_id})
        except BaseException:
            self._rt.state.joined.discard(chat_id)
            raise

    async def leave(self, chat_id: str) -> None:
        """I stopped viewing this chat."""
        self._rt.state.joined.discard(chat_id)
        if self._rt.connected:
            await self._rt.call(Event.LEAVE_CHAT, {"chatId": chat_id})

    async def typing(self, chat_id: str) -> None:
        await self._rt.call(Event.TYPING, {"chatId": chat_id})

    async def stop_typing(self, chat_id: str) -> None:
        await self._rt.call(Event.STOP_TYPING, {"chatId": chat_id})

    async def mark_delivered(self, message_id: str) -> None:
        """My device has this message (and every earlier one of its chat)."""
        await self._rt.call(Event.MESSAGE_DELIVERED, {"messageId": message_id})


async def _read_images(images: Sequence[Image]) -> list[tuple[str, bytes]]:
    """Each image as (file name, bytes); files are read off the event loop."""
    read: list[tuple[str, bytes]] = []
    for number, image in enumerate(images, 1):
        if isinstance(image, bytes | bytearray):
            read.append((f"image-{number}", bytes(image)))
        else:
            path = Path(image)
            read.append((path.name, await asyncio.to_thread(path.read_bytes)))
    return read
