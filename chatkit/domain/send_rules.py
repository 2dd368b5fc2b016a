"""Who may write to whom, and the message a send stores: shared by a send's first look
at its chat and by the group commit's second look when the chat changed meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId

from chatkit.domain.access import other_participant
from chatkit.domain.errors import Forbidden, NotFound
from chatkit.domain.presence import Presence
from chatkit.domain.views import block_flags
from chatkit.protocol import Sentence
from chatkit.storage.documents import ChatDoc, ChatWithParticipants, MessageDoc, MessageType, UserDoc


@dataclass(frozen=True)
class Draft:
    """A message about to be stored."""

    content: str
    type: MessageType
    client_id: str | None = None
    media: ObjectId | None = None


@dataclass(frozen=True)
class OpenChat:
    """A chat that ``sender`` may write to ``receiver`` in, right now."""

    chat: ChatDoc
    sender: UserDoc
    receiver: UserDoc


def permitted(sender_id: ObjectId, receiver_id: ObjectId, users: dict[ObjectId, UserDoc]) -> tuple[UserDoc, UserDoc]:
    """(sender, receiver) if ``sender_id`` may write to ``receiver_id``; else the refusal."""
    sender, receiver = users.get(sender_id), users.get(receiver_id)
    if sender is None or receiver is None:
        raise NotFound(Sentence.USER_NOT_FOUND)
    if receiver.get("isActive") is False or receiver.get("isBlocked"):
        raise Forbidden(Sentence.USER_UNAVAILABLE)
    if block_flags(sender, receiver)["blocked"]:
        raise Forbidden(Sentence.BLOCKED)
    return sender, receiver


def open_in(found: ChatWithParticipants, sender_id: ObjectId) -> OpenChat:
    """The chat as read, if ``sender_id`` (a participant) may write in it now."""
    sender, receiver = permitted(sender_id, other_participant(found.chat, sender_id), found.users)
    return OpenChat(found.chat, sender, receiver)


def new_message(opened: OpenChat, draft: Draft, t: datetime, presence: Presence) -> MessageDoc:
    """The document to store: delivered if the receiver is online, read if they view the chat."""
    receiver_id = opened.receiver["_id"]
    viewing = presence.is_viewing(str(receiver_id), str(opened.chat["_id"]))
    online = viewing or presence.is_online(str(receiver_id))
    doc: MessageDoc = {
        "_id": ObjectId(), "chat": opened.chat["_id"], "sender": opened.sender["_id"], "receiver": receiver_id,
        "content": draft.content, "type": draft.type, "isDelivered": online, "isRead": viewing,
        "createdAt": t, "updatedAt": t,
    }
    if draft.client_id is not None:
        doc["clientId"] = draft.client_id
    if draft.media is not None:
        doc["media"] = draft.media
    return doc
