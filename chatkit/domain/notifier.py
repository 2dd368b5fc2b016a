"""How the domain's real-time effects leave it: one injected ``Notifier``.

The domain says "user U gets event E with payload P" and nothing more. A server
injects a notifier that emits to U's sockets; a process without sockets (the admin
CLI) injects ``RelayNotifier``, which writes the event to the database for every
running server to emit (``chatkit.storage.relays``). Payloads are wire dicts that may
still hold ObjectIds and datetimes; the notifier makes them JSON.
"""

from __future__ import annotations

from typing import Any, Protocol

from bson import ObjectId

from chatkit.storage.database import Storage
from chatkit.wire import jsonable

Payload = Any
"""A wire payload: a dict (or list) of JSON values, ObjectIds and datetimes."""


class Notifier(Protocol):
    async def emit(self, user_id: ObjectId, event: str, payload: Payload) -> None:
        """Send ``event`` to every connected socket of ``user_id``; nobody connected is fine."""

    async def emit_all(self, event: str, payload: Payload) -> None:
        """Send ``event`` to every connected socket."""


class RelayNotifier:
    """For processes that hold no sockets: running servers emit what this writes."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def emit(self, user_id: ObjectId, event: str, payload: Payload) -> None:
        await self.storage.relays.insert(user_id, event, jsonable(payload))

    async def emit_all(self, event: str, payload: Payload) -> None:
        await self.storage.relays.insert(None, event, jsonable(payload))
