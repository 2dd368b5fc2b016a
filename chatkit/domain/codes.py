"""One-time codes mailed to an address: 6 digits, stored as keyed hashes, short-lived,
single use, at most ``MAX_TRIES`` wrong guesses each, and a few per address per hour.

The original backend let a 6-digit code be guessed without limit: a million tries
breaks any account. Here a code dies after 5 wrong guesses, and an address gets at most
``per_hour`` codes an hour, so guessing one account's codes takes years. Codes are
hashed with a key derived from the server secret (a bare SHA-256 of a 6-digit number
is reversed by trying them all) and compared with ``hmac.compare_digest``.

A code is tied to the address it was mailed to. ``verify-otp`` from the original apps
sends the code alone: such a code is found by a second hash without the address (made
unique among live codes when it is issued), and bare attempts are throttled per client
address and overall (``bare_throttle``), since no single code's counter sees them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from bson import ObjectId

from chatkit.domain.errors import BadRequest, TooManyRequests
from chatkit.domain.throttle import LoginThrottle, ThrottleStore
from chatkit.protocol import Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import CodeDoc
from chatkit.wire import now

DIGITS: Final = 6
MAX_TRIES: Final = 5
WINDOW: Final = timedelta(hours=1)  # the per-address limit counts codes over this
BARE_KEY: Final = "(code without email)"  # the throttle's account key for bare codes
BARE_RETRY_SECONDS: Final = 30.0  # bare codes: 5 wrong from an address, then one per 30 s


def codes_limited(minutes: int) -> TooManyRequests:
    unit = "minute" if minutes == 1 else "minutes"
    return TooManyRequests(f"Too many codes requested for this email, try again in {minutes} {unit}",
                           retry_after=minutes * 60)


def check_code_shape(code: str) -> str:
    """A code as typed: surrounding spaces allowed, else exactly 6 digits."""
    code = code.strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        raise BadRequest(Sentence.BAD_CODE)
    return code


class OneTimeCodes:
    def __init__(self, storage: Storage, secret: Callable[[], str], *, lifetime: float, per_hour: int,
                 bare_store: ThrottleStore | None = None) -> None:
        self.storage = storage
        self._secret_source = secret
        self._key: bytes | None = None
        self.lifetime = timedelta(seconds=lifetime)
        self.per_hour = per_hour
        self.bare_throttle = LoginThrottle(retry_seconds=BARE_RETRY_SECONDS, store=bare_store)

    @property
    def lifetime_minutes(self) -> int:
        return max(1, math.ceil(self.lifetime.total_seconds() / 60))

    async def issue(self, email: str, purpose: str, user_id: ObjectId | None) -> str | None:
        """A fresh code for ``email`` (older live ones of the purpose die), or None when
        the address has no account: the request is counted all the same, so the limit
        (``TooManyRequests``) answers alike whether or not the address has an account."""
        t = now()
        await self.check_limit(email, t)
        if user_id is None:
            await self.storage.codes.insert({"email": email, "purpose": purpose, "userId": None, "hash": "",
                                             "bareHash": "", "tries": MAX_TRIES, "createdAt": t, "expiresAt": t,
                                             "usedAt": None, "purgeAt": t + WINDOW})
            return None
        await self.storage.codes.retire(email, purpose, t)
        code, bare = "", ""
        for _ in range(8):  # a bare code must point at one live code; clashes are one in a million
            code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
            bare = self._hash(purpose, code)
            if not await self.storage.codes.live_with_bare_hash(bare, purpose, t, limit=1):
                break
        expires = t + self.lifetime
        doc: CodeDoc = {"email": email, "purpose": purpose, "userId": user_id, "hash": self._hash(purpose, code, email),
                        "bareHash": bare, "tries": 0, "createdAt": t, "expiresAt": expires, "usedAt": None,
                        "purgeAt": max(expires, t + WINDOW)}
        await self.storage.codes.insert(doc)
        return code

    async def redeem(self, email: str, purpose: str, code: str) -> CodeDoc:
        """The code's record, now used up; ``BadRequest`` for a wrong, used, expired or
        exhausted code alike (each wrong guess costs the live code one of its tries)."""
        code = check_code_shape(code)
        t = now()
        doc = await self.storage.codes.take_try({"email": email, "purpose": purpose}, MAX_TRIES, t)
        if doc is None or not hmac.compare_digest(doc["hash"], self._hash(purpose, code, email)):
            raise BadRequest(Sentence.BAD_CODE)
        return await self._use(doc, t)

    async def redeem_bare(self, purpose: str, code: str, client: str | None) -> CodeDoc:
        """:meth:`redeem` for a code sent without its address (the original apps)."""
        await self.bare_throttle.admit(BARE_KEY, client)
        try:
            code = check_code_shape(code)
            t = now()
            bare = self._hash(purpose, code)
            found = await self.storage.codes.live_with_bare_hash(bare, purpose, t)
            doc = await self.storage.codes.take_try({"_id": found[0]["_id"]}, MAX_TRIES, t) if len(found) == 1 else None
            if doc is None or not hmac.compare_digest(doc["bareHash"], bare):
                raise BadRequest(Sentence.BAD_CODE)
            used = await self._use(doc, t)
        except BadRequest:
            raise  # a wrong guess: it stays counted
        except BaseException:
            await self.bare_throttle.abandoned(BARE_KEY, client)
            raise
        await self.bare_throttle.succeeded(BARE_KEY, client)
        return used

    async def _use(self, doc: CodeDoc, t: datetime) -> CodeDoc:
        if not await self.storage.codes.use(doc["_id"], t):
            raise BadRequest(Sentence.BAD_CODE)  # another request used it a moment ago
        return doc

    async def check_limit(self, email: str, t: datetime | None = None) -> None:
        """``TooManyRequests`` once ``per_hour`` codes were asked for this address in the last hour."""
        t = t or now()
        recent = await self.storage.codes.sent_since(email, t - WINDOW)
        if len(recent) >= self.per_hour:
            free_at = recent[len(recent) - self.per_hour] + WINDOW
            raise codes_limited(max(1, math.ceil((free_at - t).total_seconds() / 60)))

    def _hash(self, purpose: str, code: str, email: str = "") -> str:
        if self._key is None:  # derived, so the JWT secret itself never keys anything else
            self._key = hmac.new(self._secret_source().encode(), b"chatkit one-time codes", hashlib.sha256).digest()
        return hmac.new(self._key, f"{purpose}\0{email}\0{code}".encode(), hashlib.sha256).hexdigest()
