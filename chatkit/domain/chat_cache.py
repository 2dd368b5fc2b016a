"""Chats and their two users held in memory for the send path, kept true by the database.

Every send needs the chat (who takes part, who cleared it, when a block last changed)
and both users (names, standing, block lists). Reading them costs a round trip per
send; holding them costs nothing, if what is held cannot go stale unnoticed:

- users change from any process (a ban or block through ``chatkit admin``, another
  server's REST API). The server follows the database's change stream
  (``server.live_admin``) and drops a user here as soon as their document changes,
  so a ban or a new name reaches the next send within the stream's delay (well
  under a second);
- a chat's send rules (``storage.chats.RULE_FIELDS``: the clear marker and
  ``blocksChangedAt``) are checked by the write itself: the batch's update of
  ``lastMessageAt`` only matches a chat whose rules are still those read here, and a
  chat that fails it is read again and every rule applied afresh
  (``domain.group_commit``). A block therefore refuses the very next send, whatever
  the change stream's delay, and a clear racing a send keeps the ``new-chat``
  decision exact.

Without a change stream to follow (a standalone MongoDB, or while the stream is
interrupted) nothing is held: every send reads afresh, as before.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc, ChatWithParticipants, UserDoc

MAX_ENTRIES = 50_000  # chats (and users) held; past that the cache starts over


class ChatCache:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.enabled = False
        self._chats: dict[ObjectId, ChatDoc] = {}
        self._users: dict[ObjectId, UserDoc] = {}
        self._generation = 0  # bumped by every drop: a read that overlapped one is not kept

    def following(self, live: bool) -> None:
        """The change stream is (or stopped being) followed: hold entries only while it is."""
        self.enabled = live
        self.clear()

    def clear(self) -> None:
        self._chats.clear()
        self._users.clear()
        self._generation += 1

    def forget_user(self, user_id: ObjectId) -> None:
        """The user's document changed (or went): the next send reads it again."""
        self._generation += 1
        self._users.pop(user_id, None)

    def forget_chat(self, chat_id: ObjectId) -> None:
        self._generation += 1
        self._chats.pop(chat_id, None)

    async def chat_with_users(self, chat_id: ObjectId) -> ChatWithParticipants | None:
        """The chat and its participants' ``PEER_FIELDS``, from memory when held."""
        chat = self._chats.get(chat_id)
        if chat is not None:
            users = {p: self._users[p] for p in chat["participants"] if p in self._users}
            if len(users) == len(chat["participants"]):
                return ChatWithParticipants(chat, users)
        return await self.read(chat_id)

    async def read(self, chat_id: ObjectId) -> ChatWithParticipants | None:
        """The chat and its users from the database (one round trip), kept if nothing changed meanwhile."""
        generation = self._generation
        found = await self.storage.chats.with_participants(chat_id)
        if found is None:
            self.forget_chat(chat_id)  # deleted: the next send is refused by its read, not by its write
        elif self.enabled and generation == self._generation:
            if len(self._chats) >= MAX_ENTRIES or len(self._users) >= MAX_ENTRIES:
                self.clear()
            self._chats[chat_id] = found.chat
            self._users.update(found.users)
        return found

    def advanced(self, chat_id: ObjectId, at: datetime) -> None:
        """A batch moved the chat's ``lastMessageAt`` to ``at`` (its rules unchanged)."""
        held = self._chats.get(chat_id)
        if held is not None and (held.get("lastMessageAt") or at) <= at:
            self._chats[chat_id] = {**held, "lastMessageAt": at}

    def footprint(self) -> dict[str, int]:
        return {"cache.chats": len(self._chats), "cache.users": len(self._users)}
