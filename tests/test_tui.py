"""``chatkit tui`` driven as a person would (Textual's pilot: keys in, screen read back)
against a real server, with the other person scripted through ``chatkit.client``.

What is asserted is what the screen shows: the chat list's rows, the log's lines and
their ticks, the typing line, the header, the login screen's message. Every wait is
a bounded wait on what the screen shows, never a sleep.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from chatkit.client import Backoff, ChatClient, MessageReceived, MessagesSeen, StoppedTyping, Typing
from chatkit.mongod import free_port
from chatkit.protocol import Sentence
from chatkit.server.runner import RunningServer, start_server
from chatkit.settings import Settings
from chatkit.tui.app import ChatkitApp
from chatkit.tui.controller import PAGE
from chatkit.tui.profiles import Profile, ProfileStore
from chatkit.tui.screens.confirm import ConfirmDialog
from chatkit.tui.screens.login import LoginScreen
from chatkit.tui.screens.main import MainScreen
from chatkit.tui.state import Link
from chatkit.tui.widgets.chat_list import ChatList
from chatkit.tui.widgets.composer import Composer
from chatkit.tui.widgets.message_log import ImageLine, MessageLog
from chatkit.tui.widgets.status_bar import StatusBar
from chatkit.tui.widgets.typing_line import TypingLine
from tests.helpers.clients import People, Person
from tests.helpers.constants import PASSWORD
from tests.helpers.images import png
from tests.helpers.waiting import wait_until

SIZE = (120, 40)
TIMEOUT = 10.0


def tui(url: str, store_path: Path, *, email: str | None = None, backoff: Backoff | None = None) -> ChatkitApp:
    """The app on the test server, remembering sessions in the test's own file, bell off."""
    def client(server: str, token: str | None) -> ChatClient:
        return ChatClient(server, token=token, realtime=False, backoff=backoff or Backoff(first=0.1, ceiling=0.5))
    return ChatkitApp(url, email=email, profiles=ProfileStore(store_path), bell=False, client_factory=client,
                      save_dir=store_path.parent / "saved")


def remembered(url: str, store_path: Path, person: Person, token: str) -> None:
    """A session the app resumes at start, as if the person had logged in before."""
    ProfileStore(store_path).remember(Profile(url, person.email, person.user.full_name, token))


async def second_session(url: str, person: Person) -> str:
    """Another device's token for ``person`` (the TUI's own session)."""
    async with ChatClient(url, realtime=False) as device:
        await device.login(person.email, PASSWORD)
        assert device.token is not None
        token: str = device.token
    # leaving the block closes the client but keeps the session: the token stays valid
    return token


async def shows(pilot: Pilot[Any], condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Wait until the screen shows ``condition`` (re-checked after each refresh)."""
    async def probe() -> Any:
        await pilot.pause()
        return condition()
    return await wait_until(probe, what=what, timeout=timeout)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


def main_of(app: ChatkitApp) -> MainScreen:
    assert app.main is not None, "the main screen is not up"
    return app.main


def rows(app: ChatkitApp) -> list[str]:
    return main_of(app).query_one(ChatList).rows()


def log_lines(app: ChatkitApp) -> list[str]:
    return main_of(app).query_one(MessageLog).lines()


def log_line(app: ChatkitApp, needle: str) -> Any:
    return main_of(app).query_one(MessageLog).find(needle)


def line_text(app: ChatkitApp, needle: str) -> str:
    text = log_line(app, needle)
    return "" if text is None else text.plain


def typing_line(app: ChatkitApp) -> str:
    return str(main_of(app).query_one(TypingLine).content)


def tick_of(app: ChatkitApp, needle: str) -> tuple[str, str]:
    """The receipt mark on my line containing ``needle``, and its style."""
    text = log_line(app, needle)
    if text is None:
        return "", ""
    head = text.plain.split("\n")[0]
    mark = head.rsplit("  ", 1)[-1]
    start = head.rfind(mark)
    styles = [str(span.style) for span in text.spans if span.start == start]
    return mark, (styles[0] if styles else "")


async def test_log_in_see_unread_open_read_typing_and_ticks(server: RunningServer, people: People,
                                                           tmp_path: Path) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    await ann.client.close()  # Ann uses the terminal client from here on
    store = tmp_path / "profiles.json"
    app = tui(server.url, store, email=ann.email)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        await type_text(pilot, PASSWORD)
        await pilot.press("enter")
        await shows(pilot, lambda: app.main is not None and app.screen is app.main, "the main screen")
        # the session is remembered for next time, readable by its owner only
        assert [p.email for p in ProfileStore(store).all()] == [ann.email]
        assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
        await shows(pilot, lambda: main_of(app).query_one(StatusBar).link == Link.ONLINE, "connected")

        # Bob writes: a row with his name, the text and an unread badge
        first = await bob.client.send("hello Ann", to=ann.id)
        chat_id = first.chat_id
        await shows(pilot, lambda: any("Bob Ray" in r and "hello Ann" in r and " 1 " in r for r in rows(app)),
                    "Bob's row with the message and a badge of 1")

        # opening it clears the badge, shows the message, and tells Bob it was seen
        await pilot.press("enter")
        await shows(pilot, lambda: any("hello Ann" in line for line in log_lines(app)), "Bob's message in the log")
        await shows(pilot, lambda: not any(" 1 " in r for r in rows(app)), "the badge gone")
        await bob.events.next(MessagesSeen, lambda e: e.chat_id == chat_id)
        assert isinstance(app.focused, Composer)

        # Bob types: the line appears, then goes when he stops
        await bob.client.typing(chat_id)
        await shows(pilot, lambda: typing_line(app) == "Bob Ray is typing…", "Bob is typing")
        await bob.client.stop_typing(chat_id)
        await shows(pilot, lambda: typing_line(app) == "", "the typing line cleared")

        # Ann types (Bob hears it), then sends with Enter (Bob hears her stop, then the message)
        await type_text(pilot, "hi Bob")
        await bob.events.next(Typing, lambda e: e.chat_id == chat_id and e.user_id == ann.id)
        await pilot.press("enter")
        await bob.events.next(StoppedTyping, lambda e: e.chat_id == chat_id)
        got = await bob.events.next(MessageReceived, lambda e: e.message.content == "hi Bob")
        assert got.message.sender_id == ann.id

        # with Bob away, a message is stored (✓); his device takes it (✓✓); he reads it (✓✓ in colour)
        await bob.client.disconnect()
        await type_text(pilot, "are you there?")
        await pilot.press("ctrl+j")
        await type_text(pilot, "second line")
        await pilot.press("enter")
        await shows(pilot, lambda: tick_of(app, "second line")[0] == "✓", "one tick: stored")
        assert "are you there?\nsecond line" in line_text(app, "second line")
        await bob.client.connect()
        await shows(pilot, lambda: tick_of(app, "second line")[0] == "✓✓", "two ticks: delivered")
        delivered_style = tick_of(app, "second line")[1]
        await bob.client.join(chat_id)
        await shows(pilot, lambda: tick_of(app, "second line")[1] not in ("", delivered_style),
                    "two ticks in colour: read")
        assert tick_of(app, "second line") == ("✓✓", "bold cyan")


async def test_an_image_a_block_a_refusal_a_retry_and_clearing(server: RunningServer, people: People,
                                                               tmp_path: Path) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    store = tmp_path / "profiles.json"
    remembered(server.url, store, ann, await second_session(server.url, ann))
    await bob.client.send("look at this", to=ann.id)
    app = tui(server.url, store)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, lambda: app.main is not None and any("Bob Ray" in r for r in rows(app)),
                    "straight in with the remembered session")
        await pilot.press("enter")
        await shows(pilot, lambda: any("look at this" in line for line in log_lines(app)), "the chat open")

        # an image from Bob: its line names the file, and a preview is drawn under it
        picture = png(48, 32)
        [image] = await bob.client.send_images([picture], to=ann.id)
        await shows(pilot, lambda: any(f"[image-{image.id[-6:]}.png]" in line for line in log_lines(app)),
                    "the image's line with its name")
        await shows(pilot, lambda: len(main_of(app).query(ImageLine).first().query(".preview")) == 1,
                    "the image's preview")
        await pilot.press("ctrl+s")
        saved = tmp_path / "saved" / f"image-{image.id[-6:]}.png"
        await shows(pilot, saved.exists, "the image saved")

        # /block: a system line; a message then is refused, visibly, and stays for a retry
        await type_text(pilot, "/block")
        await pilot.press("enter")
        await shows(pilot, lambda: any("You blocked Bob Ray" in line for line in log_lines(app)), "the Label line")
        await type_text(pilot, "still there?")
        await pilot.press("enter")
        await shows(pilot, lambda: "Not sent: You can't send a message to a blocked user"
                    in line_text(app, "still there?"), "the refusal on the message")
        await type_text(pilot, "/unblock")
        await pilot.press("enter")
        await shows(pilot, lambda: any("You unblocked Bob Ray" in line for line in log_lines(app)), "unblocked")
        await pilot.press("ctrl+r")
        got = await bob.events.next(MessageReceived, lambda e: e.message.content == "still there?")
        await shows(pilot, lambda: "Not sent" not in line_text(app, "still there?"), "the retry went through")
        assert got.message.sender_id == ann.id

        # /clear asks first, then empties the chat for Ann only
        await type_text(pilot, "/clear")
        await pilot.press("enter")
        await shows(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirm dialog")
        await pilot.press("y")
        await shows(pilot, lambda: log_lines(app) == [], "the chat cleared")
        assert "still there?" in [m.content for m in await _all_messages(bob, got.message.chat_id)]  # Bob keeps it


async def test_older_messages_are_paged_in_on_demand(server: RunningServer, people: People, tmp_path: Path) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")
    chat_id = (await bob.client.send("m00", to=ann.id)).chat_id
    for n in range(1, PAGE + 5):
        await bob.client.send(f"m{n:02d}", chat_id=chat_id)
    store = tmp_path / "profiles.json"
    remembered(server.url, store, ann, await second_session(server.url, ann))
    app = tui(server.url, store)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, lambda: app.main is not None and bool(rows(app)), "the main screen")
        await pilot.press("enter")
        newest = f"m{PAGE + 4:02d}"
        await shows(pilot, lambda: sum(1 for line in log_lines(app) if "Bob Ray" in line) == PAGE,
                    "the newest page")
        assert newest in log_lines(app)[-1] and not any(line.endswith("\nm00") for line in log_lines(app))
        await pilot.press("ctrl+g")
        await shows(pilot, lambda: sum(1 for line in log_lines(app) if "Bob Ray" in line) == PAGE + 5,
                    "every message after paging")
        assert log_lines(app)[1].endswith("\nm00")  # under the day separator, the oldest


async def test_every_chat_is_listed_a_page_at_a_time(server: RunningServer, people: People, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatkit.tui.app.CHATS", 2)  # pages of 2, so 5 chats take 3 pages
    ann = await people.register("Ann", "Lee")
    for n in range(5):
        friend = await people.register(f"Friend{n}", "Lee")
        await friend.client.send(f"hello from {n}", to=ann.id)
    store = tmp_path / "profiles.json"
    remembered(server.url, store, ann, await second_session(server.url, ann))
    app = tui(server.url, store)
    async with app.run_test(size=SIZE) as pilot:
        listed = await shows(pilot, lambda: app.main is not None and len(rows(app)) == 5 and rows(app),
                             "all five chats")
        assert ["Friend4" in row for row in listed] == [True, False, False, False, False]  # newest first


async def _all_messages(person: Person, chat_id: str) -> list[Any]:
    return [m async for m in person.client.messages(chat_id)]


async def test_a_server_restart_reconnects_and_shows_what_was_sent_meanwhile(settings: Settings,
                                                                               tmp_path: Path) -> None:
    fixed = dataclasses.replace(settings, port=free_port())
    running: RunningServer | None = await start_server(fixed, fixed.mongo_url or "")
    assert running is not None
    pool = People(running.url)
    try:
        ann = await pool.register("Ann", "Lee")
        bob = await pool.register("Bob", "Ray", backoff=Backoff(first=0.05, ceiling=0.2))
        chat_id = (await bob.client.send("before", to=ann.id)).chat_id
        store = tmp_path / "profiles.json"
        remembered(running.url, store, ann, await second_session(running.url, ann))
        await ann.client.close()
        # Ann's client comes back slowly, so Bob's message lands while she is still away
        app = tui(running.url, store, backoff=Backoff(first=1.5, ceiling=1.5))
        async with app.run_test(size=SIZE) as pilot:
            await shows(pilot, lambda: app.main is not None and bool(rows(app)), "the main screen")
            await pilot.press("enter")
            await shows(pilot, lambda: any("before" in line for line in log_lines(app)), "the chat open")
            await type_text(pilot, "half a thought")
            status = main_of(app).query_one(StatusBar)
            await shows(pilot, lambda: status.link == Link.ONLINE, "connected")

            await running.stop()
            running = None
            await shows(pilot, lambda: status.link == Link.RECONNECTING
                        and "reconnecting" in str(status.render()), "reconnecting in the header")
            running = await start_server(fixed, fixed.mongo_url or "")
            await bob.client.send("while you were away", chat_id=chat_id)
            await shows(pilot, lambda: any("while you were away" in line for line in log_lines(app)),
                        "the message sent meanwhile", timeout=20)
            await shows(pilot, lambda: status.link == Link.ONLINE, "connected again")
            assert main_of(app).query_one(Composer).text == "half a thought"  # the draft survived
    finally:
        await pool.close()
        if running is not None:
            await running.services.storage.client.drop_database(fixed.db_name)
            await running.stop()


async def test_a_ban_returns_to_the_login_screen_with_the_reason(server: RunningServer, people: People,
                                                                 admin_cli: Any, tmp_path: Path) -> None:
    ann = await people.register("Ann", "Lee")
    store = tmp_path / "profiles.json"
    remembered(server.url, store, ann, await second_session(server.url, ann))
    app = tui(server.url, store)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, lambda: app.main is not None and app.screen is app.main, "the main screen")
        await shows(pilot, lambda: main_of(app).query_one(StatusBar).link == Link.ONLINE, "connected")
        result = await admin_cli("users", "ban", ann.email)
        assert result.exit_code == 0, result.output
        await shows(pilot, lambda: isinstance(app.screen, LoginScreen), "back on the login screen")
        said = str(app.screen.query_one("#login-message", Static).content)
        assert said in (Sentence.SESSION_ENDED, Sentence.ACCOUNT_BLOCKED)  # the server's words, whichever came first
        assert ProfileStore(store).all() == []  # the dead token is forgotten


@pytest.mark.parametrize("given", [None, "ann@example.com"])
async def test_logout_forgets_remembered_sessions(tmp_path: Path, given: str | None) -> None:
    """``--logout`` with nothing reachable still forgets (the session ends when the server can be told)."""
    from chatkit.tui.session import forget

    store = ProfileStore(tmp_path / "profiles.json")
    dead = f"http://127.0.0.1:{free_port()}"
    store.remember(Profile(dead, "ann@example.com", "Ann Lee", "t1"))
    store.remember(Profile(dead, "bob@example.com", "Bob Ray", "t2"))
    gone = await forget(dead, given, store)
    assert {p.email for p in gone} == ({"ann@example.com"} if given else {"ann@example.com", "bob@example.com"})
    assert {p.email for p in store.all()} == ({"bob@example.com"} if given else set())


def test_the_command_checks_the_url_and_logout_forgets_the_remembered_session(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatkit.cli.main import app as cli

    runner = CliRunner()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    bad = runner.invoke(cli, ["tui", "--server", "ftp://example.com"], env=env)
    assert bad.exit_code == 2 and "--server must be an http:// or https:// URL" in bad.output
    dead = f"http://127.0.0.1:{free_port()}"
    store = ProfileStore(tmp_path / "config" / "chatkit" / "tui-profiles.json")
    store.remember(Profile(dead, "ann@example.com", "Ann Lee", "t1"))
    out = runner.invoke(cli, ["tui", "--logout", "--server", dead], env=env)
    assert out.exit_code == 0 and out.output.strip() == f"Logged out and forgot ann@example.com on {dead}"
    assert store.all() == []
    again = runner.invoke(cli, ["tui", "--logout"], env=env)
    assert again.exit_code == 0 and again.output.strip() == "No remembered session to forget"
