"""Test harness for ``chatkit.client``: real ``ChatClient``s whose events are recorded.

A :class:`Person` is a registered user with a logged-in ``ChatClient`` and a
:class:`Recorder` that drains ``client.events()`` in the background, so a test can
wait for "the next ``MessageReceived`` whose content is X" (``await ann.events.next(...)``)
without losing the events it is not looking at. Waits are bounded and fail listing
what did arrive; they wake on each arrival rather than polling.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chatkit.client import ChatClient, ChatEvent, ChatOpened, Message, MessageReceived, User
from tests.helpers.constants import PASSWORD

E = TypeVar("E", bound=ChatEvent)
DEFAULT_TIMEOUT = 5.0
QUIET_WINDOW = 0.5


class Recorder:
    """Every event a client publishes, in order, as ``events()`` gives them."""

    def __init__(self, client: ChatClient, label: str) -> None:
        self.client = client
        self.label = label
        self.history: list[ChatEvent] = []
        self.ended = asyncio.Event()
        self._taken: set[int] = set()
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:  # events() ends with each live session; a later login starts a new one
            async for event in self.client.events():
                self.history.append(event)
                self._arrived.set()
            self.ended.set()
            self._arrived.set()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def all(self, kind: type[E]) -> list[E]:
        return [e for e in self.history if isinstance(e, kind)]

    def messages(self) -> list[Message]:
        """Every message given to the consumer, in order (``message`` and ``new-chat`` alike)."""
        return [e.message for e in self.history if isinstance(e, MessageReceived | ChatOpened)]

    def drain(self, kind: type[ChatEvent] = ChatEvent) -> list[ChatEvent]:
        """Take (and return) every event of ``kind`` recorded so far, so that later waits
        only see what arrives from now on (e.g. the next ``OnlineUsers`` after a hang-up)."""
        dropped = [e for i, e in enumerate(self.history) if i not in self._taken and isinstance(e, kind)]
        self._taken.update(i for i, e in enumerate(self.history) if isinstance(e, kind))
        return dropped

    async def next(self, kind: type[E], match: Callable[[E], Any] | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> E:
        """The oldest not-yet-taken event of ``kind`` (matching ``match``), waiting up to ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, event in enumerate(self.history):
                if i not in self._taken and isinstance(event, kind) and (match is None or match(event)):
                    self._taken.add(i)
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.label}: no {kind.__name__}{' matching' if match else ''} within {timeout}s; "
                    f"received: {[type(e).__name__ for e in self.history][-40:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def until(self, condition: Callable[[Recorder], Any], *, what: str,
                    timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until ``condition(self)`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.label}: {what} not reached within {timeout}s; "
                                     f"received: {[type(e).__name__ for e in self.history][-40:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def no_event(self, kind: type[E], match: Callable[[E], Any] | None = None,
                       within: float = QUIET_WINDOW) -> None:
        """Assert that no untaken (matching) ``kind`` is recorded now or within ``within`` s."""
        await asyncio.sleep(within)
        found = [e for i, e in enumerate(self.history)
                 if i not in self._taken and isinstance(e, kind) and (match is None or match(e))]
        assert not found, f"{self.label}: unexpected {kind.__name__}: {found[:3]}"


@dataclass
class Person:
    """A registered user: their client (logged in and connected), recorded events, login."""

    client: ChatClient
    events: Recorder
    user: User
    email: str
    password: str

    @property
    def id(self) -> str:
        return self.user.id


async def open_chat(ann: Person, bob: Person, text: str = "hi") -> str:
    """Ann writes Bob a first message; both take its ``ChatOpened``; returns the chat id."""
    sent = await ann.client.send(text, to=bob.id)
    for person in (ann, bob):
        await person.events.next(ChatOpened, lambda e: e.chat_id == sent.chat_id)
    return sent.chat_id


def assert_exactly_once(person: Person, chat_id: str, expected: set[str]) -> list[Message]:
    """The consumer got each expected message once, and nothing else in that chat."""
    mine = [m for m in person.events.messages() if m.chat_id == chat_id]
    counts = Counter(m.content for m in mine)
    doubled = {c: n for c, n in counts.items() if n > 1}
    assert not doubled, f"{person.user.first_name} got messages twice: {doubled}"
    assert set(counts) == expected, (f"{person.user.first_name} lost {sorted(expected - set(counts))[:10]}, "
                                     f"extra {sorted(set(counts) - expected)[:10]}")
    assert len({m.id for m in mine}) == len(mine)
    return mine


class People:
    """Registers users through ``ChatClient`` for one test and closes every client at its end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[ChatClient] = []
        self.recorders: list[Recorder] = []

    def client(self, **options: Any) -> ChatClient:
        """A new client (not logged in), closed at the end of the test."""
        client = ChatClient(self.url, **options)
        self.clients.append(client)
        return client

    def record(self, client: ChatClient, label: str) -> Recorder:
        recorder = Recorder(client, label)
        self.recorders.append(recorder)
        return recorder

    async def register(self, first: str = "Ann", last: str = "Lee", *, online: bool = True,
                       notification_token: str | None = None, **options: Any) -> Person:
        """A new user, logged in; connected unless ``online=False`` (then REST only, until
        ``await person.client.connect()``)."""
        client = self.client(realtime=online, **options)
        events = self.record(client, first)
        email = f"{first.lower()}.{uuid.uuid4().hex[:8]}@example.com"
        user = await client.register(first, last, email, PASSWORD, notification_token=notification_token)
        return Person(client, events, user, email, PASSWORD)

    async def two(self) -> tuple[Person, Person]:
        """The usual opening: Ann Lee and Bob Ray, registered and connected, in that order."""
        return await self.register("Ann", "Lee"), await self.register("Bob", "Ray")

    async def tab(self, person: Person, label: str | None = None) -> Person:
        """Another connection of ``person``'s session (a second browser tab), connected."""
        client = self.client(token=person.client.token)
        events = self.record(client, label or f"{person.user.first_name} (tab)")
        await client.connect()
        return Person(client, events, person.user, person.email, person.password)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for recorder in self.recorders:
            await recorder.stop()
