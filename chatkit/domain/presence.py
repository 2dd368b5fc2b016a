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

With several processes (a Redis URL), "online" and "viewing" mean on any process:
``Presence`` also holds a mirror of the other processes' users, kept by
``presence_sharing``, and every question is still answered from memory, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from bson import ObjectId

from chatkit.domain.notifier import Notifier
from chatkit.protocol import Event
from chatkit.storage.database import Storage

log = logging.getLogger(__name__)

Scope = Literal["contacts", "all"]
SCOPES: tuple[Scope, ...] = ("contacts", "all")
COALESCE_SECONDS = 0.05  # presence changes within this window reach each user as one event


@dataclass(frozen=True)
class Arrival:
    """What a socket's connect changed: ``first_here``, the user's first socket on this
    process (their contacts are loaded here); ``came_online``, online nowhere before."""

    first_here: bool
    came_online: bool


@dataclass(frozen=True)
class Departure:
    """What a socket's disconnect changed: ``last_here``, the user's last socket on this
    process; ``went_offline``, no socket left anywhere."""

    user_id: str
    last_here: bool
    went_offline: bool


class Sharing(Protocol):
    """Where this process's presence goes for the other processes of a deployment
    (``domain.presence_sharing``); absent on a single process."""

    def changed(self, user_id: str) -> None:
        """The user's sockets or viewed chats on this process changed: share them soon."""

    def contacts_made(self, a: str, b: str) -> None:
        """A first message made ``a`` and ``b`` contacts: tell the other processes."""

    async def settled(self) -> None:
        """Until what changed so far has been shared."""


class Presence:
    """Sockets per user and chats viewed per socket on this process, contacts of the users
    connected here, and (with several processes) a mirror of the other processes' users
    and the chats they view, so that every question is answered from memory, at once."""

    def __init__(self, scope: Scope = "contacts") -> None:
        self.scope = scope
        self._sids: dict[str, set[str]] = defaultdict(set)
        self._user_of: dict[str, str] = {}
        self._viewing: dict[str, set[str]] = {}
        self._contacts: dict[str, set[str]] = {}  # users connected here; loaded when they connect
        self._watchers: dict[str, set[str]] = {}  # user -> users connected here who have them as contact
        self._remote: dict[str, dict[str, frozenset[str]]] = {}  # user -> other process -> chats viewed
        self._on_process: dict[str, set[str]] = {}  # other process -> its users
        self._sharing: Sharing | None = None

    def share_with(self, sharing: Sharing) -> None:
        self._sharing = sharing

    async def shared(self) -> None:
        """Until this process's changes so far are seen by the others (at once on one process)."""
        if self._sharing is not None:
            await self._sharing.settled()

    def _changed(self, user_id: str) -> None:
        if self._sharing is not None:
            self._sharing.changed(user_id)

    def connect(self, sid: str, user_id: str) -> Arrival:
        """Record the socket."""
        came_online = not self.is_online(user_id)
        first = not self._sids.get(user_id)
        self._sids[user_id].add(sid)
        self._user_of[sid] = user_id
        self._viewing[sid] = set()
        self._changed(user_id)
        return Arrival(first, came_online)

    def disconnect(self, sid: str) -> Departure | None:
        """Forget the socket; None if it was not recorded."""
        user_id = self._user_of.pop(sid, None)
        viewed = self._viewing.pop(sid, None)
        if user_id is None:
            return None
        sids = self._sids.get(user_id, set())
        sids.discard(sid)
        last = not sids
        if last:
            self._sids.pop(user_id, None)
        if last or viewed:
            self._changed(user_id)
        return Departure(user_id, last, last and user_id not in self._remote)

    def forget_contacts(self, user_id: str) -> None:
        for contact in self._contacts.pop(user_id, ()):
            watching = self._watchers.get(contact)
            if watching is not None:
                watching.discard(user_id)
                if not watching:
                    del self._watchers[contact]

    def join(self, sid: str, chat_id: str) -> None:
        viewing = self._viewing.get(sid)
        if viewing is not None and chat_id not in viewing:
            viewing.add(chat_id)
            self._changed(self._user_of[sid])

    def leave(self, sid: str, chat_id: str) -> None:
        viewing = self._viewing.get(sid)
        if viewing is not None and chat_id in viewing:
            viewing.discard(chat_id)
            self._changed(self._user_of[sid])

    def sids_of(self, user_id: str) -> set[str]:
        """The user's sockets on this process."""
        return set(self._sids.get(user_id, ()))

    def is_online(self, user_id: str) -> bool:
        return bool(self._sids.get(user_id)) or user_id in self._remote

    def is_viewing(self, user_id: str, chat_id: str) -> bool:
        if any(chat_id in self._viewing.get(sid, ()) for sid in self._sids.get(user_id, ())):
            return True
        elsewhere = self._remote.get(user_id)
        return elsewhere is not None and any(chat_id in chats for chats in elsewhere.values())

    def online_users(self) -> list[str]:
        if not self._remote:
            return list(self._sids)
        return list(self._sids.keys() | self._remote.keys())

    def footprint(self) -> dict[str, int]:
        """Entries per map: all zero once every socket has gone (memory checks and tests)."""
        return {"users": len(self._sids), "sockets": len(self._user_of), "viewing": len(self._viewing),
                "contacts": len(self._contacts), "watchers": len(self._watchers),
                "elsewhere": len(self._remote)}

    # --- this process's entries, for the other processes ----------------------------

    def local_entry(self, user_id: str) -> frozenset[str] | None:
        """The chats the user's sockets here view; None if they have no socket here."""
        sids = self._sids.get(user_id)
        if not sids:
            return None
        return frozenset(chat for sid in sids for chat in self._viewing.get(sid, ()))

    def local_entries(self) -> dict[str, frozenset[str]]:
        return {user: self.local_entry(user) or frozenset() for user in list(self._sids) if self._sids.get(user)}

    # --- the other processes' entries ---------------------------------------------

    def apply_elsewhere(self, process: str, entries: Mapping[str, frozenset[str] | None], *,
                        whole: bool = False) -> set[str]:
        """Another process's entries changed (``whole``: these are all it has); returns the
        users who came online or went offline by it."""
        users = set(entries)
        if whole:
            users |= self._on_process.get(process, set())
        before = {u for u in users if self.is_online(u)}
        if whole:
            self._drop(process)
        for user, chats in entries.items():
            self._set_elsewhere(process, user, chats)
        return {u for u in users if (u in before) != self.is_online(u)}

    def drop_process(self, process: str) -> set[str]:
        """Another process has gone (or its entries expired); returns who went offline by it."""
        users = set(self._on_process.get(process, ()))
        before = {u for u in users if self.is_online(u)}
        self._drop(process)
        return {u for u in before if not self.is_online(u)}

    def replace_elsewhere(self, snapshot: Mapping[str, Mapping[str, frozenset[str]]]) -> set[str]:
        """Every other process's entries, read afresh; returns whose online state changed."""
        changed: set[str] = set()
        for process in set(self._on_process) - set(snapshot):
            changed ^= self.drop_process(process)
        for process, entries in snapshot.items():
            changed ^= self.apply_elsewhere(process, entries, whole=True)
        return changed

    def processes_elsewhere(self) -> list[str]:
        return list(self._on_process)

    def _set_elsewhere(self, process: str, user_id: str, chats: frozenset[str] | None) -> None:
        if chats is None:
            there = self._remote.get(user_id)
            if there is not None:
                there.pop(process, None)
                if not there:
                    del self._remote[user_id]
            users = self._on_process.get(process)
            if users is not None:
                users.discard(user_id)
                if not users:
                    del self._on_process[process]
            return
        self._remote.setdefault(user_id, {})[process] = chats
        self._on_process.setdefault(process, set()).add(user_id)

    def _drop(self, process: str) -> None:
        for user in list(self._on_process.get(process, ())):
            self._set_elsewhere(process, user, None)

    # --- contacts -----------------------------------------------------------------

    def set_contacts(self, user_id: str, contacts: Iterable[str]) -> None:
        if self._sids.get(user_id):
            mine = self._contacts.setdefault(user_id, set())
            for contact in contacts:
                mine.add(contact)
                self._watchers.setdefault(contact, set()).add(user_id)

    def add_contact(self, a: str, b: str) -> None:
        """``a`` and ``b`` now share a chat: each sees the other's presence."""
        for me, other in ((a, b), (b, a)):
            if me in self._contacts:
                self._contacts[me].add(other)
                self._watchers.setdefault(other, set()).add(me)

    def contacts_made(self, a: str, b: str) -> None:
        """``a`` and ``b`` became contacts here: the other processes hear of it too."""
        self.add_contact(a, b)
        if self._sharing is not None:
            self._sharing.contacts_made(a, b)

    def contacts_of(self, user_id: str) -> set[str] | None:
        """The user's contacts, if they are connected here (and so loaded); else None."""
        found = self._contacts.get(user_id)
        return None if found is None else set(found)

    def visible_to(self, user_id: str) -> list[str]:
        """What ``online-users`` tells this user."""
        if self.scope == "all":
            return self.online_users()
        contacts = self._contacts.get(user_id, set())
        return [user_id, *(c for c in contacts if c != user_id and self.is_online(c))]

    def watchers(self, user_id: str) -> list[str]:
        """Users connected here whose ``online-users`` includes ``user_id``."""
        return list(self._watchers.get(user_id, ()))


class PresenceFeed:
    """Announces presence changes as ``online-users``, coalesced per user.

    Each process tells the sockets it holds (its ``notifier`` reaches this process's
    sockets only): it alone has their users' contacts, and a user with tabs on two
    processes then gets one event per tab, as on one process.
    """

    def __init__(self, storage: Storage, presence: Presence, notifier: Notifier) -> None:
        self.storage = storage
        self.presence = presence
        self.notifier = notifier
        self._pending: set[str] = set()
        self._everyone = False  # "all" scope: one broadcast
        self._flush: asyncio.Task[None] | None = None
        self._closed = False

    async def connected(self, user_id: ObjectId, arrival: Arrival) -> None:
        """After a socket was accepted: the user learns the list; their contacts learn of them."""
        key = str(user_id)
        if self.presence.scope == "all":
            self._schedule(everyone=arrival.came_online, users=() if arrival.came_online else (key,))
            return
        if arrival.first_here:
            partners = await self.storage.chats.partners_of(user_id)
            self.presence.set_contacts(key, (str(p) for p in partners))
        # a new tab of someone already online tells only that user
        self._schedule(users=(key, *(self.presence.watchers(key) if arrival.came_online else ())))

    def disconnected(self, departure: Departure) -> None:
        if departure.went_offline:
            self.changed_elsewhere({departure.user_id})
        if departure.last_here:
            self.presence.forget_contacts(departure.user_id)

    def changed_elsewhere(self, users: set[str]) -> None:
        """These users came online or went offline (on this process or another): those
        here who see them are told."""
        if not users:
            return
        if self.presence.scope == "all":
            self._schedule(everyone=True)
            return
        self._schedule(users=[w for user in users for w in self.presence.watchers(user)])

    def new_contacts(self, a: ObjectId, b: ObjectId) -> None:
        """A first message made ``a`` and ``b`` contacts: each may now see the other."""
        if self.presence.scope == "all":
            return
        ka, kb = str(a), str(b)
        self.presence.contacts_made(ka, kb)
        self._announce_contacts(ka, kb)

    def contacts_made_elsewhere(self, a: str, b: str) -> None:
        """Another process made ``a`` and ``b`` contacts: the same, for the users here."""
        if self.presence.scope == "all":
            return
        self.presence.add_contact(a, b)
        self._announce_contacts(a, b)

    def _announce_contacts(self, a: str, b: str) -> None:
        if self.presence.is_online(a) and self.presence.is_online(b):
            self._schedule(users=(a, b))

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
