"""Push backends: how one queued notification reaches devices, one subclass per service.

Structured like python-socketio's managers: the base class fixes the one job (deliver
a notification to some device tokens, saying per token what happened), and a subclass
per service does it. The sender (``sender.py``) owns queueing, retries and the
record; a backend only talks to its service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

Result = Literal["sent", "gone", "rejected", "retry", "recorded"]
"""Per device token: ``sent``; ``gone`` (the service says the token is unregistered or
invalid: drop it); ``rejected`` (refused for good otherwise); ``retry`` (a transient
failure: try again later); ``recorded`` (nothing was sent, by design)."""


@dataclass(frozen=True)
class Notification:
    """What a push says, as stored in the outbox."""

    title: str
    body: str
    data: dict[str, str]
    collapse_key: str  # notifications with the same key replace each other on a device
    image: str | None = None


@dataclass(frozen=True)
class TokenOutcome:
    token: str
    result: Result
    reason: str | None = None  # never contains the token
    retry_after: float | None = None  # seconds the service asked us to wait


class PushBackend:
    """Deliver notifications to device tokens; ``sends`` is False for a backend that
    only keeps the record (then the outbox records each message, and merges none)."""

    name: ClassVar[str] = "none"
    sends: ClassVar[bool] = True

    async def start(self) -> None:
        """Acquire what delivering needs (credentials, clients); raise if it cannot."""

    async def close(self) -> None:
        """Release what ``start`` acquired."""

    async def deliver(self, note: Notification, tokens: list[str]) -> list[TokenOutcome]:
        raise NotImplementedError


class RecordOnlyBackend(PushBackend):
    """No push service configured: nothing leaves the server, the outbox is the record.

    A push still queued (left by a run that had Firebase) is settled as recorded too:
    it was never sent, and it will not be.
    """

    name = "record-only"
    sends = False

    async def deliver(self, note: Notification, tokens: list[str]) -> list[TokenOutcome]:
        return [TokenOutcome(token, "recorded") for token in tokens]
