"""The shape of every stored document, and of the records that storage's joins return.

One ``TypedDict`` per collection, as MongoDB holds it (field names are the contract's,
camelCase). ``total=False`` where a field may be absent: documents written by the
original Node.js backend lack chatkit's additions (``pairKey``, ``receiver``, ...), and
projections return only what they ask for. Queries and updates stay plain mappings
(``Query``); what comes back is typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict

from bson import ObjectId

Query = dict[str, Any]
"""A filter, update or projection document handed to PyMongo."""

MessageType = Literal["text", "image", "Label"]


class UserDoc(TypedDict, total=False):
    _id: ObjectId
    firstName: str
    lastName: str
    email: str
    password: str  # bcrypt hash
    passwordChangedAt: datetime | None
    isActive: bool
    isBlocked: bool  # banned by an operator
    blockedUsers: list[ObjectId]  # users THIS user blocked
    profilePicture: str | None
    lang: str
    isVerified: bool  # False only for an account waiting for its email code; absent means verified
    searchKeys: list[str]
    createdAt: datetime
    updatedAt: datetime
    # left by the original backend until first use (see Accounts._adopt_legacy_token)
    token: str
    notificationToken: str


class SessionDoc(TypedDict, total=False):
    _id: ObjectId
    userId: ObjectId
    tokenHash: str  # SHA-256 of the token: the database never holds a usable token
    createdAt: datetime
    expiresAt: datetime
    revokedAt: datetime | None
    notificationToken: str
    passwordResetUntil: datetime  # opened by an emailed code: may set a password without the old one


class ChatDoc(TypedDict, total=False):
    _id: ObjectId
    participants: list[ObjectId]
    pairKey: str
    clearedBy: ObjectId | None
    clearedAt: datetime | None
    lastMessageAt: datetime | None
    blocksChangedAt: datetime  # when either user last blocked or unblocked the other
    createdAt: datetime
    updatedAt: datetime


class MessageDoc(TypedDict, total=False):
    _id: ObjectId
    chat: ObjectId
    sender: ObjectId
    receiver: ObjectId
    content: str
    type: MessageType
    isDelivered: bool
    isRead: bool
    clientId: str
    media: ObjectId  # image messages: the stored file (``content`` is its canonical path)
    createdAt: datetime
    updatedAt: datetime


class PushDoc(TypedDict, total=False):
    """One notification in the outbox (see ``chatkit.domain.push``): queued, then claimed
    by a sender (``sending``), then ``sent`` or ``failed``; or only ``recorded`` where
    no Firebase credentials are configured. Older documents lack the delivery fields."""

    _id: ObjectId
    userId: ObjectId
    chatId: ObjectId
    tokens: list[str]  # the devices still to deliver to (emptied once settled)
    tokenCount: int  # devices it was meant for when queued
    title: str
    body: str
    image: str | None
    data: dict[str, str]
    status: str
    count: int  # messages it stands for (later ones of the same chat merged in)
    messageAt: datetime  # when the message whose text it shows was sent (the newest merged in)
    attempts: int
    dueAt: datetime  # when a sender may (re)claim it: queued, retry, or a lapsed claim
    claim: ObjectId  # the sender attempt holding it while ``sending``
    lastAttemptAt: datetime
    delivered: int  # devices that got it
    removed: int  # devices whose token FCM reported unregistered or invalid (token dropped)
    rejected: int  # devices FCM refused it for otherwise
    reason: str | None  # why it failed, or why the last attempt did
    createdAt: datetime
    updatedAt: datetime
    finishedAt: datetime


class MailDoc(TypedDict, total=False):
    """One account mail in the outbox (see ``chatkit.domain.mail``): ``queued``, claimed by
    a sender (``sending``), then ``sent`` or ``failed``. The bodies hold a one-time code,
    so they are erased once the mail is settled."""

    _id: ObjectId
    to: str
    subject: str
    text: str
    html: str
    kind: str  # what it is for: "verify", "sign-in", "exists"
    status: str
    attempts: int
    dueAt: datetime  # when a sender may (re)claim it
    expiresAt: datetime  # the code in it is dead after this: no point sending it later
    claim: ObjectId
    lastAttemptAt: datetime
    reason: str | None
    createdAt: datetime
    updatedAt: datetime
    finishedAt: datetime


class CodeDoc(TypedDict, total=False):
    """A one-time code mailed to an address (``chatkit.domain.codes``): only its keyed
    hashes are stored. Kept (dead) past its use or expiry until ``purgeAt``, a TTL index,
    so that the codes mailed to an address in the last hour can be counted."""

    _id: ObjectId
    email: str
    purpose: str  # "verify" (account email) or "sign-in" (send-otp)
    userId: ObjectId | None  # None: a request for an address with no account (counted, nothing mailed)
    hash: str  # HMAC of purpose, email and code
    bareHash: str  # HMAC of purpose and code alone: ``verify-otp {otp}`` without an email
    tries: int  # wrong guesses so far
    createdAt: datetime
    expiresAt: datetime
    usedAt: datetime | None
    purgeAt: datetime


class RelayDoc(TypedDict, total=False):
    """A real-time event written by a process without sockets, for a server to emit."""

    _id: ObjectId
    to: ObjectId | None  # None: every connected socket
    event: str
    payload: Any
    createdAt: datetime


# --- records that joins and aggregations return ------------------------------------


@dataclass(frozen=True)
class ChatWithParticipants:
    """A chat and its two participants' user documents (as projected), in one read."""

    chat: ChatDoc
    users: dict[ObjectId, UserDoc]


@dataclass(frozen=True)
class ChatListingRow:
    """One chat of a user's listing page."""

    chat: ChatDoc
    peer: UserDoc  # the other participant
    last_messages: list[MessageDoc]  # newest first, only those visible to the user
    unread_count: int  # all unread incoming messages visible to the user


@dataclass(frozen=True)
class PendingDelivery:
    """The newest message of one chat that is not yet delivered to its receiver."""

    chat_id: ObjectId
    message_id: ObjectId
    sender: ObjectId
    created_at: datetime
