"""Exactly once: which messages the consumer was given, and finding those a gap hid.

The live stream has gaps: events the server emits while a connection is down are
lost. The :class:`Ledger` remembers every message handed to the consumer (by id)
and, per chat, the newest one; after a reconnect :func:`catch_up` reads the chat
listing (each chat's newest message, ``Label`` lines included), fetches the chats
whose newest message was not seen (or that were busy when the line dropped), and
returns the unseen messages oldest first. Live events held during the catch-up are
then checked against the same ledger, so each message reaches the consumer once.

At the first connection of a session the ledger takes a *baseline* instead: every
chat's newest message then is history (read it with ``chats()`` / ``messages()``),
never replayed as an event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from chatkit.client._events import ChatEvent, ChatOpened, MessageReceived
from chatkit.client._exceptions import NotFound
from chatkit.client._models import Chat, Message, Page
from chatkit.client._rest import RestApi
from chatkit.client._wire import iso
from chatkit.protocol import Rest

Order = tuple[datetime, str]
_NEVER: Order = (datetime.min.replace(tzinfo=UTC), "")

# Messages of one chat are not emitted in strict createdAt order (two senders' handlers
# race), so after a drop a chat is searched this far back from the newest message seen.
MARGIN = timedelta(seconds=5)
SEEN_MAX = 50_000  # ids remembered; far more than any gap can hold
PAGE = 100  # the server's largest page


class Ledger:
    """What the consumer was given, per session (reset when the session changes)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.floor: dict[str, Order] = {}  # per chat: the newest message that is history
        self.last: dict[str, Order] = {}  # per chat: the newest message given
        self.epoch: datetime | None = None  # the newest history message of all
        self.ready = False  # a baseline was taken

    def admit(self, message: Message) -> bool:
        """Record ``message`` as given; False if it was given before (drop it)."""
        if message.id in self._seen:
            return False
        self._seen[message.id] = None
        if len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        if message.order > self.last.get(message.chat_id, _NEVER):
            self.last[message.chat_id] = message.order
        return True

    def take_baseline(self, chats: Iterable[Chat]) -> None:
        for chat in chats:
            if chat.messages:
                newest = chat.messages[0].order
                self.floor[chat.id] = max(newest, self.floor.get(chat.id, _NEVER))
                if self.epoch is None or newest[0] > self.epoch:
                    self.epoch = newest[0]
        self.ready = True

    def known(self, chat_id: str) -> bool:
        return chat_id in self.floor or chat_id in self.last

    def wanted(self, message: Message) -> bool:
        """Not given yet and not history. In a chat never seen this session, only messages
        from about the baseline on count (older ones are history that was hidden then,
        e.g. the chat of a deactivated user)."""
        if message.id in self._seen or message.order <= self.floor.get(message.chat_id, _NEVER):
            return False
        if self.known(message.chat_id) or self.epoch is None:
            return True
        return message.created_at >= self.epoch - MARGIN

    def needs_look(self, chat: Chat) -> bool:
        """Whether a chat of the listing may hold messages the gap hid."""
        if not chat.messages:
            return False
        if self.wanted(chat.messages[0]):
            return True
        last = self.last.get(chat.id)
        horizon = max((t for t, _ in self.last.values()), default=None)
        return last is not None and horizon is not None and last[0] >= horizon - MARGIN

    def search_from(self, chat_id: str) -> datetime | None:
        """How far back to fetch a chat after a gap (None: its whole visible history)."""
        if chat_id in self.last:
            return self.last[chat_id][0] - MARGIN
        if chat_id in self.floor:
            return self.floor[chat_id][0]
        return None if self.epoch is None else self.epoch - MARGIN


async def all_chats(rest: RestApi) -> list[Chat]:
    """Every chat of the listing with its newest message (``Label`` lines included)."""
    chats: list[Chat] = []
    page = 1
    while True:
        body = await rest.request("GET", Rest.CHATS, params={"page": page, "limit": PAGE, "noOfMessages": 1})
        listing = Page.from_wire(body, Chat.from_wire)
        chats += listing.items
        if not listing.has_next:
            return chats
        page += 1


async def catch_up(rest: RestApi, ledger: Ledger, my_name: str | None) -> list[ChatEvent]:
    """The messages a gap hid, as ``recovered`` events, oldest first."""
    found: list[tuple[Order, ChatEvent]] = []
    for chat in await all_chats(rest):
        if not ledger.needs_look(chat):
            continue
        try:
            messages, complete = await _messages_since(rest, chat.id, ledger.search_from(chat.id))
        except NotFound:  # deleted by a clear in the meantime
            continue
        fresh = [m for m in messages if ledger.wanted(m)]
        # A chat this session never saw, whose every visible message is new: for this
        # user it opened during the gap, so its first message comes as ``new-chat`` would.
        opened = not ledger.known(chat.id) and complete and len(fresh) == len(messages)
        for i, message in enumerate(fresh):
            event: ChatEvent
            if i == 0 and opened:
                event = ChatOpened(
                    chat_id=chat.id, to=chat.to, message=message,
                    sender_name=my_name if message.is_mine else chat.to.full_name,
                    unread_count=0 if message.is_mine or message.is_read else 1,
                    blocked=chat.block.blocked, recovered=True,
                )
            else:
                event = MessageReceived(message, recovered=True)
            found.append((message.order, event))
    found.sort(key=lambda pair: pair[0])
    return [event for _, event in found]


async def _messages_since(rest: RestApi, chat_id: str, start: datetime | None) -> tuple[list[Message], bool]:
    """A chat's visible messages from ``start`` on (at least), oldest first, and whether
    they are its whole visible history.

    ``GET /chats/:id`` comes first because it changes no receipt; only a gap of more
    than a page falls back to paging ``/messages``, which marks incoming ones read.
    """
    body = await rest.request("GET", Rest.CHAT.format(id=chat_id), params={"noOfMessages": PAGE})
    latest = list(Chat.from_wire(body.get("data")).messages)
    if len(latest) < PAGE:
        return latest[::-1], True
    if start is not None and latest[-1].created_at < start:
        return latest[::-1], False
    collected: dict[str, Message] = {}
    page = 1
    while True:
        params: dict[str, str | int] = {"page": page, "limit": PAGE}
        if start is not None:
            params["startDate"] = iso(start)
        listing = Page.from_wire(await rest.request("GET", Rest.CHAT_MESSAGES.format(id=chat_id), params=params),
                                 Message.from_wire)
        collected.update((m.id, m) for m in listing)
        if not listing.has_next:
            return sorted(collected.values(), key=lambda m: m.order), start is None
        page += 1
