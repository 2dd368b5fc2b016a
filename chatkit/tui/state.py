"""What the terminal client knows, as plain Python: chats, messages, unread counts,
receipts, typing, presence, drafts and sends in flight.

Fed by ``chatkit.client`` (listings, pages and typed events) and read by the widgets,
it holds no widget and does no I/O, so every rule of the screen (what the badge
says, which tick a message has, what the list's order is) is tested without a
terminal. :meth:`AppState.apply` takes one event and says what it changed
(:class:`Change`), so the app redraws only that and rings only when it should.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatkit.client import (
    BlockState,
    Chat,
    ChatEvent,
    ChatOpened,
    Connected,
    Disconnected,
    ErrorEvent,
    Message,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    OnlineUsers,
    Peer,
    StoppedTyping,
    Typing,
    User,
)

_EPOCH = datetime.min.replace(tzinfo=UTC)


class Receipt(enum.Enum):
    """Where one of my messages stands, as its tick shows it."""

    SENDING = "sending"  # not acknowledged yet (waits through reconnections)
    FAILED = "failed"  # refused or timed out: stays in the log with a retry action
    SENT = "sent"  # stored by the server: ✓
    DELIVERED = "delivered"  # on the other user's device: ✓✓
    READ = "read"  # seen by the other user: ✓✓ in colour


class Link(enum.Enum):
    """The live connection, as the header shows it."""

    CONNECTING = "connecting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass
class Outgoing:
    """A message I sent that the server has not acknowledged (or refused)."""

    client_id: str
    chat_id: str
    text: str
    created_at: datetime
    error: str | None = None  # the server's sentence when it failed


@dataclass
class ChatState:
    """One chat as the client sees it."""

    id: str
    peer: Peer
    block: BlockState
    messages: dict[str, Message] = field(default_factory=dict)
    unread: int = 0
    last_at: datetime | None = None
    delivered_until: datetime = _EPOCH  # my messages up to here are on their device
    read_until: datetime = _EPOCH  # ... and up to here they have read
    typing: str | None = None  # the name of who is typing, while they are
    draft: str = ""
    outgoing: dict[str, Outgoing] = field(default_factory=dict)
    older_pages: bool = True  # older messages may exist beyond those loaded
    history_loaded: bool = False  # the newest page was fetched (not only the listing's preview)

    def timeline(self) -> list[Message | Outgoing]:
        """Messages oldest first, then my sends still in flight or failed."""
        stored = sorted(self.messages.values(), key=lambda m: m.order)
        pending = sorted(self.outgoing.values(), key=lambda o: o.created_at)
        return [*stored, *pending]

    def last(self) -> Message | None:
        if not self.messages:
            return None
        return max(self.messages.values(), key=lambda m: m.order)

    def oldest(self) -> Message | None:
        if not self.messages:
            return None
        return min(self.messages.values(), key=lambda m: m.order)

    def receipt(self, message: Message | Outgoing) -> Receipt:
        if isinstance(message, Outgoing):
            return Receipt.FAILED if message.error is not None else Receipt.SENDING
        if message.is_read or message.created_at <= self.read_until:
            return Receipt.READ
        if message.is_delivered or message.created_at <= self.delivered_until:
            return Receipt.DELIVERED
        return Receipt.SENT

    def activity(self) -> datetime:
        last = self.last()
        candidates = [t for t in (self.last_at, last.created_at if last else None) if t is not None]
        candidates += [o.created_at for o in self.outgoing.values()]
        return max(candidates, default=_EPOCH)

    def failed(self) -> list[Outgoing]:
        return [o for o in self.outgoing.values() if o.error is not None]

    def add(self, message: Message) -> None:
        self.messages[message.id] = message
        if message.client_id is not None:
            self.outgoing.pop(message.client_id, None)


@dataclass(frozen=True)
class Picture:
    """An image message's bytes, as the client downloaded them (or as I sent them)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Alert:
    """A message arrived in a chat that is not open: ring, toast and badge."""

    chat_id: str
    sender: str
    preview: str


@dataclass
class Change:
    """What one update changed, so the app redraws only that."""

    chats: set[str] = field(default_factory=set)  # chats whose log or row changed
    order: bool = False  # the chat list's rows changed
    presence: bool = False
    link: bool = False
    alert: Alert | None = None
    unknown_chat: str | None = None  # a message for a chat we do not know: fetch it
    session_over: str | None = None  # the server ended the session: back to the login screen
    error: str | None = None  # a server error to show


def preview(message: Message | None, peer_name: str) -> str:
    """One line for the chat list: the text, "image", or the Label line."""
    if message is None:
        return ""
    if message.type == "image":
        return "image"
    if message.type == "Label":
        return label_text(message, peer_name)
    return " ".join(message.content.split())


def label_text(message: Message, peer_name: str) -> str:
    """A ``Label`` line as a sentence: "You blocked Bob Ray", "Bob Ray unblocked you"."""
    if message.content not in ("blocked", "unblocked"):
        return message.content
    return f"You {message.content} {peer_name}" if message.is_mine else f"{peer_name} {message.content} you"


class AppState:
    """Everything the screen shows, for one logged-in account."""

    def __init__(self, me: User) -> None:
        self.me = me
        self.chats: dict[str, ChatState] = {}
        self.online: frozenset[str] = frozenset()
        self.open_chat: str | None = None
        self.link = Link.CONNECTING
        self.link_reason: str | None = None
        self.link_since: datetime | None = None
        self.closing = False  # we are hanging up ourselves: a Disconnected is not news

    # --- reading --------------------------------------------------------------------

    def ordered(self, search: str = "") -> list[ChatState]:
        """Chats newest activity first, those whose peer's name contains ``search``."""
        needle = search.casefold().strip()
        chats = [c for c in self.chats.values() if needle in c.peer.full_name.casefold()]
        return sorted(chats, key=lambda c: (c.activity(), c.id), reverse=True)

    def is_online(self, user_id: str) -> bool:
        return user_id in self.online

    def current(self) -> ChatState | None:
        return self.chats.get(self.open_chat) if self.open_chat else None

    def online_contacts(self) -> list[Peer]:
        """The peers of my chats who are online, by name."""
        peers = {c.peer.id: c.peer for c in self.chats.values() if c.peer.id in self.online}
        return sorted(peers.values(), key=lambda p: p.full_name.casefold())

    # --- feeding from REST ------------------------------------------------------------

    def load_chats(self, chats: Iterable[Chat]) -> None:
        """A listing: the server's word on each chat's unread count, block and preview."""
        for chat in chats:
            state = self._chat_from(chat)
            if chat.unread_count is not None:
                state.unread = 0 if chat.id == self.open_chat else chat.unread_count
            if chat.last_message_at is not None:
                state.last_at = chat.last_message_at
            if chat.to.is_online:
                self.online = self.online | {chat.to.id}

    def add_chat(self, chat: Chat) -> ChatState:
        """One chat fetched on its own (a message for a chat we did not list)."""
        state = self._chat_from(chat)
        if chat.id != self.open_chat:
            state.unread = sum(1 for m in chat.messages if not m.is_mine and not m.is_read)
        return state

    def _chat_from(self, chat: Chat) -> ChatState:
        state = self.chats.get(chat.id)
        if state is None:
            state = self.chats[chat.id] = ChatState(chat.id, chat.to, chat.block)
        else:
            state.peer, state.block = chat.to, chat.block
        for message in chat.messages:
            state.add(message)
        return state

    def add_history(self, chat_id: str, messages: Iterable[Message], *, more: bool) -> int:
        """A page of a chat's messages (any order); returns how many were new."""
        state = self.chats.get(chat_id)
        if state is None:
            return 0
        before = len(state.messages)
        for message in messages:
            state.add(message)
        state.older_pages = more
        state.history_loaded = True
        return len(state.messages) - before

    def set_block(self, chat_id: str, block: BlockState) -> None:
        if chat_id in self.chats:
            self.chats[chat_id].block = block

    def forget_chat(self, chat_id: str) -> None:
        """Cleared for me: its messages are gone from my view."""
        state = self.chats.get(chat_id)
        if state is not None:
            state.messages.clear()
            state.unread = 0
            state.older_pages = False

    # --- opening ----------------------------------------------------------------------

    def open(self, chat_id: str | None) -> None:
        """The chat on screen; opening it reads it (the client joins it)."""
        self.open_chat = chat_id
        if chat_id is not None and chat_id in self.chats:
            self.chats[chat_id].unread = 0

    # --- my sends -----------------------------------------------------------------------

    def sending(self, chat_id: str, client_id: str, text: str, now: datetime) -> Outgoing:
        out = Outgoing(client_id, chat_id, text, now)
        self.chats[chat_id].outgoing[client_id] = out
        return out

    def sent(self, message: Message) -> None:
        state = self.chats.get(message.chat_id)
        if state is not None:
            state.add(message)

    def send_failed(self, chat_id: str, client_id: str, reason: str) -> None:
        state = self.chats.get(chat_id)
        if state is not None and client_id in state.outgoing:
            state.outgoing[client_id].error = reason

    def retrying(self, chat_id: str, client_id: str) -> Outgoing | None:
        state = self.chats.get(chat_id)
        out = state.outgoing.get(client_id) if state else None
        if out is not None:
            out.error = None
        return out

    # --- feeding from events --------------------------------------------------------------

    def apply(self, event: ChatEvent) -> Change:
        """Take one ``chatkit.client`` event; say what changed."""
        change = Change()
        if isinstance(event, MessageReceived | ChatOpened):
            self._message(event, change)
        elif isinstance(event, MessageDelivered):
            state = self.chats.get(event.chat_id)
            if state is not None and event.message_time > state.delivered_until:
                state.delivered_until = event.message_time
                change.chats.add(state.id)
        elif isinstance(event, MessagesSeen):
            state = self.chats.get(event.chat_id)
            if state is not None and event.seen_time > state.read_until:
                state.read_until = event.seen_time
                state.delivered_until = max(state.delivered_until, event.seen_time)
                change.chats.add(state.id)
        elif isinstance(event, Typing | StoppedTyping):
            state = self.chats.get(event.chat_id)
            if state is not None and event.user_id != self.me.id:
                state.typing = event.user_name if isinstance(event, Typing) else None
                change.chats.add(state.id)
        elif isinstance(event, OnlineUsers):
            self.online = event.user_ids
            change.presence = change.order = True
            for state in self.chats.values():  # gone offline: their stop-typing may never come
                if state.typing is not None and state.peer.id not in self.online:
                    state.typing = None
                    change.chats.add(state.id)
        elif isinstance(event, Connected):
            self._set_link(Link.ONLINE, None)
            change.link = True
        elif isinstance(event, Disconnected):
            self.online = frozenset()
            change.link = change.presence = change.order = True
            for state in self.chats.values():
                state.typing = None
            if event.reconnecting:
                self._set_link(Link.RECONNECTING, event.reason)
            else:
                self._set_link(Link.OFFLINE, event.reason)
                if not self.closing:
                    change.session_over = event.reason
        elif isinstance(event, ErrorEvent):
            change.error = event.message
        return change

    def _set_link(self, link: Link, reason: str | None) -> None:
        if link != self.link:
            self.link_since = datetime.now(UTC)
        self.link, self.link_reason = link, reason

    def _message(self, event: MessageReceived | ChatOpened, change: Change) -> None:
        message = event.message
        state = self.chats.get(message.chat_id)
        if state is None:
            if not isinstance(event, ChatOpened):
                change.unknown_chat = message.chat_id
                return
            state = self.chats[message.chat_id] = ChatState(
                message.chat_id, event.to, BlockState(event.blocked, False, event.blocked))
        elif isinstance(event, ChatOpened):
            state.peer = event.to
        known = message.id in state.messages
        state.add(message)
        if message.type == "Label" and not known:
            state.block = _blocked_by(state.block, mine=message.is_mine, blocked=message.content == "blocked")
        if not message.is_mine:
            state.typing = None
        change.chats.add(state.id)
        change.order = True
        if known or message.is_mine or message.type == "Label":
            return
        if state.id != self.open_chat:
            state.unread += 1
            change.alert = Alert(state.id, state.peer.full_name, preview(message, state.peer.full_name))


def _blocked_by(block: BlockState, *, mine: bool, blocked: bool) -> BlockState:
    """The block flags after a ``Label`` line: who blocked or unblocked whom."""
    by_me = blocked if mine else block.blocked_by_me
    by_other = block.blocked_by_other if mine else blocked
    return BlockState(by_me or by_other, by_me, by_other)
