"""What a smoke run knows: its options, its two users, and the chat they share.

The two users are *A* and *B*. Each has its own :class:`~chatkit.client.ChatClient`
(live connection opened by the ``connect`` step, not by logging in, so that each is
timed on its own) and an :class:`Inbox` of the events it heard.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from chatkit.client import ChatClient, ChatEvent, Message, User
from chatkit.smoke.inbox import Inbox

E = TypeVar("E", bound=ChatEvent)

THROWAWAY_DOMAIN = "example.invalid"  # RFC 2606: never a real mailbox
THROWAWAY_NAME = "Smoke", "Test"  # then A or B: "Smoke" "Test A"


class Mismatch(Exception):
    """The server answered, but not what the contract promises (or not in time)."""


def require(condition: bool, failure: str) -> None:
    if not condition:
        raise Mismatch(failure)


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str = field(repr=False)  # never printed


@dataclass(frozen=True)
class SmokeOptions:
    """``throwaway``: the accounts are registered by the run and retired at its end;
    otherwise they exist already and are left able to log in."""

    server: str
    accounts: tuple[Credentials, Credentials]
    throwaway: bool
    timeout: float = 10.0


def throwaway_accounts() -> tuple[Credentials, Credentials]:
    """Two fresh accounts, "Smoke Test A" <smoke+RUN-a@example.invalid> and "Smoke Test B"
    <smoke+RUN-b@...>, with random passwords."""
    run = secrets.token_hex(4)
    return (Credentials(f"smoke+{run}-a@{THROWAWAY_DOMAIN}", secrets.token_urlsafe(18)),
            Credentials(f"smoke+{run}-b@{THROWAWAY_DOMAIN}", secrets.token_urlsafe(18)))


class Side:
    """One of the two smoke users."""

    def __init__(self, name: str, credentials: Credentials, options: SmokeOptions) -> None:
        self.name = name
        self.credentials = credentials
        self.client = ChatClient(options.server, timeout=options.timeout, send_timeout=options.timeout,
                                 realtime=False, queue_events=False)
        self.inbox = Inbox(self.client)
        self.user: User | None = None

    @property
    def me(self) -> User:
        if self.user is None:
            raise Mismatch(f"{self.name} has no session")
        return self.user

    @property
    def id(self) -> str:
        return self.me.id

    @property
    def has_session(self) -> bool:
        return self.client.token is not None


class Run:
    def __init__(self, options: SmokeOptions) -> None:
        self.options = options
        self.a = Side("A", options.accounts[0], options)
        self.b = Side("B", options.accounts[1], options)
        self.tag = secrets.token_hex(3)  # in every message text, to tell this run's messages apart
        self.deadline = 0.0  # of the step running now (loop time)
        self._chat_id: str | None = None
        self.sent: dict[str, Message] = {}  # messages later steps refer to, by name

    def message(self, name: str) -> Message:
        if name not in self.sent:
            raise Mismatch(f"no {name} message: its step did not send it")
        return self.sent[name]

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.a, self.b

    @property
    def chat_id(self) -> str:
        """The chat of A and B, opened by the first message."""
        if self._chat_id is None:
            raise Mismatch("no chat: the first message was not sent")
        return self._chat_id

    @chat_id.setter
    def chat_id(self, value: str) -> None:
        self._chat_id = value

    def text(self, words: str) -> str:
        return f"smoke {self.tag}: {words}"

    async def expect(self, side: Side, kind: type[E], match: Callable[[E], bool], what: str) -> E:
        """The event ``side`` must hear during this step; a Mismatch naming it if it does not come."""
        remaining = max(0.0, self.deadline - asyncio.get_running_loop().time())
        event = await side.inbox.next(kind, match, remaining)
        if event is None:
            raise Mismatch(f"{side.name} got no {what} within {self.options.timeout:g}s")
        return event

    async def close(self) -> None:
        for side in self.sides:
            await side.client.close()
