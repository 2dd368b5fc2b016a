"""bcrypt hashing, off the event loop, compatible with the original's bcryptjs hashes."""

from __future__ import annotations

import asyncio

import bcrypt

from chatkit.domain.errors import BadRequest

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt reads no further; longer passwords would be silently cut
# A valid hash to check against when the email is unknown, so both failures cost the same.
_DUMMY_HASH = bcrypt.hashpw(b"chatkit-timing-equaliser", bcrypt.gensalt(4))


def check_new_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"{field} must be at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise BadRequest(f"{field} must be at most {MAX_BYTES} bytes")


async def hash_password(password: str, rounds: int) -> str:
    def work() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()

    return await asyncio.to_thread(work)


async def verify_password(password: str, hashed: str | None) -> bool:
    """True if ``password`` matches; with no hash, spends the same time and says no."""
    candidate = password.encode()[:MAX_BYTES]  # bcryptjs truncates the same way

    def work() -> bool:
        target = hashed.encode() if hashed else _DUMMY_HASH
        try:
            ok = bcrypt.checkpw(candidate, target)
        except ValueError:
            return False
        return ok and hashed is not None

    return await asyncio.to_thread(work)
