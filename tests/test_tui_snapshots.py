"""Snapshots of ``chatkit tui`` at 120x40 (pytest-textual-snapshot): the login screen, a
populated main screen and the new-chat dialog.

The main screen is fed fixed state (names, times, receipts) rather than a live
server, so every run draws the same screen: times are shown in UTC and "today" is
pinned. ``pytest --snapshot-update`` rewrites the SVGs after a deliberate change;
look at them (``tests/__snapshots__/``) before committing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from chatkit.client import BlockState, Chat, DirectoryEntry, Message, OnlineUsers, Peer, Typing, User
from chatkit.tui.app import ChatkitApp
from chatkit.tui.profiles import ProfileStore
from chatkit.tui.screens.new_chat import NewChatDialog
from chatkit.tui.state import AppState, Link
from tests.helpers.waiting import wait_until

SIZE = (120, 40)
TODAY = date(2024, 6, 3)
NOON = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
ME = User("a" * 24, "Ann", "Lee", "Ann Lee", "ann@example.com", None, None, True, False, frozenset(), None, None,
          None)
PEOPLE = [Peer("b" * 24, "Bob Ray", None), Peer("c" * 24, "Cat Day", None), Peer("d" * 24, "Dan Fox", None)]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def msg(n: int, chat: str, peer: Peer, *, mine: bool, at: datetime, text: str, kind: str = "text",
        delivered: bool = True, read: bool = True) -> Message:
    return Message(f"{n:024x}", chat, ME.id if mine else peer.id, peer.id if mine else ME.id, text,
                   kind, delivered, read, at, None, mine)  # type: ignore[arg-type]


def fixed_state() -> AppState:
    bob, cat, dan = PEOPLE
    c1, c2, c3 = "1" * 24, "2" * 24, "3" * 24
    yesterday = NOON - timedelta(days=1)
    state = AppState(ME)
    state.load_chats([
        Chat(c1, bob, BlockState(False, False, False), (
            msg(1, c1, bob, mine=False, at=yesterday, text="Are we still on for tomorrow?"),
            msg(2, c1, bob, mine=True, at=yesterday + timedelta(minutes=3), text="Yes! 10:00 at the usual place."),
            msg(3, c1, bob, mine=False, at=NOON - timedelta(minutes=30), text="Running late,\nten minutes"),
            msg(4, c1, bob, mine=True, at=NOON - timedelta(minutes=28), text="No problem", read=True),
            msg(5, c1, bob, mine=True, at=NOON - timedelta(minutes=2), text="I'll order coffee", read=False),
            msg(6, c1, bob, mine=True, at=NOON - timedelta(minutes=1), text="Flat white?", delivered=False,
                read=False),
        ), 0, NOON - timedelta(minutes=1)),
        Chat(c2, cat, BlockState(False, False, False), (
            msg(7, c2, cat, mine=False, at=NOON - timedelta(minutes=5), text="Did you see the deploy notes?",
                read=False),), 2, NOON - timedelta(minutes=5)),
        Chat(c3, dan, BlockState(True, True, False), (
            msg(8, c3, dan, mine=True, at=yesterday - timedelta(days=3), text="blocked", kind="Label"),),
             0, yesterday - timedelta(days=3)),
    ])
    state.apply(OnlineUsers(frozenset({ME.id, bob.id})))
    state.link = Link.ONLINE
    state.open(c1)
    state.apply(Typing(c1, bob.id, bob.full_name))
    return state


def app(tmp_path: Path) -> ChatkitApp:
    return ChatkitApp("http://chat.example.com:8080", email="ann@example.com",
                      profiles=ProfileStore(tmp_path / "profiles.json"), bell=False, today=lambda: TODAY)


async def populated(pilot: Pilot[Any]) -> None:
    chatkit = pilot.app
    assert isinstance(chatkit, ChatkitApp)
    await chatkit.present(fixed_state())
    await pilot.pause()


async def directory(text: str) -> list[DirectoryEntry]:
    people = [DirectoryEntry("b" * 24, "Bob", "Ray", "Bob Ray", None, True, True),
              DirectoryEntry("e" * 24, "Eve", "Stone", "Eve Stone", None, True, False),
              DirectoryEntry("f" * 24, "Fay", "Long", "Fay Long", None, True, False)]
    return [p for p in people if p.full_name.lower().startswith(text.lower())]


async def new_chat_dialog(pilot: Pilot[Any]) -> None:
    await populated(pilot)
    dialog = NewChatDialog(directory)
    await pilot.app.push_screen(dialog)

    async def listed() -> int:
        await pilot.pause()
        return len(dialog.found)
    await wait_until(listed, until=lambda n: n == 3, what="the directory listed")


def test_login_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path), terminal_size=SIZE)


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=populated)


def test_new_chat_dialog(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path), terminal_size=SIZE, run_before=new_chat_dialog)
