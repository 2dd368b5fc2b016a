"""Who is connected and which chats they are looking at, per socket.

A user is online while any of their sockets is connected, and viewing a chat while
any of their sockets has joined it, so closing one tab never changes what another
tab shows.
"""

from __future__ import annotations

from collections import defaultdict


class Presence:
    def __init__(self) -> None:
        self._sids: dict[str, set[str]] = defaultdict(set)
        self._user_of: dict[str, str] = {}
        self._viewing: dict[str, set[str]] = {}

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
