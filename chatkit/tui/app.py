"""``ChatkitApp``: the terminal client's shell, which owns the session's lifecycle.

It starts a session (a remembered profile, a login or a registration) in a worker,
presents the main screen with the session's :class:`ChatController`, and takes it
down when the session ends (the server's reason shown on the login screen). Server
events arrive here as :class:`ServerEvent` messages, in order: the app applies them
to the state, rings and toasts for chats not open, and hands the change to the
main screen, which owns every chat action.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from chatkit.client import AuthError, ChatClient, ChatEvent, ChatkitError, User
from chatkit.tui.controller import ChatController
from chatkit.tui.messages import (
    LoginSubmitted,
    ProfilePicked,
    RegisterSubmitted,
    ServerEvent,
    SessionEnded,
)
from chatkit.tui.profiles import Profile, ProfileStore, normal_server
from chatkit.tui.screens.help import HelpScreen
from chatkit.tui.screens.login import LoginScreen
from chatkit.tui.screens.main import MainScreen
from chatkit.tui.session import close as _close
from chatkit.tui.session import default_client
from chatkit.tui.state import AppState

log = logging.getLogger("chatkit.tui")

DEFAULT_SERVER = "http://127.0.0.1:8080"  # the same default as ``chatkit smoke``
CHATS = 100  # chats per page of the listing at start
CHAT_PAGES = 20  # pages listed at most (2,000 chats); the server's search finds the rest

ClientFactory = Callable[[str, str | None], ChatClient]


def _today() -> date:
    return datetime.now().astimezone().date()


class ChatkitApp(App[None]):
    """The terminal chat client. ``server``/``email`` as given on the command line;
    ``profiles`` where sessions are remembered; ``bell`` rings for messages in chats
    that are not open; ``client_factory``, ``today`` and ``save_dir`` let tests pin what varies."""

    CSS_PATH = "chatkit.tcss"
    TITLE = "chatkit"

    def __init__(self, server: str | None = None, *, email: str | None = None,
                 profiles: ProfileStore | None = None, bell: bool = True,
                 client_factory: ClientFactory = default_client, today: Callable[[], date] = _today,
                 save_dir: Path | None = None) -> None:
        super().__init__()
        self.server_given = server is not None
        self.server = normal_server(server or DEFAULT_SERVER)
        self.email = email
        self.store = profiles or ProfileStore()
        self.bell_on = bell
        self.make_client = client_factory
        self.today = today
        self.save_dir = save_dir
        self.chats: ChatController | None = None  # the session's client and state, while logged in
        self.main: MainScreen | None = None

    # --- starting a session ---------------------------------------------------------------

    def on_mount(self) -> None:
        mine = self.store.matching(self.server if self.server_given else None, self.email)
        if len(mine) == 1:
            self._resume(mine[0])
        else:
            self.push_screen(LoginScreen(self.server, email=self.email, profiles=mine or None))

    def _login_screen(self) -> LoginScreen | None:
        screen = self.screen
        return screen if isinstance(screen, LoginScreen) else None

    def _resume(self, profile: Profile) -> None:
        async def how(client: ChatClient) -> User:
            return await client.me()
        self._start(profile.server, profile.token, how, profile.email)

    def on_profile_picked(self, message: ProfilePicked) -> None:
        self._resume(message.profile)

    def on_login_submitted(self, message: LoginSubmitted) -> None:
        async def how(client: ChatClient) -> User:
            return await client.login(message.email, message.password)
        self._start(message.server, None, how)

    def on_register_submitted(self, message: RegisterSubmitted) -> None:
        async def how(client: ChatClient) -> User:
            return await client.register(message.first_name, message.last_name, message.email, message.password)
        self._start(message.server, None, how)

    @work(exclusive=True, group="session", exit_on_error=False)
    async def _start(self, server: str, token: str | None, how: Callable[[ChatClient], Awaitable[User]],
                     email: str | None = None) -> None:
        server = normal_server(server)
        screen = self._login_screen()
        if screen is not None:
            screen.busy(True)
        client = self.make_client(server, token)
        try:
            user = await how(client)
            chats = ChatController(client, AppState(user), save_dir=self.save_dir)
            client.on(ChatEvent)(self._from_client)
            self.chats, self.server = chats, server
            if client.token is not None:
                self.store.remember(Profile(server, user.email, user.full_name, client.token))
            await client.connect()
            await _load_chats(client, chats.state)
        except ChatkitError as exc:
            await _close(client)
            self.chats = None
            if token is not None and isinstance(exc, AuthError):  # a remembered session that ended
                self.store.forget(server, email)
            self._back_to_login(exc.message, server)
            return
        except Exception as exc:  # a bad URL and the like: said, never a traceback
            log.exception("could not start the session")
            await _close(client)
            self.chats = None
            self._back_to_login(f"Cannot reach {server}: {exc}", server)
            return
        await self._show_main(chats)

    async def present(self, state: AppState) -> None:
        """Show ``state`` on the main screen without a server (snapshots, demos)."""
        self.chats = ChatController(None, state, save_dir=self.save_dir)
        await self._show_main(self.chats)

    async def _show_main(self, chats: ChatController) -> None:
        self.main = MainScreen(chats, self.today)
        await self._replace_top(self.main)
        self.main.redraw()

    async def _replace_top(self, screen: Screen[None]) -> None:
        """Put ``screen`` where the login (or main) screen is; the first one goes on the app's base."""
        if len(self.screen_stack) > 1:
            await self.switch_screen(screen)
        else:
            await self.push_screen(screen)

    def _from_client(self, event: ChatEvent) -> None:
        """Every client event, in order, into the app's message queue."""
        self.post_message(ServerEvent(event))

    # --- ending it --------------------------------------------------------------------------

    def _back_to_login(self, reason: str, server: str | None = None) -> None:
        screen = self._login_screen()
        if screen is not None:
            screen.busy(False)
            screen.say(reason)
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.main = None
        self.run_worker(self._replace_top(LoginScreen(server or self.server, email=self.email, reason=reason)),
                        exit_on_error=False)

    def on_session_ended(self, message: SessionEnded) -> None:
        self._session_over(message.reason)

    def _session_over(self, reason: str) -> None:
        """The server ended the session: forget its token, go back to the login screen."""
        chats = self.chats
        if chats is None or chats.state.closing:
            return
        chats.state.closing = True
        self.store.forget(self.server, chats.state.me.email)
        self.chats = None
        self.notify(reason, title="Session ended", severity="error", timeout=10)
        if chats.client is not None:
            self.run_worker(_close(chats.client), exit_on_error=False)
        self.email = chats.state.me.email
        self._back_to_login(reason)

    def action_logout(self) -> None:
        chats = self.chats
        client = chats.client if chats is not None else None
        if chats is None or client is None:
            return
        chats.state.closing = True

        async def job() -> None:
            with contextlib.suppress(ChatkitError):
                await client.logout()
            await _close(client)
        self.run_worker(job(), exit_on_error=False)
        self.store.forget(self.server, chats.state.me.email)
        self.chats = None
        self._back_to_login("Logged out")

    async def on_unmount(self) -> None:
        if self.chats is not None:
            self.chats.state.closing = True
            if self.chats.client is not None:
                await _close(self.chats.client)

    # --- server events ------------------------------------------------------------------

    def on_server_event(self, message: ServerEvent) -> None:
        if self.chats is None:
            return
        change = self.chats.state.apply(message.event)
        if change.session_over is not None:
            self._session_over(change.session_over)
            return
        if change.error is not None:
            self.notify(change.error, title="Server", severity="error")
        if change.alert is not None:
            if self.bell_on:
                self.bell()
            self.notify(change.alert.preview, title=change.alert.sender)
        if self.main is not None:
            self.main.server_changed(message.event, change)

    # --- global keys and the palette ------------------------------------------------------------

    def action_toggle_bell(self) -> None:
        self.bell_on = not self.bell_on
        self.notify(f"Bell {'on' if self.bell_on else 'off'} for new messages", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        yield from screen.system_commands()
        yield SystemCommand("Toggle bell", "Ring on new messages in other chats (Ctrl+B)", self.action_toggle_bell)
        yield SystemCommand("Help", "Keys and commands (F1)", self.action_help)
        yield SystemCommand("Log out", "End this session and forget it", self.action_logout)


async def _load_chats(client: ChatClient, state: AppState) -> None:
    """Every chat, newest activity first, a page at a time (up to ``CHAT_PAGES``)."""
    page = await client.chats(limit=CHATS, messages=1)
    state.load_chats(page)
    while page.has_next and page.page < CHAT_PAGES:
        page = await client.chats(page=page.page + 1, limit=CHATS, messages=1)
        state.load_chats(page)


def run(server: str | None, email: str | None, *, bell: bool = True) -> None:
    """``chatkit tui``: run the app in this terminal."""
    ChatkitApp(server, email=email, bell=bell).run()
