"""What the server's replies hold, as frozen dataclasses: ids as ``str``, times as aware ``datetime``.

Each model is built from wire JSON once, where the reply arrives (``from_wire``), so
the rest of a program never sees camelCase keys or ISO strings. Models are frozen:
they are facts the server stated at one moment, safe to share between tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from chatkit.client import _wire as w
from chatkit.client._exceptions import ProtocolError

T = TypeVar("T")

MessageType = Literal["text", "image", "Label"]
_TYPES: frozenset[str] = frozenset({"text", "image", "Label"})


@dataclass(frozen=True)
class User:
    """The account, as its owner sees it (``register``, ``login``, ``me``)."""

    id: str
    first_name: str
    last_name: str
    full_name: str
    email: str
    profile_picture: str | None
    lang: str | None
    is_active: bool
    is_blocked: bool
    blocked_users: frozenset[str]
    password_changed_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_wire(cls, data: Any) -> User:
        d = w.obj(data, "user")
        return cls(
            id=w.text(d, "_id"), first_name=w.text(d, "firstName"), last_name=w.text(d, "lastName"),
            full_name=w.text(d, "fullName"), email=w.text(d, "email"),
            profile_picture=w.opt_text(d, "profilePicture"), lang=w.opt_text(d, "lang"),
            is_active=w.flag(d, "isActive", True), is_blocked=w.flag(d, "isBlocked", False),
            blocked_users=frozenset(str(u) for u in w.items(d.get("blockedUsers", []), "blockedUsers")),
            password_changed_at=w.opt_time(d, "passwordChangedAt"),
            created_at=w.opt_time(d, "createdAt"), updated_at=w.opt_time(d, "updatedAt"),
        )


@dataclass(frozen=True)
class Session:
    """A logged-in device: the account and the token the client keeps for REST and the socket."""

    user: User
    token: str
    expires_at: datetime

    @classmethod
    def from_wire(cls, data: Any) -> Session:
        d = w.obj(data, "data")
        return cls(User.from_wire(d), w.text(d, "token"), w.time(d, "tokenExpDate"))

    def __repr__(self) -> str:  # never print a token
        return f"Session(user={self.user.email!r}, expires_at={self.expires_at.isoformat()!r})"


@dataclass(frozen=True)
class Message:
    """A message as this user sees it (``is_mine``: I sent it).

    ``sender`` is always an id (``new-chat`` sends an object; its name is on the
    event). ``content`` of an ``image`` is a URL (:meth:`ChatClient.download`); of a
    ``Label``, ``"blocked"`` or ``"unblocked"``.
    """

    id: str
    chat_id: str
    sender_id: str
    receiver_id: str | None
    content: str
    type: MessageType
    is_delivered: bool
    is_read: bool
    created_at: datetime
    updated_at: datetime | None
    is_mine: bool
    client_id: str | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Message:
        d = w.obj(data, "message")
        kind = w.text(d, "type")
        if kind not in _TYPES:
            raise ProtocolError(f"type must be text, image or Label, got {kind!r:.40}")
        return cls(
            id=w.text(d, "_id"), chat_id=w.text(d, "chat"), sender_id=w.ref_id(d, "sender"),
            receiver_id=w.opt_ref_id(d, "receiver"), content=w.text(d, "content"),
            type=kind,  # type: ignore[arg-type]  # checked against _TYPES just above
            is_delivered=w.flag(d, "isDelivered"), is_read=w.flag(d, "isRead"),
            created_at=w.time(d, "createdAt"), updated_at=w.opt_time(d, "updatedAt"),
            is_mine=w.flag(d, "isMyMsg"), client_id=w.opt_text(d, "clientId"),
        )

    @property
    def order(self) -> tuple[datetime, str]:
        """The server's order of messages: ``createdAt``, then id."""
        return self.created_at, self.id


@dataclass(frozen=True)
class Peer:
    """The other participant of a chat. ``is_active`` / ``is_online`` come with REST replies
    only (``None`` in ``new-chat``)."""

    id: str
    full_name: str
    profile_picture: str | None
    is_active: bool | None = None
    is_online: bool | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Peer:
        d = w.obj(data, "to")
        return cls(id=w.text(d, "_id"), full_name=w.text(d, "fullName"),
                   profile_picture=w.opt_text(d, "profilePicture"),
                   is_active=w.opt_flag(d, "isActive"), is_online=w.opt_flag(d, "isOnline"))


@dataclass(frozen=True)
class BlockState:
    """Blocks between me and another user, as I see them (``blocked``: either way)."""

    blocked: bool
    blocked_by_me: bool
    blocked_by_other: bool

    @classmethod
    def from_wire(cls, data: Any) -> BlockState:
        d = w.obj(data, "block flags")
        return cls(w.flag(d, "blocked"), w.flag(d, "blockedByMe"), w.flag(d, "blockedByOtherUser"))


@dataclass(frozen=True)
class Chat:
    """A chat as I see it. ``messages`` are the latest ones, newest first. Listings add
    ``unread_count`` and ``last_message_at``; ``GET /chats/:id`` leaves them ``None``."""

    id: str
    to: Peer
    block: BlockState
    messages: tuple[Message, ...]
    unread_count: int | None = None
    last_message_at: datetime | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Chat:
        d = w.obj(data, "chat")
        unread = d.get("unreadMessagesCount")
        return cls(
            id=w.text(d, "_id"), to=Peer.from_wire(d.get("to")), block=BlockState.from_wire(d),
            messages=tuple(Message.from_wire(m) for m in w.items(d.get("messages"), "messages")),
            unread_count=None if unread is None else w.number(d, "unreadMessagesCount"),
            last_message_at=w.opt_time(d, "lastMessageCreatedAt"),
        )


@dataclass(frozen=True)
class DirectoryEntry:
    """Another user in the directory (``GET /chats/users``), someone I may write to."""

    id: str
    first_name: str
    last_name: str
    full_name: str
    profile_picture: str | None
    is_active: bool
    is_online: bool

    @classmethod
    def from_wire(cls, data: Any) -> DirectoryEntry:
        d = w.obj(data, "user")
        return cls(id=w.text(d, "_id"), first_name=w.text(d, "firstName"), last_name=w.text(d, "lastName"),
                   full_name=w.text(d, "fullName"), profile_picture=w.opt_text(d, "profilePicture"),
                   is_active=w.flag(d, "isActive", True), is_online=w.flag(d, "isOnline", False))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; iterating it gives its items. ``pages`` is 0 for no results."""

    items: tuple[T, ...]
    total: int
    page: int
    pages: int
    limit: int

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @classmethod
    def from_wire(cls, body: Any, item: Callable[[Any], T]) -> Page[T]:
        b = w.obj(body, "reply")
        p = w.obj(b.get("pagination"), "pagination")
        return cls(items=tuple(item(x) for x in w.items(b.get("data"), "data")),
                   total=w.number(p, "totalResults"), page=w.number(p, "page"),
                   pages=w.number(p, "totalPages"), limit=w.number(p, "limit"))


@dataclass(frozen=True)
class Media:
    """An image's bytes and their type (``image/png``, ...), as ``download`` fetched them."""

    content: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"Media({self.content_type!r}, {len(self.content)} bytes)"
