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
