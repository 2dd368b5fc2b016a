"""What a client may send: ids, search text, message content; the limits are the rules.

Transports check shapes (types, required fields); what a value may *be* is decided
here, once, for REST, Socket.IO and the admin CLI alike.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from chatkit.domain.errors import BadRequest
from chatkit.wire import oid

CONTENT_MAX = 4096
CLIENT_ID_MAX = 128
SEARCH_MAX = 200
SENDABLE_TYPES = ("text", "image")


def parse_id(value: Any, what: str) -> ObjectId:
    parsed = oid(value)
    if parsed is None:
        raise BadRequest(f"{what} must be a 24-character hex id")
    return parsed


def check_search(text: str | None) -> str | None:
    """The search text to use, or None for "no search"."""
    if text is None or text == "":
        return None
    if len(text) > SEARCH_MAX:
        raise BadRequest(f"search must be at most {SEARCH_MAX} characters")
    if "\x00" in text:  # MongoDB refuses NUL inside a regular expression
        raise BadRequest("search must not contain a NUL character")
    return text


def check_content(content: str, type: str) -> None:
    if type not in SENDABLE_TYPES:
        raise BadRequest("type must be text or image")
    if not content.strip():
        raise BadRequest("content must not be empty")
    if len(content) > CONTENT_MAX:
        raise BadRequest(f"content must be at most {CONTENT_MAX} characters")


def check_client_id(client_id: str | None) -> None:
    if client_id is not None and not 0 < len(client_id) <= CLIENT_ID_MAX:
        raise BadRequest(f"clientId must be 1 to {CLIENT_ID_MAX} characters")
