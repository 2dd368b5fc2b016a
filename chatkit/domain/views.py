"""How stored documents look on the wire (REST bodies and Socket.IO payloads), all of them.

Views may hold ObjectIds and datetimes; the transports turn them into JSON
(``chatkit.wire.jsonable``) at the edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from chatkit.domain.media_urls import MediaUrls, media_path
from chatkit.storage.documents import ChatDoc, ChatListingRow, MessageDoc, SessionDoc, UserDoc
from chatkit.wire import iso

View = dict[str, Any]


def full_name(user: UserDoc) -> str:
    return " ".join(p for p in (user.get("firstName"), user.get("lastName")) if p)


def user_view(user: UserDoc) -> View:
    """The account as its owner (or an operator) sees it: everything but secrets."""
    return {
        "_id": str(user["_id"]),
        "firstName": user.get("firstName"),
        "lastName": user.get("lastName"),
        "fullName": full_name(user),
        "email": user.get("email"),
        "profilePicture": user.get("profilePicture"),
        "lang": user.get("lang"),
        "isVerified": user.get("isVerified", True),
        "isActive": user.get("isActive", True),
        "isBlocked": user.get("isBlocked", False),
        "blockedUsers": [str(u) for u in user.get("blockedUsers", [])],
        "passwordChangedAt": iso(user.get("passwordChangedAt")),
        "createdAt": iso(user.get("createdAt")),
        "updatedAt": iso(user.get("updatedAt")),
    }


def session_view(session: SessionDoc) -> View:
    """A session as operators see it: never the token hash or the push token itself."""
    return {"_id": str(session["_id"]), "createdAt": session.get("createdAt"),
            "expiresAt": session.get("expiresAt"), "hasPushToken": bool(session.get("notificationToken"))}


def message_view(msg: MessageDoc, viewer: ObjectId, *, urls: MediaUrls | None = None) -> View:
    """A message as ``viewer`` sees it, in events and REST pages alike.

    An image's ``content`` is served as a freshly signed URL (``urls``); the stored
    value is the canonical path. Only ``Label`` lines are built without ``urls``.
    """
    content = msg.get("content")
    media = msg.get("media")
    created, updated = msg.get("createdAt"), msg.get("updatedAt")
    created_iso = iso(created)
    # Only a file stored for this very message is signed: a client may send any text as
    # an image's content (the original apps send URLs they host), never a key to a file.
    if urls is not None and media is not None and content == media_path(media):
        content = urls.public(content)
    return {
        "_id": str(msg["_id"]),
        "chat": str(msg["chat"]),
        "sender": str(msg["sender"]),
        "receiver": {"_id": str(msg["receiver"])} if msg.get("receiver") else None,
        "content": content,
        "type": msg.get("type", "text"),
        "isDelivered": bool(msg.get("isDelivered")),
        "isRead": bool(msg.get("isRead")),
        "createdAt": created_iso,
        "updatedAt": created_iso if updated == created else iso(updated),
        "isMyMsg": msg["sender"] == viewer,
        **({"clientId": msg["clientId"]} if msg.get("clientId") else {}),
    }


def picture(user: UserDoc, urls: MediaUrls) -> str | None:
    """A user's profile picture as apps load it: a stored one as a signed URL, anything
    else (a URL the original backend wrote) as it is."""
    value = user.get("profilePicture")
    return urls.public(value) if isinstance(value, str) else value


def peer_view(user: UserDoc, urls: MediaUrls, *, online: bool | None = None) -> View:
    """The other participant of a chat, as listings and ``new-chat`` show them."""
    view: View = {
        "_id": str(user["_id"]),
        "fullName": full_name(user),
        "profilePicture": picture(user, urls),
    }
    if online is not None:
        view["isActive"] = user.get("isActive", True)
        view["isOnline"] = online
    return view


def block_flags(me: UserDoc, other: UserDoc) -> View:
    by_me = other["_id"] in me.get("blockedUsers", [])
    by_other = me["_id"] in other.get("blockedUsers", [])
    return {"blocked": by_me or by_other, "blockedByMe": by_me, "blockedByOtherUser": by_other}


def chat_view(chat_id: ObjectId, me: UserDoc, peer: UserDoc, messages: list[MessageDoc], urls: MediaUrls, *,
              online: bool) -> View:
    """One chat as ``me`` sees it (``GET /chats/:id``; listings add their fields)."""
    return {
        "_id": str(chat_id),
        "to": peer_view(peer, urls, online=online),
        **block_flags(me, peer),
        "messages": [message_view(m, me["_id"], urls=urls) for m in messages],
    }


def listing_view(row: ChatListingRow, me: UserDoc, urls: MediaUrls, *, online: bool) -> View:
    """A chat in ``GET /chats``: the chat view, the unread count and the last activity."""
    return {
        **chat_view(row.chat["_id"], me, row.peer, row.last_messages, urls, online=online),
        "unreadMessagesCount": row.unread_count,
        "lastMessageCreatedAt": row.chat.get("lastMessageAt"),
    }


def new_chat_view(chat: ChatDoc, msg: MessageDoc, view: View, other: UserDoc, sender: UserDoc,
                  urls: MediaUrls) -> View:
    """``new-chat`` for the viewer of ``view`` (``message_view`` of ``msg`` as they see it):
    the chat's first message visible to them, ``to`` the other side."""
    incoming_unread = not view["isMyMsg"] and not msg["isRead"]
    return {
        "_id": str(chat["_id"]),
        "to": peer_view(other, urls),
        "messages": [{**view, "sender": {"_id": str(sender["_id"]), "fullName": full_name(sender)}}],
        "unreadMessagesCount": 1 if incoming_unread else 0,
        "blocked": False,
    }


def directory_entry(user: UserDoc, urls: MediaUrls, *, online: bool) -> View:
    """A user in ``GET /chats/users``."""
    return {
        "_id": str(user["_id"]), "firstName": user.get("firstName"), "lastName": user.get("lastName"),
        "fullName": full_name(user), "profilePicture": picture(user, urls),
        "isActive": user.get("isActive", True), "isOnline": online,
    }


def delivered_view(chat_id: ObjectId, message_id: ObjectId, at: datetime) -> View:
    return {"chatId": str(chat_id), "messageId": str(message_id), "messageTime": at}


def seen_view(chat_id: ObjectId, at: datetime) -> View:
    return {"chatId": str(chat_id), "seenTime": at}


def typing_view(chat_id: ObjectId, user: UserDoc) -> View:
    return {"chatId": str(chat_id), "userId": str(user["_id"]), "userName": full_name(user)}


def chat_overview_view(chat: ChatDoc, people: dict[ObjectId, UserDoc]) -> View:
    """A chat as operators list it: participants by email and name, activity, who cleared it."""
    def person(user_id: ObjectId) -> View:
        user = people.get(user_id, {})
        return {"_id": str(user_id), "email": user.get("email"), "fullName": full_name(user)}

    return {
        "_id": str(chat["_id"]),
        "participants": [person(p) for p in chat["participants"]],
        "lastMessageAt": iso(chat.get("lastMessageAt")),
        "clearedBy": str(chat["clearedBy"]) if chat.get("clearedBy") else None,
        "clearedAt": iso(chat.get("clearedAt")),
        "createdAt": iso(chat.get("createdAt")),
    }
