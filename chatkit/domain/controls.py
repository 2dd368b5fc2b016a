"""Orders for running servers that are not socket events: written as relays, applied in memory.

Some state lives in a server's memory (the failed-login throttle of
``domain.throttle``, unless it is kept in Redis), so an operator's command in another process cannot change it in
the database. It writes a control relay instead; every running server follows the
relays (change stream, or a poll on a standalone MongoDB) and applies it to its own
memory, so with several server processes behind one database each lifts its own
throttle (with Redis, the throttle is shared and the first to act empties it; the
others find it empty). A server started later has no failures to forget. Control relays are never
emitted to sockets.
"""

from __future__ import annotations

from chatkit.domain.accounts import Accounts
from chatkit.storage.documents import RelayDoc

PREFIX = "chatkit:"
UNLOCK_LOGINS = PREFIX + "unlock-logins"


async def unlock_logins_everywhere(accounts: Accounts, email: str) -> None:
    """Forget the failed logins recorded for ``email`` everywhere: in the throttle shared
    through Redis when there is one (at once, for every process), and through a relay in
    each running server's memory (all of it without Redis; with it, what an outage of
    Redis left there)."""
    await accounts.unlock_logins(email)
    await accounts.storage.relays.insert(None, UNLOCK_LOGINS, {"email": email.strip().lower()})


async def apply_control(relay: RelayDoc, accounts: Accounts) -> bool:
    """Carry out ``relay`` if it is a control order (True), else leave it to be emitted (False)."""
    event = relay.get("event", "")
    if not event.startswith(PREFIX):
        return False
    payload = relay.get("payload") or {}
    if event == UNLOCK_LOGINS and isinstance(payload.get("email"), str):
        await accounts.unlock_logins(payload["email"])
    return True
