"""Everything the server tells a client, as typed events: one frozen dataclass per wire event.

Names read as the contract's words: ``message`` is :class:`MessageReceived`,
``new-chat`` is :class:`ChatOpened`, and so on. :class:`Connected` and
:class:`Disconnected` are the client's own: they say when the live stream holds and
when it has a gap (which the client fills after a reconnect, see ``ChatClient``).
All derive from :class:`ChatEvent`, so ``@client.on(ChatEvent)`` sees every one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit.client import _wire as w
from chatkit.client._exceptions import ProtocolError
from chatkit.client._models import Message, Peer
from chatkit.protocol import Event


@dataclass(frozen=True)
class ChatEvent:
    """The base of every event."""


@dataclass(frozen=True)
class MessageReceived(ChatEvent):
    """``message``: a message stored in one of my chats, mine or the other user's.

    ``recovered`` is true when the client fetched it after a reconnect, because the
    live event was lost with the connection.
    """

    message: Message
    recovered: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> MessageReceived:
        return cls(Message.from_wire(data))


@dataclass(frozen=True)
class ChatOpened(ChatEvent):
    """``new-chat``: the first message of a chat that I can see (a new chat, or the first
    after I cleared it). ``to`` is the other participant."""

    chat_id: str
    to: Peer
    message: Message
    sender_name: str | None
    unread_count: int
    blocked: bool = False
    recovered: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> ChatOpened:
        d = w.obj(data, "new-chat")
        messages = w.items(d.get("messages"), "messages")
        if len(messages) != 1:
            raise ProtocolError(f"new-chat must carry one message, got {len(messages)}")
        first = w.obj(messages[0], "message")
        sender = first.get("sender")
        return cls(
            chat_id=w.text(d, "_id"), to=Peer.from_wire(d.get("to")), message=Message.from_wire(first),
            sender_name=w.opt_text(sender, "fullName") if isinstance(sender, dict) else None,
            unread_count=w.number(d, "unreadMessagesCount", 0), blocked=w.flag(d, "blocked", False),
        )


@dataclass(frozen=True)
class MessageDelivered(ChatEvent):
    """``message-delivered``: my messages in the chat up to this one reached the other user's device."""

    chat_id: str
    message_id: str
    message_time: datetime

    @classmethod
    def from_wire(cls, data: Any) -> MessageDelivered:
        d = w.obj(data, "message-delivered")
        return cls(w.text(d, "chatId"), w.text(d, "messageId"), w.time(d, "messageTime"))


@dataclass(frozen=True)
class MessagesSeen(ChatEvent):
    """``messages-seen``: the other user read my messages in the chat up to ``seen_time``."""

    chat_id: str
    seen_time: datetime

    @classmethod
    def from_wire(cls, data: Any) -> MessagesSeen:
        d = w.obj(data, "messages-seen")
        return cls(w.text(d, "chatId"), w.time(d, "seenTime"))


@dataclass(frozen=True)
class Typing(ChatEvent):
    """``typing``: the other user of the chat is typing."""

    chat_id: str
    user_id: str
    user_name: str

    @classmethod
    def from_wire(cls, data: Any) -> Typing:
        d = w.obj(data, "typing")
        return cls(w.text(d, "chatId"), w.text(d, "userId"), w.text(d, "userName"))


@dataclass(frozen=True)
class StoppedTyping(ChatEvent):
    """``stop-typing``: the other user of the chat stopped typing."""

    chat_id: str
    user_id: str
    user_name: str

    @classmethod
    def from_wire(cls, data: Any) -> StoppedTyping:
        d = w.obj(data, "stop-typing")
        return cls(w.text(d, "chatId"), w.text(d, "userId"), w.text(d, "userName"))


@dataclass(frozen=True)
class OnlineUsers(ChatEvent):
    """``online-users``: who is online among my contacts (and me); the client's ``online``
    is this set from now on."""

    user_ids: frozenset[str]

    @classmethod
    def from_wire(cls, data: Any) -> OnlineUsers:
        ids = w.items(data, "online-users")
        if not all(isinstance(i, str) for i in ids):
            raise ProtocolError("online-users must list user ids")
        return cls(frozenset(ids))


@dataclass(frozen=True)
class ErrorEvent(ChatEvent):
    """``error``: an event of mine failed (the method that sent it raises too), or the server
    is about to close the socket for the reason given."""

    message: str
    retryable: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> ErrorEvent:
        d = w.obj(data, "error")
        return cls(w.text(d, "message"), d.get("retryable") is True)


@dataclass(frozen=True)
class Connected(ChatEvent):
    """The live stream holds. After a reconnect (``reconnected``), the messages missed in
    the gap follow as ``recovered`` events, before any newer live event."""

    reconnected: bool = False


@dataclass(frozen=True)
class Disconnected(ChatEvent):
    """The live stream broke. ``reconnecting``: the client is restoring it with backoff;
    otherwise it is over (closed, logged out, or refused with ``reason``)."""

    reason: str
    reconnecting: bool


PARSERS: dict[str, Callable[[Any], ChatEvent]] = {
    Event.MESSAGE: MessageReceived.from_wire,
    Event.NEW_CHAT: ChatOpened.from_wire,
    Event.MESSAGE_DELIVERED: MessageDelivered.from_wire,
    Event.MESSAGES_SEEN: MessagesSeen.from_wire,
    Event.TYPING: Typing.from_wire,
    Event.STOP_TYPING: StoppedTyping.from_wire,
    Event.ONLINE_USERS: OnlineUsers.from_wire,
    Event.ERROR: ErrorEvent.from_wire,
}
