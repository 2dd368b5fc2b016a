"""bcrypt hashing, off the event loop, compatible with the original's bcryptjs hashes."""

from __future__ import annotations

import asyncio
import functools

import bcrypt

from chatkit.domain.errors import BadRequest

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt reads no further; longer passwords would be silently cut


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    """A valid hash to check against when the email is unknown.

    It has the cost of real hashes, so "no such email" takes as long as "wrong
    password" and response times do not tell which addresses have accounts.
    """
    return bcrypt.hashpw(b"chatkit-timing-equaliser", bcrypt.gensalt(rounds))


def check_new_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"{field} must be at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise BadRequest(f"{field} must be at most {MAX_BYTES} bytes")


async def hash_password(password: str, rounds: int) -> str:
    def work() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()

    return await asyncio.to_thread(work)


async def verify_password(password: str, hashed: str | None, rounds: int = 12) -> bool:
    """True if ``password`` matches; with no hash, spends as long as a ``rounds`` check and says no."""
    candidate = password.encode()[:MAX_BYTES]  # bcryptjs truncates the same way

    def work() -> bool:
        target = hashed.encode() if hashed else _dummy_hash(rounds)
        try:
            ok = bcrypt.checkpw(candidate, target)
        except ValueError:
            return False
        return ok and hashed is not None

    return await asyncio.to_thread(work)
