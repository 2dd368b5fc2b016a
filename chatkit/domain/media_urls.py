"""URLs for stored images that apps can put straight into an image view.

The original apps loaded an image message's ``content`` with no header (it was a
Firebase Storage download URL). chatkit keeps the canonical path
(``/api/v1/media/<id>``) in the database and serves an absolute URL carrying an
expiring HMAC signature, made afresh each time a message is served, the way hosted
chat services sign CDN URLs. Expiry is rounded up to the hour (less for lifetimes under
a day), so the same image gets the same URL for an hour and clients can cache it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from urllib.parse import urlencode

from bson import ObjectId

MEDIA_PREFIX = "/api/v1/media/"
ROUND_SECONDS = 3600


def media_path(file_id: ObjectId) -> str:
    return f"{MEDIA_PREFIX}{file_id}"


def file_id_of(content: str) -> ObjectId | None:
    """The file id of a canonical media path, or None for anything else (e.g. a Firebase URL)."""
    if not content.startswith(MEDIA_PREFIX):
        return None
    rest = content[len(MEDIA_PREFIX):]
    return ObjectId(rest) if ObjectId.is_valid(rest) and len(rest) == 24 else None


class MediaUrls:
    def __init__(self, secret: Callable[[], str], lifetime_seconds: float, base_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret_source = secret
        self._key: bytes | None = None
        self.lifetime = lifetime_seconds
        # an hour, or less for a short lifetime, so a URL never outlives it by much
        self._round = max(1, min(ROUND_SECONDS, int(lifetime_seconds // 24)))
        self.base_url = base_url.rstrip("/") if base_url else None
        self._clock = clock

    def bind(self, server_url: str) -> None:
        """Use the URL the server listens on, unless a public URL was configured."""
        if self.base_url is None:
            self.base_url = server_url.rstrip("/")

    def public(self, content: str) -> str:
        """What clients see for an image message's ``content``: a signed absolute URL for a
        stored image; anything else (a URL the original backend wrote) unchanged."""
        file_id = file_id_of(content)
        if file_id is None:
            return content
        expires = math.ceil((self._clock() + self.lifetime) / self._round) * self._round
        query = urlencode({"expires": expires, "signature": self._sign(file_id, expires)})
        return f"{self.base_url or ''}{media_path(file_id)}?{query}"

    def verify(self, file_id: ObjectId, expires: str | None, signature: str | None) -> bool:
        """True for a signature this server made for this file that has not expired."""
        if not expires or not signature or not expires.isdigit() or len(expires) > 12:
            return False
        if int(expires) < self._clock():
            return False
        return hmac.compare_digest(self._sign(file_id, int(expires)), signature)

    def _sign(self, file_id: ObjectId, expires: int) -> str:
        if self._key is None:  # derived, so the JWT secret itself never signs anything else
            self._key = hmac.new(self._secret_source().encode(), b"chatkit media urls", hashlib.sha256).digest()
        return hmac.new(self._key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()
