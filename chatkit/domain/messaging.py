"""The chat rules: send, receipts, typing, clear, block, and what each user may see.

Both transports (REST and Socket.IO) and the admin CLI call this one class, so every
rule lives here once. Real-time effects go through ``emit`` (a user's sockets) and
``presence`` (who is online / viewing); the CLI passes a presence with nobody in it.

Ordering guarantee that the rest relies on: a message is stored before anything is
emitted or pushed about it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

from bson import ObjectId

from chatkit.domain.errors import BadRequest, Forbidden, NotFound
from chatkit.domain.presence import Presence
from chatkit.domain.pushes import PushOutbox
from chatkit.domain.views import block_flags, full_name, message_view, peer_view
from chatkit.storage.chats import other_participant
from chatkit.storage.database import Storage
from chatkit.storage.messages import DuplicateClientId
from chatkit.wire import now, oid

log = logging.getLogger(__name__)

Doc = dict[str, Any]
Emit = Callable[[str, str, Doc], Awaitable[None]]

CONTENT_MAX = 4096
CLIENT_ID_MAX = 128
SEARCH_MAX = 200
SENDABLE_TYPES = ("text", "image")
BLOCKED = "You can't send a message to a blocked user"
PROFILE = {"firstName": 1, "lastName": 1, "profilePicture": 1, "isActive": 1, "isBlocked": 1, "blockedUsers": 1}


async def _no_emit(user_id: str, event: str, payload: Doc) -> None:
    return None


@dataclass
class SendResult:
    message: Doc
    chat: Doc
    duplicate: bool = False


def parse_id(value: Any, what: str) -> ObjectId:
    parsed = oid(value)
    if parsed is None:
        raise BadRequest(f"{what} must be a 24-character hex id")
    return parsed


def check_search(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if len(text) > SEARCH_MAX:
        raise BadRequest(f"search must be at most {SEARCH_MAX} characters")
    if "\x00" in text:  # MongoDB refuses NUL inside a regular expression
        raise BadRequest("search must not contain a NUL character")
    return text


class Messaging:
    def __init__(
        self,
        storage: Storage,
        *,
        presence: Presence | None = None,
        emit: Emit = _no_emit,
        pushes: PushOutbox | None = None,
        relay_labels: bool = False,
    ) -> None:
        self.storage = storage
        self.relay_labels = relay_labels
        self.presence = presence or Presence()
        self.emit = emit
        self.pushes = pushes or PushOutbox(storage)

    # --- sending ------------------------------------------------------------------

    async def send_message(
        self,
        sender_id: ObjectId,
        content: str,
        *,
        chat_id: ObjectId | None = None,
        other_user_id: ObjectId | None = None,
        type: str = "text",
        client_id: str | None = None,
    ) -> SendResult:
        """Store one message and tell everyone concerned; idempotent per ``client_id``."""
        check_content(content, type)
        if client_id is not None and not 0 < len(client_id) <= CLIENT_ID_MAX:
            raise BadRequest(f"clientId must be 1 to {CLIENT_ID_MAX} characters")
        if (chat_id is None) == (other_user_id is None):
            raise BadRequest("Give exactly one of chatId and otherUserId")
        opening = self._open_chat(sender_id, chat_id, other_user_id)
        if client_id is not None:
            # A retry returns what was stored, even if sending has since become impossible.
            existing, opened = await asyncio.gather(
                self.storage.messages.by_client_id(sender_id, client_id), opening, return_exceptions=True
            )
            if isinstance(existing, BaseException):
                raise existing
            if existing is not None:
                return await self._replay(existing, sender_id)
            if isinstance(opened, BaseException):
                raise opened
        else:
            opened = await opening
        chat, sender, receiver = opened
        t = now()
        doc = self._new_message(chat, sender_id, receiver["_id"], content, type, t, client_id)
        stored, before = await asyncio.gather(
            self.storage.messages.insert(doc), self.storage.chats.record_message(chat["_id"], t),
            return_exceptions=True,
        )
        if isinstance(stored, DuplicateClientId):
            existing = await self.storage.messages.by_client_id(sender_id, client_id or "")
            if existing is None:
                raise stored
            return await self._replay(existing, sender_id)
        if isinstance(stored, BaseException):
            raise stored
        if isinstance(before, BaseException):
            raise before
        if before is None:  # the chat was deleted under us: keep no orphan message
            await self.storage.messages.delete(stored["_id"])
            raise NotFound("Chat not found")
        first_for = _first_visible_for(before)
        await self._announce(chat, stored, sender, receiver, first_for)
        return SendResult(message_view(stored, sender_id), chat)

    def _new_message(
        self, chat: Doc, sender_id: ObjectId, receiver_id: ObjectId, content: str, type: str,
        t: datetime, client_id: str | None,
    ) -> Doc:
        chat_key = str(chat["_id"])
        viewing = self.presence.is_viewing(str(receiver_id), chat_key)
        online = viewing or self.presence.is_online(str(receiver_id))
        doc: Doc = {
            "chat": chat["_id"], "sender": sender_id, "receiver": receiver_id, "content": content,
            "type": type, "isDelivered": online, "isRead": viewing, "createdAt": t, "updatedAt": t,
        }
        if client_id is not None:
            doc["clientId"] = client_id
        return doc

    async def _open_chat(
        self, sender_id: ObjectId, chat_id: ObjectId | None, other_user_id: ObjectId | None
    ) -> tuple[Doc, Doc, Doc]:
        """The chat to write to, with both users, once every sending rule has passed."""
        chat: Doc | None = None
        if chat_id is not None:
            chat, users = await self._chat_with_users(sender_id, chat_id)
            other_user_id = other_participant(chat, sender_id)
        else:
            assert other_user_id is not None
            if other_user_id == sender_id:
                raise BadRequest("You can't send a message to yourself")
            users = await self.storage.users.by_ids([sender_id, other_user_id], PROFILE)
        sender, receiver = users.get(sender_id), users.get(other_user_id)
        if sender is None or receiver is None:
            raise NotFound("User not found")
        if receiver.get("isActive") is False or receiver.get("isBlocked"):
            raise Forbidden("This user is not available")
        if block_flags(sender, receiver)["blocked"]:
            raise Forbidden(BLOCKED)
        if chat is None:
            chat = await self.storage.chats.find_or_create(sender_id, other_user_id, now())
        return chat, sender, receiver

    async def _replay(self, existing: Doc, sender_id: ObjectId) -> SendResult:
        chat = await self.storage.chats.by_id(existing["chat"]) or {"_id": existing["chat"]}
        return SendResult(message_view(existing, sender_id), chat, duplicate=True)

    async def _announce(self, chat: Doc, msg: Doc, sender: Doc, receiver: Doc, first_for: set[ObjectId]) -> None:
        chat_id = str(chat["_id"])
        for me, other in ((sender, receiver), (receiver, sender)):
            view = message_view(msg, me["_id"])
            if me["_id"] in first_for:
                await self.emit(str(me["_id"]), "new-chat", {
                    "_id": chat_id,
                    "to": peer_view(other),
                    "messages": [{**view, "sender": {"_id": str(sender["_id"]), "fullName": full_name(sender)}}],
                    "unreadMessagesCount": 1 if view["receiver"]["_id"] == str(me["_id"]) and not msg["isRead"] else 0,
                    "blocked": False,
                })
            else:
                await self.emit(str(me["_id"]), "message", view)
        sender_key = str(sender["_id"])
        if msg["isRead"]:
            await self.emit(sender_key, "messages-seen", {"chatId": chat_id, "seenTime": msg["createdAt"]})
        elif msg["isDelivered"]:
            await self.emit(sender_key, "message-delivered", _delivered(chat_id, msg["_id"], msg["createdAt"]))
        else:
            await self.pushes.new_message(sender, receiver["_id"], chat["_id"], msg)

    # --- receipts -----------------------------------------------------------------

    async def deliver_pending(self, user_id: ObjectId) -> None:
        """Everything waiting for ``user_id`` is now delivered; one receipt per chat."""
        pending = await self.storage.messages.latest_undelivered_per_chat(user_id)
        if not pending:
            return
        await self.storage.messages.mark_delivered(user_id, up_to=max(p["createdAt"] for p in pending))
        for p in pending:
            await self.emit(str(p["sender"]), "message-delivered",
                            _delivered(str(p["_id"]), p["messageId"], p["createdAt"]))

    async def mark_delivered(self, user_id: ObjectId, message_id: ObjectId) -> None:
        """The recipient's device has the message: it and all before it are delivered."""
        msg = await self.storage.messages.by_id(message_id)
        if msg is None:
            raise NotFound("Message not found")
        if msg.get("receiver") != user_id:
            raise Forbidden("You are not the recipient of this message")
        chat_key = str(msg["chat"])
        viewing = self.presence.is_viewing(str(user_id), chat_key)
        if viewing:
            changed = await self.storage.messages.mark_read(user_id, msg["chat"], up_to=msg["createdAt"])
        else:
            changed = await self.storage.messages.mark_delivered(user_id, chat=msg["chat"], up_to=msg["createdAt"])
        if not changed:
            return
        sender = str(msg["sender"])
        await self.emit(sender, "message-delivered", _delivered(chat_key, msg["_id"], msg["createdAt"]))
        if viewing:
            await self.emit(sender, "messages-seen", {"chatId": chat_key, "seenTime": now()})

    async def mark_chat_read(self, user_id: ObjectId, chat: Doc) -> None:
        if await self.storage.messages.mark_read(user_id, chat["_id"]):
            await self.emit(str(other_participant(chat, user_id)), "messages-seen",
                            {"chatId": str(chat["_id"]), "seenTime": now()})

    async def join_chat(self, user_id: ObjectId, sid: str, chat_id: ObjectId) -> None:
        chat = await self._chat_of(user_id, chat_id)
        self.presence.join(sid, str(chat_id))
        await self.mark_chat_read(user_id, chat)

    async def leave_chat(self, sid: str, chat_id: ObjectId) -> None:
        self.presence.leave(sid, str(chat_id))

    # --- typing -------------------------------------------------------------------

    async def typing(self, user: Doc, chat_id: ObjectId, *, stopped: bool) -> None:
        chat = await self._chat_of(user["_id"], chat_id)
        other_id = other_participant(chat, user["_id"])
        users = await self.storage.users.by_ids([user["_id"], other_id], {"blockedUsers": 1})
        me, other = users.get(user["_id"]), users.get(other_id)
        if me is None or other is None or block_flags(me, other)["blocked"]:
            return
        await self.emit(str(other_id), "stop-typing" if stopped else "typing", {
            "chatId": str(chat_id), "userId": str(user["_id"]), "userName": full_name(user),
        })

    # --- blocking -----------------------------------------------------------------

    async def set_block(self, user_id: ObjectId, other_id: ObjectId, blocked: bool) -> Doc:
        """Block or unblock; idempotent. A change writes a ``Label`` line into our chat."""
        if other_id == user_id:
            raise BadRequest("You can't block yourself" if blocked else "You can't unblock yourself")
        if await self.storage.users.by_id(other_id, {"_id": 1}) is None:
            raise NotFound("User not found")
        changed = await self.storage.users.set_blocked(user_id, other_id, blocked)
        if changed:
            chat = await self.storage.chats.between(user_id, other_id)
            if chat is not None:
                await self._label(chat, user_id, other_id, "blocked" if blocked else "unblocked")
        users = await self.storage.users.by_ids([user_id, other_id], {"blockedUsers": 1})
        return block_flags(users[user_id], users[other_id])

    async def _label(self, chat: Doc, actor: ObjectId, other: ObjectId, text: str) -> None:
        t = now()
        doc: Doc = {
            "chat": chat["_id"], "sender": actor, "receiver": other, "content": text, "type": "Label",
            "isDelivered": True, "isRead": True, "createdAt": t, "updatedAt": t,
        }
        if self.relay_labels:
            doc["relay"] = True  # no sockets here: a running server shows it (live_admin)
        await self.announce_label(await self.storage.messages.insert(doc))

    async def announce_label(self, msg: Doc) -> None:
        """A stored ``Label`` line reaches both users as an ordinary ``message``."""
        for user in (msg["sender"], msg["receiver"]):
            await self.emit(str(user), "message", message_view(msg, user))

    # --- clearing -----------------------------------------------------------------

    async def clear_chat(self, user_id: ObjectId, chat_id: ObjectId) -> str:
        """Clear the chat for ``user_id`` with the contract's three cases.

        Returns ``"cleared"`` or ``"deleted"`` (the other user had cleared it and nothing
        was written since, so nobody can see anything any more).
        """
        for _ in range(5):
            chat = await self._chat_of(user_id, chat_id)
            cleared_by, cleared_at = chat.get("clearedBy"), chat.get("clearedAt")
            t = now()
            if cleared_by is not None and cleared_by != user_id and cleared_at is not None:
                if not await self.storage.messages.any_after(chat_id, cleared_at):
                    await self.delete_chat(chat_id)
                    return "deleted"
                await self.storage.messages.delete_in_chat(chat_id, up_to=cleared_at)
            if await self.storage.chats.set_cleared(chat, user_id, t):
                return "cleared"
        raise BadRequest("The chat changed while clearing it; try again")

    async def delete_chat(self, chat_id: ObjectId) -> None:
        await self.storage.messages.delete_in_chat(chat_id)
        await self.storage.chats.delete(chat_id)

    # --- reading ------------------------------------------------------------------

    async def list_chats(
        self, user: Doc, *, page: int, limit: int, search: str | None, last_messages: int
    ) -> tuple[list[Doc], int]:
        await self.deliver_pending(user["_id"])
        chats, total = await self.storage.chats.listing(
            user["_id"], search=check_search(search), skip=(page - 1) * limit, limit=limit,
            last_messages=last_messages,
        )
        me = {"_id": user["_id"], "blockedUsers": user.get("blockedUsers", [])}
        items = []
        for chat in chats:
            other = chat["other"]
            items.append({
                "_id": str(chat["_id"]),
                "to": peer_view(other, online=self.presence.is_online(str(other["_id"]))),
                "messages": [message_view(m, user["_id"]) for m in chat["messages"]],
                "unreadMessagesCount": chat["unread"][0]["n"] if chat["unread"] else 0,
                **block_flags(me, other),
                "lastMessageCreatedAt": chat.get("lastMessageAt"),
            })
        return items, total

    async def get_chat(self, user: Doc, chat_id: ObjectId, *, last_messages: int) -> Doc:
        chat = await self._chat_of(user["_id"], chat_id)
        other_id = other_participant(chat, user["_id"])
        other, messages = await asyncio.gather(
            self.storage.users.by_id(other_id, PROFILE),
            self.storage.messages.latest(chat_id, _cutoff(chat, user["_id"]), last_messages),
        )
        other = other or {"_id": other_id, "isActive": False}
        return {
            "_id": str(chat_id),
            "to": peer_view(other, online=self.presence.is_online(str(other_id))),
            **block_flags({"_id": user["_id"], "blockedUsers": user.get("blockedUsers", [])}, other),
            "messages": [message_view(m, user["_id"]) for m in messages],
        }

    async def list_messages(
        self, user_id: ObjectId, chat_id: ObjectId, *, page: int, limit: int, search: str | None,
        start: datetime | None, end: datetime | None,
    ) -> tuple[list[Doc], int]:
        chat = await self._chat_of(user_id, chat_id)
        await self.mark_chat_read(user_id, chat)
        docs, total = await self.storage.messages.page(
            chat_id, after=_cutoff(chat, user_id), search=check_search(search), start=start, end=end,
            skip=(page - 1) * limit, limit=limit,
        )
        return [message_view(m, user_id) for m in docs], total

    async def list_users(self, user_id: ObjectId, *, search: str | None, page: int, limit: int) -> tuple[list[Doc], int]:
        docs, total = await self.storage.users.search(
            text=check_search(search), exclude=user_id, active_only=True, skip=(page - 1) * limit,
            limit=limit, projection={"firstName": 1, "lastName": 1, "profilePicture": 1, "isActive": 1},
        )
        return [
            {"_id": str(d["_id"]), "firstName": d.get("firstName"), "lastName": d.get("lastName"),
             "fullName": full_name(d), "profilePicture": d.get("profilePicture"),
             "isActive": d.get("isActive", True), "isOnline": self.presence.is_online(str(d["_id"]))}
            for d in docs
        ], total

    async def _chat_with_users(self, user_id: ObjectId, chat_id: ObjectId) -> tuple[Doc, dict[ObjectId, Doc]]:
        """The chat and both participants' profiles, in one round trip."""
        chat = _participant_of(await self.storage.chats.with_participants(chat_id, PROFILE), user_id)
        return chat, {u["_id"]: u for u in chat.pop("people")}

    async def _chat_of(self, user_id: ObjectId, chat_id: ObjectId) -> Doc:
        return _participant_of(await self.storage.chats.by_id(chat_id), user_id)


def _participant_of(chat: Doc | None, user_id: ObjectId) -> Doc:
    """The chat, if it exists and ``user_id`` takes part in it."""
    if chat is None:
        raise NotFound("Chat not found")
    if user_id not in chat.get("participants", []):
        raise Forbidden("You are not a participant of this chat")
    return chat


def check_content(content: str, type: str) -> None:
    if type not in SENDABLE_TYPES:
        raise BadRequest("type must be text or image")
    if not content.strip():
        raise BadRequest("content must not be empty")
    if len(content) > CONTENT_MAX:
        raise BadRequest(f"content must be at most {CONTENT_MAX} characters")


def _cutoff(chat: Doc, user_id: ObjectId) -> datetime | None:
    return chat.get("clearedAt") if chat.get("clearedBy") == user_id else None


def _first_visible_for(before: Doc) -> set[ObjectId]:
    """Participants for whom the message just recorded is their first visible one.

    ``before`` is the chat as it was before this message advanced ``lastMessageAt``.
    """
    last = before.get("lastMessageAt")
    first: set[ObjectId] = set()
    for p in before["participants"]:
        cutoff = _cutoff(before, p)
        if last is None or (cutoff is not None and last <= cutoff):
            first.add(p)
    return first


def _delivered(chat_id: str, message_id: ObjectId, at: datetime) -> Doc:
    return {"chatId": chat_id, "messageId": str(message_id), "messageTime": at}
