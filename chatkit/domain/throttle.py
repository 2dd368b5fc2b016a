"""Slow down password guessing: too many failed logins answer 429 for a while.

Failures are counted per account (the email tried) and per client address, in a
sliding window held in memory; a success clears the account's count. A locked account
is refused before its password is checked, so guessing gains nothing while locked.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from chatkit.domain.errors import TooManyRequests

PRUNE_ABOVE = 10_000  # keys held before expired ones are swept


class LoginThrottle:
    def __init__(self, *, per_account: int = 10, per_client: int = 50, window_seconds: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_account = per_account
        self.per_client = per_client
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, email: str, client: str | None) -> None:
        """Raise ``TooManyRequests`` if this account or client is locked out right now."""
        for key, limit in self._keys(email, client):
            recent = self._recent(key)
            if len(recent) >= limit:
                minutes = max(1, math.ceil((recent[0] + self.window - self._clock()) / 60))
                raise TooManyRequests(f"Too many failed logins, try again in {minutes} minute(s)")

    def failed(self, email: str, client: str | None) -> None:
        now = self._clock()
        for key, _ in self._keys(email, client):
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > PRUNE_ABOVE:  # many distinct guesses: forget expired ones
            for key in list(self._failures):
                self._recent(key)

    def succeeded(self, email: str) -> None:
        self._failures.pop("account:" + email, None)

    def _keys(self, email: str, client: str | None) -> list[tuple[str, int]]:
        keys = [("account:" + email, self.per_account)]
        if client:
            keys.append(("client:" + client, self.per_client))
        return keys

    def _recent(self, key: str) -> deque[float]:
        entries = self._failures.get(key)
        if entries is None:
            return deque()
        horizon = self._clock() - self.window
        while entries and entries[0] <= horizon:
            entries.popleft()
        if not entries:
            del self._failures[key]
        return entries
