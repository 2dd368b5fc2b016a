"""Who may see what of a chat: "the chat, if I take part in it", and the clear cut-off.

Every handler that touches a chat on someone's behalf goes through ``ChatAccess``, so
the participant rule is written once.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from chatkit.domain.errors import NotFound
from chatkit.protocol import Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc


def other_participant(chat: ChatDoc, user_id: ObjectId) -> ObjectId:
    return next(p for p in chat["participants"] if p != user_id)


def cutoff(chat: ChatDoc, user_id: ObjectId) -> datetime | None:
    """``user_id`` sees only messages newer than this (their last clear), or all if None."""
    return chat.get("clearedAt") if chat.get("clearedBy") == user_id else None


def first_visible_for(before: ChatDoc) -> set[ObjectId]:
    """Participants for whom the message just recorded is their first visible one.

    ``before`` is the chat as it was before this message advanced ``lastMessageAt``.
    """
    last = before.get("lastMessageAt")
    first: set[ObjectId] = set()
    for p in before["participants"]:
        cut = cutoff(before, p)
        if last is None or (cut is not None and last <= cut):
            first.add(p)
    return first


def participant_of(chat: ChatDoc | None, user_id: ObjectId) -> ChatDoc:
    """The chat, if it exists and ``user_id`` takes part in it.

    An outsider hears exactly what a missing id gets, so chat ids cannot be probed.
    """
    if chat is None or user_id not in chat.get("participants", []):
        raise NotFound(Sentence.CHAT_NOT_FOUND)
    return chat


class ChatAccess:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def chat(self, user_id: ObjectId, chat_id: ObjectId) -> ChatDoc:
        return participant_of(await self.storage.chats.by_id(chat_id), user_id)

