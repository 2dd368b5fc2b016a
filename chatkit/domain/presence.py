"""Presence: who is connected, which chats they view, and whose presence each may see.

A user is online while any of their sockets is connected, and viewing a chat while
any of their sockets has joined it, so closing one tab never changes what another
tab shows.

Presence is shared as Synapse shares it, with those one shares a room with: a user's
``online-users`` lists the online users among their *contacts* (everyone they share a
chat with) plus themselves, sent when they connect and whenever that set changes, with
bursts coalesced. So the traffic a connect causes is bounded by the user's contacts,
not by how many are online, and a stranger cannot watch anyone come and go. The
``all`` scope keeps the original backend's one global list for small deployments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from bson import ObjectId

from chatkit.domain.notifier import Notifier
from chatkit.protocol import Event
from chatkit.storage.database import Storage

log = logging.getLogger(__name__)

Scope = Literal["contacts", "all"]
SCOPES: tuple[Scope, ...] = ("contacts", "all")
COALESCE_SECONDS = 0.05  # presence changes within this window reach each user as one event


class Presence:
    """The in-memory state: sockets per user, chats viewed per socket, contacts per online user."""

    def __init__(self, scope: Scope = "contacts") -> None:
        self.scope = scope
        self._sids: dict[str, set[str]] = defaultdict(set)
        self._user_of: dict[str, str] = {}
        self._viewing: dict[str, set[str]] = {}
        self._contacts: dict[str, set[str]] = {}  # online users only; loaded when they come online

    def connect(self, sid: str, user_id: str) -> bool:
        """Record the socket; True if the user just came online."""
        first = not self._sids.get(user_id)
        self._sids[user_id].add(sid)
        self._user_of[sid] = user_id
        self._viewing[sid] = set()
        return first

    def disconnect(self, sid: str) -> tuple[str | None, bool]:
        """Forget the socket; returns its user and whether they just went offline."""
        user_id = self._user_of.pop(sid, None)
        self._viewing.pop(sid, None)
        if user_id is None:
            return None, False
        sids = self._sids.get(user_id, set())
        sids.discard(sid)
        if not sids:
            self._sids.pop(user_id, None)
            return user_id, True
        return user_id, False

    def forget_contacts(self, user_id: str) -> None:
        self._contacts.pop(user_id, None)

    def join(self, sid: str, chat_id: str) -> None:
        if sid in self._viewing:
            self._viewing[sid].add(chat_id)

    def leave(self, sid: str, chat_id: str) -> None:
        self._viewing.get(sid, set()).discard(chat_id)

    def sids_of(self, user_id: str) -> set[str]:
        return set(self._sids.get(user_id, ()))

    def is_online(self, user_id: str) -> bool:
        return bool(self._sids.get(user_id))

    def is_viewing(self, user_id: str, chat_id: str) -> bool:
        return any(chat_id in self._viewing.get(sid, ()) for sid in self._sids.get(user_id, ()))

    def online_users(self) -> list[str]:
        return list(self._sids)

    def footprint(self) -> dict[str, int]:
        """Entries per map: all zero once every socket has gone (memory checks and tests)."""
        return {"users": len(self._sids), "sockets": len(self._user_of), "viewing": len(self._viewing),
                "contacts": len(self._contacts)}

    # --- contacts -----------------------------------------------------------------

    def set_contacts(self, user_id: str, contacts: Iterable[str]) -> None:
        if self.is_online(user_id):
            self._contacts.setdefault(user_id, set()).update(contacts)

    def add_contact(self, a: str, b: str) -> None:
        """``a`` and ``b`` now share a chat: each sees the other's presence."""
        for me, other in ((a, b), (b, a)):
            if me in self._contacts:
                self._contacts[me].add(other)

    def contacts_of(self, user_id: str) -> set[str] | None:
        """The user's contacts, if they are online (and so loaded); else None."""
        found = self._contacts.get(user_id)
        return None if found is None else set(found)

    def visible_to(self, user_id: str) -> list[str]:
        """What ``online-users`` tells this user."""
        if self.scope == "all":
            return self.online_users()
        contacts = self._contacts.get(user_id, set())
        return [user_id, *(c for c in contacts if c != user_id and self.is_online(c))]

    def watchers(self, user_id: str) -> list[str]:
        """Online users whose ``online-users`` includes ``user_id``."""
        return [c for c in self._contacts.get(user_id, ()) if self.is_online(c)]


class PresenceFeed:
    """Announces presence changes as ``online-users``, coalesced per user."""

    def __init__(self, storage: Storage, presence: Presence, notifier: Notifier) -> None:
        self.storage = storage
        self.presence = presence
        self.notifier = notifier
        self._pending: set[str] = set()
        self._everyone = False  # "all" scope: one broadcast
        self._flush: asyncio.Task[None] | None = None
        self._closed = False

    async def connected(self, user_id: ObjectId, came_online: bool) -> None:
        """After a socket was accepted: the user learns the list; their contacts learn of them."""
        key = str(user_id)
        if self.presence.scope == "all":
            self._schedule(everyone=came_online, users=() if came_online else (key,))
            return
        if came_online:
            partners = await self.storage.chats.partners_of(user_id)
            self.presence.set_contacts(key, (str(p) for p in partners))
            self._schedule(users=(key, *self.presence.watchers(key)))
        else:
            self._schedule(users=(key,))  # a new tab of someone already online

    def disconnected(self, user_id: str, went_offline: bool) -> None:
        if not went_offline:
            return
        if self.presence.scope == "all":
            self._schedule(everyone=True)
            return
        watchers = self.presence.watchers(user_id)
        self.presence.forget_contacts(user_id)
        self._schedule(users=watchers)

    def new_contacts(self, a: ObjectId, b: ObjectId) -> None:
        """A first message made ``a`` and ``b`` contacts: each may now see the other."""
        if self.presence.scope == "all":
            return
        ka, kb = str(a), str(b)
        self.presence.add_contact(ka, kb)
        if self.presence.is_online(ka) and self.presence.is_online(kb):
            self._schedule(users=(ka, kb))

    async def close(self) -> None:
        """Shutting down: announce nothing more."""
        self._closed = True
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush

    def _schedule(self, *, users: Iterable[str] = (), everyone: bool = False) -> None:
        if self._closed:
            return
        self._pending.update(users)
        self._everyone = self._everyone or everyone
        if self._flush is None and (self._pending or self._everyone):
            self._flush = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        pending, everyone = self._pending, self._everyone
        self._pending, self._everyone, self._flush = set(), False, None
        try:
            if everyone:
                await self.notifier.emit_all(Event.ONLINE_USERS, self.presence.online_users())
            for user in pending:
                if self.presence.is_online(user):
                    await self.notifier.emit(ObjectId(user), Event.ONLINE_USERS, self.presence.visible_to(user))
        except Exception:
            log.exception("could not announce presence")
