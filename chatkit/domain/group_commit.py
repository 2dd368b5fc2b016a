"""Group commit: the text sends of one event-loop turn are stored together.

A send used to cost three round trips to MongoDB, each with the driver's fixed cost
per operation. Here every send that arrives while the previous batch is being written
(or in the same loop turn, when none is) waits in a queue, and the queue is written as
one batch: one ordered ``insert_many`` of the messages (so each sender's messages keep
their order) beside one ``bulk_write`` of the chats' ``lastMessageAt``, one update per
chat. Under light load a batch is one send and starts at once: no timer delays it.

What a send means does not change. Its ack and events wait for its batch, so a message
is stored before anything is said about it. A send that fails fails alone: a
``clientId`` stored before (looked up first, one read for the batch) or stored by
another message of the same batch is answered with the message stored under it; a
chat that was deleted, or whose rules changed since the send read it (a clear, a
block, ``storage.chats.RULE_FIELDS``), is read again and its sends judged afresh, their
messages removed if refused. The ``new-chat`` decision stays atomic: a chat that may
still open for someone (its first message, or the first after a clear) is updated with
``find_one_and_update``, whose "before" says exactly who sees the message first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bson import ObjectId

from chatkit.domain.access import cutoff, first_visible_for
from chatkit.domain.chat_cache import ChatCache
from chatkit.domain.errors import ChatkitError, NotFound
from chatkit.domain.presence import Presence
from chatkit.domain.send_rules import Draft, OpenChat, new_message, open_in
from chatkit.protocol import Sentence
from chatkit.storage.chats import rules_of
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc, MessageDoc
from chatkit.storage.messages import DUPLICATE_KEY
from chatkit.wire import now

log = logging.getLogger(__name__)

MILLISECOND = timedelta(milliseconds=1)
NOBODY: frozenset[ObjectId] = frozenset()


@dataclass(frozen=True)
class Committed:
    """What became of one send."""

    opened: OpenChat  # as last checked (read again if its chat changed meanwhile)
    message: MessageDoc  # stored now, or before under the same clientId
    duplicate: bool = False
    first_for: frozenset[ObjectId] = NOBODY  # participants for whom it opens the chat (``new-chat``)
    first_ever: bool = False  # the chat's first message: its two users just became contacts
    receipt: bool = True  # its sender's last message of the chat in this batch: it carries the receipt


class WriteRefused(Exception):
    """MongoDB refused one message of a batch for a reason other than a repeated ``clientId``."""


@dataclass
class _Send:
    opened: OpenChat
    draft: Draft
    done: asyncio.Future[Committed]
    doc: MessageDoc = field(default_factory=lambda: MessageDoc())
    stored: bool = False
    refused: int | None = None  # MongoDB's error code if the insert refused it


class GroupCommit:
    def __init__(self, storage: Storage, cache: ChatCache, presence: Presence) -> None:
        self.storage = storage
        self.cache = cache
        self.presence = presence
        self._queue: list[_Send] = []
        self._worker: asyncio.Future[None] | None = None
        self._last_at: dict[ObjectId, datetime] = {}  # per chat: the newest time given out

    def submit(self, opened: OpenChat, draft: Draft) -> asyncio.Future[Committed]:
        """Queue ``draft`` for the next batch (in the order queued); the future is done
        once that batch is written."""
        done: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._queue.append(_Send(opened, draft, done))
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._drain())  # runs after this loop turn
        return done

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    await self._commit(batch)
                except Exception as exc:  # the batch's write as a whole failed
                    for send in batch:
                        _fail(send, exc)
                    await self._remove(batch)
        finally:
            self._worker = None

    # --- one batch ------------------------------------------------------------------

    async def _commit(self, batch: list[_Send]) -> None:
        batch = await self._replays(batch)
        if not batch:
            return
        chats = self._number(batch)
        settled = {cid: sends for cid, sends in chats.items() if _settled(sends[0].opened.chat)}
        opening = [cid for cid in chats if cid not in settled]
        inserting = asyncio.ensure_future(self.storage.messages.insert_batch([s.doc for s in batch]))
        advancing = asyncio.ensure_future(self.storage.chats.advance_unchanged(
            [(sends[0].opened.chat, sends[-1].doc["createdAt"]) for sends in settled.values()])
            if settled else _true())
        recording = {cid: asyncio.ensure_future(self.storage.chats.record_message_unchanged(
            chats[cid][0].opened.chat, chats[cid][-1].doc["createdAt"])) for cid in opening}
        await asyncio.wait([inserting, advancing, *recording.values()])
        for task in (advancing, *recording.values()):
            task.exception()  # looked at below; retrieved now in case the insert failed as a whole
        refused = inserting.result()  # raises if the insert failed as a whole
        for i, send in enumerate(batch):
            send.refused = refused.get(i)
            send.stored = send.refused is None
        befores: dict[ObjectId, ChatDoc | None] = {}  # None: not the first visible message for anyone
        again: list[ObjectId] = []
        if advancing.exception() is not None:
            await self._fail_chats(list(settled.values()), advancing.exception() or Exception())
        elif not advancing.result():  # some chat's rules changed: which?
            now_held = await self.storage.chats.by_ids(list(settled))
            for cid, sends in settled.items():
                held = now_held.get(cid)
                if held is not None and rules_of(held) == rules_of(sends[0].opened.chat):
                    befores[cid] = None
                else:
                    again.append(cid)
        else:
            befores.update(dict.fromkeys(settled))
        for cid, record in recording.items():
            failure = record.exception()
            if failure is not None:
                await self._fail_chats([chats[cid]], failure)
            elif (before := record.result()) is None:
                again.append(cid)
            else:
                befores[cid] = before
        if again:
            rechecked = await asyncio.gather(*(self._recheck(chats[cid]) for cid in again))
            befores.update((cid, b) for cid, b in zip(again, rechecked, strict=True) if b is not False)
        duplicates = await self._duplicates([s for s in batch if not s.stored and not s.done.done()])
        for cid, sends in chats.items():
            if cid in befores:
                self._settle(cid, sends, befores[cid], duplicates)

    async def _replays(self, batch: list[_Send]) -> list[_Send]:
        """Answer the sends whose ``clientId`` was stored before; the rest go on."""
        keys = [(s.opened.sender["_id"], s.draft.client_id) for s in batch if s.draft.client_id is not None]
        if not keys:
            return batch
        before = await self.storage.messages.by_client_ids(keys)
        rest = []
        for send in batch:
            found = before.get((send.opened.sender["_id"], send.draft.client_id or ""))
            if found is None:
                rest.append(send)
            else:
                _done(send, Committed(send.opened, found, duplicate=True))
        return rest

    def _number(self, batch: list[_Send]) -> dict[ObjectId, list[_Send]]:
        """Build each message, its time a millisecond past its chat's previous one, and
        group the sends by chat (in arrival order)."""
        t = now()
        if len(self._last_at) > 1000:
            self._last_at = {cid: at for cid, at in self._last_at.items() if at >= t}
        chats: dict[ObjectId, list[_Send]] = {}
        for send in batch:
            cid = send.opened.chat["_id"]
            last = self._last_at.get(cid)
            at = t if last is None or last < t else last + MILLISECOND
            self._last_at[cid] = at
            send.doc = new_message(send.opened, send.draft, at, self.presence)
            chats.setdefault(cid, []).append(send)
        return chats

    async def _recheck(self, sends: list[_Send]) -> ChatDoc | Literal[False] | None:
        """The chat changed under these sends: judge them again on what it is now.

        Returns the chat as it was before the survivors' messages (for ``new-chat``),
        None if they are not the first visible messages, False if none survived.
        """
        cid = sends[0].opened.chat["_id"]
        found = await self.cache.read(cid)
        if found is None:
            await self._fail_chats([sends], NotFound(Sentence.CHAT_NOT_FOUND))
            return False
        survivors = []
        for send in sends:
            try:
                send.opened = open_in(found, send.opened.sender["_id"])
                survivors.append(send)
            except ChatkitError as exc:
                await self._fail_chats([[send]], exc)
        if not survivors:
            return False
        before = await self.storage.chats.record_message_before(cid, survivors[-1].doc["createdAt"])
        if before is None and await self.storage.chats.by_id(cid) is None:
            await self._fail_chats([survivors], NotFound(Sentence.CHAT_NOT_FOUND))
            return False
        return before

    async def _duplicates(self, refused: list[_Send]) -> dict[tuple[ObjectId, str], MessageDoc]:
        keys = [(s.opened.sender["_id"], s.draft.client_id) for s in refused if s.draft.client_id is not None]
        return await self.storage.messages.by_client_ids(keys) if keys else {}

    def _settle(self, cid: ObjectId, sends: list[_Send], before: ChatDoc | None,
                duplicates: dict[tuple[ObjectId, str], MessageDoc]) -> None:
        """Answer the chat's sends. For whom the chat opens (``new-chat``) goes with the
        first message stored that they can see: a clear that came between a message's
        time and its write hides it from the one who cleared, and the chat opens for
        them with the first message after the clear (in this batch or a later one).
        Each sender's last message stored carries the receipt (it says "up to": one
        for the batch)."""
        opening = set() if before is None else first_visible_for(before)
        first_ever = before is not None and before.get("lastMessageAt") is None
        last_of = {s.opened.sender["_id"]: s for s in sends if s.stored and not s.done.done()}
        for send in sends:
            if send.done.done():
                continue
            if not send.stored:
                existing = duplicates.get((send.opened.sender["_id"], send.draft.client_id or ""))
                if existing is None or send.refused != DUPLICATE_KEY:
                    _fail(send, WriteRefused(f"message {send.doc['_id']} was refused by the database"))
                else:
                    _done(send, Committed(send.opened, existing, duplicate=True))
                continue
            first_for = frozenset(p for p in opening if _sees(before, p, send.doc["createdAt"]))
            opening -= first_for
            _done(send, Committed(send.opened, send.doc, first_for=first_for, first_ever=first_ever,
                                  receipt=last_of.get(send.opened.sender["_id"]) is send))
            first_ever = False
        self.cache.advanced(cid, sends[-1].doc["createdAt"])

    async def _fail_chats(self, groups: list[list[_Send]], exc: BaseException) -> None:
        """These sends fail with ``exc``; what they stored is removed (nothing was said of it)."""
        sends = [s for group in groups for s in group if not s.done.done()]
        for send in sends:
            _fail(send, exc)
        await self._remove(sends)

    async def _remove(self, sends: list[_Send]) -> None:
        stored = [s.doc["_id"] for s in sends if s.stored]
        for send in sends:
            send.stored = False
        if stored:
            await asyncio.shield(self.storage.messages.delete_ids(stored))


def _settled(chat: ChatDoc) -> bool:
    """True if the chat already shows a message to both participants (as read): then a
    new message opens it for nobody, as long as its rules stay as read."""
    last, cleared = chat.get("lastMessageAt"), chat.get("clearedAt")
    return last is not None and (cleared is None or last > cleared)


def _sees(chat: ChatDoc | None, user_id: ObjectId, at: datetime) -> bool:
    """True if ``user_id`` sees a message of time ``at`` in ``chat`` (it is after their clear)."""
    cut = None if chat is None else cutoff(chat, user_id)
    return cut is None or at > cut


def _done(send: _Send, result: Committed) -> None:
    if not send.done.done():
        send.done.set_result(result)


def _fail(send: _Send, exc: BaseException) -> None:
    if not send.done.done():
        send.done.set_exception(exc)


async def _true() -> bool:
    return True

