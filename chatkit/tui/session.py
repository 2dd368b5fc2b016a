"""Making and ending ``ChatClient`` sessions, without Textual (``chatkit tui --logout`` uses
this alone, so forgetting a session does not load the user interface)."""

from __future__ import annotations

import asyncio
import logging

from chatkit.client import ChatClient
from chatkit.tui.profiles import Profile, ProfileStore

log = logging.getLogger("chatkit.tui")

CLOSE_TIMEOUT = 5.0


def default_client(server: str, token: str | None) -> ChatClient:
    """The app's client: the live connection is opened by the app once the account is known."""
    return ChatClient(server, token=token, realtime=False)


async def close(client: ChatClient) -> None:
    """Close a client within a bound; closing is best effort (the process may be leaving)."""
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except Exception as exc:
        log.info("closing the client: %s", exc)


async def forget(server: str | None, email: str | None, store: ProfileStore) -> list[Profile]:
    """End the remembered sessions on ``server`` (any) for ``email`` (any) on their server,
    as far as it answers, and forget them; returns the profiles forgotten."""
    gone = store.matching(server, email)
    for profile in gone:
        client = default_client(profile.server, profile.token)
        try:
            await client.logout()
        except Exception as exc:  # offline, or the session had ended: forgotten all the same
            log.info("could not end the session on %s: %s", profile.server, exc)
        finally:
            await close(client)
        store.forget(profile.server, profile.email)
    return gone
