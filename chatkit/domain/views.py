"""How domain documents look on the wire (REST bodies and Socket.IO payloads)."""

from __future__ import annotations

from typing import Any

from chatkit.wire import iso

Doc = dict[str, Any]


def full_name(user: Doc) -> str:
    return " ".join(p for p in (user.get("firstName"), user.get("lastName")) if p)


def user_view(user: Doc) -> Doc:
    """The account as its owner (or an operator) sees it: everything but secrets."""
    return {
        "_id": str(user["_id"]),
        "firstName": user.get("firstName"),
        "lastName": user.get("lastName"),
        "fullName": full_name(user),
        "email": user.get("email"),
        "profilePicture": user.get("profilePicture"),
        "lang": user.get("lang"),
        "isActive": user.get("isActive", True),
        "isBlocked": user.get("isBlocked", False),
        "blockedUsers": [str(u) for u in user.get("blockedUsers", [])],
        "passwordChangedAt": iso(user.get("passwordChangedAt")),
        "createdAt": iso(user.get("createdAt")),
        "updatedAt": iso(user.get("updatedAt")),
    }


def message_view(msg: Doc, viewer: Any) -> Doc:
    """A message as ``viewer`` (an ObjectId) sees it, in events and REST pages alike."""
    return {
        "_id": str(msg["_id"]),
        "chat": str(msg["chat"]),
        "sender": str(msg["sender"]),
        "receiver": {"_id": str(msg["receiver"])} if msg.get("receiver") else None,
        "content": msg.get("content"),
        "type": msg.get("type", "text"),
        "isDelivered": bool(msg.get("isDelivered")),
        "isRead": bool(msg.get("isRead")),
        "createdAt": iso(msg.get("createdAt")),
        "updatedAt": iso(msg.get("updatedAt")),
        "isMyMsg": msg["sender"] == viewer,
        **({"clientId": msg["clientId"]} if msg.get("clientId") else {}),
    }


def peer_view(user: Doc, *, online: bool | None = None) -> Doc:
    """The other participant of a chat, as the listing and ``new-chat`` show them."""
    view: Doc = {
        "_id": str(user["_id"]),
        "fullName": full_name(user),
        "profilePicture": user.get("profilePicture"),
    }
    if online is not None:
        view["isActive"] = user.get("isActive", True)
        view["isOnline"] = online
    return view


def block_flags(me: Doc, other: Doc) -> Doc:
    by_me = other["_id"] in me.get("blockedUsers", [])
    by_other = me["_id"] in other.get("blockedUsers", [])
    return {"blocked": by_me or by_other, "blockedByMe": by_me, "blockedByOtherUser": by_other}
