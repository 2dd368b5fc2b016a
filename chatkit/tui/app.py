"""``ChatkitApp``: the terminal client's one owner of the ``ChatClient`` and the state.

Widgets post what the user asks for (``chatkit.tui.messages``); the app does it
through ``chatkit.client`` in a worker, puts the result into :class:`AppState` and
hands the screen what to show. Server events arrive the same way, as
:class:`ServerEvent` messages in order. A server error becomes a notification; a
session the server ended (ban, password change, log-out elsewhere, expiry) returns
to the login screen with the server's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import platformdirs
from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from chatkit.client import (
    AuthError,
    BlockState,
    ChatClient,
    ChatEvent,
    ChatkitError,
    Connected,
    DirectoryEntry,
    Message,
    Peer,
    User,
)
from chatkit.tui import commands
from chatkit.tui.messages import (
    ChatPicked,
    LoginSubmitted,
    OlderWanted,
    ProfilePicked,
    RegisterSubmitted,
    ServerEvent,
    Submitted,
    TypingChanged,
)
from chatkit.tui.profiles import Profile, ProfileStore, normal_server
from chatkit.tui.screens.confirm import ConfirmDialog
from chatkit.tui.screens.help import HelpScreen
from chatkit.tui.screens.image_view import ImageView
from chatkit.tui.screens.login import LoginScreen
from chatkit.tui.screens.main import MainScreen
from chatkit.tui.screens.new_chat import NewChatDialog
from chatkit.tui.session import close as _close
from chatkit.tui.session import default_client
from chatkit.tui.state import AppState, Change, ChatState
from chatkit.tui.widgets.chat_list import ChatList
from chatkit.tui.widgets.composer import Composer
from chatkit.tui.widgets.message_log import MessageLog, Picture
from chatkit.tui.widgets.online_panel import OnlinePanel

log = logging.getLogger("chatkit.tui")

DEFAULT_SERVER = "http://127.0.0.1:8080"  # the same default as ``chatkit smoke``
PAGE = 50  # messages fetched per page of a chat
CHATS = 100  # chats listed at start
NEW = "new:"  # id prefix of a chat with someone I have not written to yet

ClientFactory = Callable[[str, str | None], ChatClient]


def _today() -> date:
    return datetime.now().astimezone().date()


class ChatkitApp(App[None]):
    """The terminal chat client. ``server``/``email`` as given on the command line;
    ``profiles`` where sessions are remembered; ``bell`` rings for messages in chats
    that are not open; ``client_factory`` and ``today`` let tests pin what varies."""

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
        self.client: ChatClient | None = None
        self.state: AppState | None = None
        self.main: MainScreen | None = None
        self.pictures: dict[str, Picture] = {}
        self._downloading: set[str] = set()
        self._typing_in: str | None = None
        self._older_busy = False

    # --- start and session ------------------------------------------------------------

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
            state = AppState(user)
            client.on(ChatEvent)(self._from_client)
            self.client, self.state, self.server = client, state, server
            if client.token is not None:
                self.store.remember(Profile(server, user.email, user.full_name, client.token))
            await client.connect()
            state.load_chats(await client.chats(limit=CHATS, messages=1))
        except ChatkitError as exc:
            await _close(client)
            self.client = self.state = None
            if token is not None and isinstance(exc, AuthError):  # a remembered session that ended
                self.store.forget(server, email)
            self._back_to_login(exc.message, server)
            return
        except Exception as exc:  # a bad URL and the like: said, never a traceback
            log.exception("could not start the session")
            await _close(client)
            self.client = self.state = None
            self._back_to_login(f"Cannot reach {server}: {exc}", server)
            return
        self.main = MainScreen()
        await self._replace_top(self.main)
        self._show()

    async def _replace_top(self, screen: Screen[None]) -> None:
        """Put ``screen`` where the login (or main) screen is; the first one goes on the app's base."""
        if len(self.screen_stack) > 1:
            await self.switch_screen(screen)
        else:
            await self.push_screen(screen)

    async def present(self, state: AppState) -> None:
        """Show ``state`` on the main screen without a server (snapshots, demos)."""
        self.state = state
        self.main = MainScreen()
        await self._replace_top(self.main)
        self._show()

    def _from_client(self, event: ChatEvent) -> None:
        """Every client event, in order, into the app's message queue."""
        self.post_message(ServerEvent(event))

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

    def _session_over(self, reason: str) -> None:
        """The server ended the session: forget its token, go back to the login screen."""
        state, client = self.state, self.client
        if state is None or state.closing:
            return
        state.closing = True
        self.store.forget(self.server, state.me.email)
        self.state = self.client = None
        self.pictures.clear()
        self.notify(reason, title="Session ended", severity="error", timeout=10)
        if client is not None:
            self.run_worker(_close(client), exit_on_error=False)
        self.email = state.me.email
        self._back_to_login(reason)

    async def on_unmount(self) -> None:
        if self.state is not None:
            self.state.closing = True
        if self.client is not None:
            await _close(self.client)

    # --- server events ------------------------------------------------------------------

    def on_server_event(self, message: ServerEvent) -> None:
        state = self.state
        if state is None:
            return
        event = message.event
        change = state.apply(event)
        if change.session_over is not None:
            self._session_over(change.session_over)
            return
        if change.error is not None:
            self.notify(change.error, title="Server", severity="error")
        if change.unknown_chat is not None:
            self._fetch_chat(change.unknown_chat)
        if change.alert is not None:
            if self.bell_on:
                self.bell()
            self.notify(change.alert.preview, title=change.alert.sender)
        if isinstance(event, Connected) and event.reconnected:
            self.notify("Reconnected; messages sent meanwhile are shown", title="Connection")
            if state.open_chat is not None and not state.open_chat.startswith(NEW):
                self._refresh_chat(state.open_chat)
        self._show(change)

    def _show(self, change: Change | None = None) -> None:
        state, main = self.state, self.main
        if state is None or main is None or not main.is_mounted:
            return
        log_changed = change is None or (state.open_chat in change.chats) or change.link
        main.show(state, self.today(), self.pictures, log=log_changed)
        if log_changed:
            self._fetch_pictures(state.current())

    # --- workers ------------------------------------------------------------------------

    def _io(self, job: Awaitable[None], *, group: str = "io") -> None:
        """Run a server call in a worker: an error is a notification, an ended session
        goes back to the login screen; the app never stops on it."""
        async def guarded() -> None:
            try:
                await job
            except AuthError as exc:
                self._session_over(exc.message)
            except ChatkitError as exc:
                self.notify(exc.message, severity="error")
            except Exception as exc:
                log.exception("unexpected failure")
                self.notify(f"{type(exc).__name__}: {exc}", title="Unexpected error", severity="error")
        self.run_worker(guarded(), group=group, exit_on_error=False)

    def _fetch_chat(self, chat_id: str) -> None:
        async def job() -> None:
            if self.client is None or self.state is None:
                return
            self.state.add_chat(await self.client.chat(chat_id, messages=PAGE))
            self._show(Change(chats={chat_id}, order=True))
        self._io(job())

    def _refresh_chat(self, chat_id: str) -> None:
        """The open chat's newest page again (receipts that changed while disconnected)."""
        async def job() -> None:
            if self.client is None or self.state is None:
                return
            self.state.add_chat(await self.client.chat(chat_id, messages=PAGE))
            self._show(Change(chats={chat_id}))
        self._io(job())

    def _fetch_pictures(self, chat: ChatState | None) -> None:
        if chat is None or self.client is None:
            return
        for message in chat.messages.values():
            if message.type == "image" and message.id not in self.pictures and message.id not in self._downloading:
                self._downloading.add(message.id)
                self._io(self._download(message))

    async def _download(self, message: Message) -> None:
        try:
            if self.client is None:
                return
            media = await self.client.download(message.content)
            extension = media.content_type.rpartition("/")[2] or "bin"
            self.pictures[message.id] = Picture(f"image-{message.id[-6:]}.{extension}", media.content)
            self._show(Change(chats={message.chat_id}))
        finally:
            self._downloading.discard(message.id)

    # --- opening chats ------------------------------------------------------------------

    def on_chat_picked(self, message: ChatPicked) -> None:
        self.open_chat(message.chat_id)

    def open_chat(self, chat_id: str) -> None:
        state, main = self.state, self.main
        if state is None or main is None or chat_id not in state.chats:
            return
        composer = main.query_one(Composer)
        if state.open_chat == chat_id:
            composer.focus()
            return
        previous = state.current()
        if previous is not None:
            previous.draft = composer.text
            self._stop_typing(composer)
            if not previous.id.startswith(NEW):
                self._io(self._leave(previous.id))
        state.open(chat_id)
        chat = state.chats[chat_id]
        composer.text = chat.draft
        composer.move_cursor(composer.document.end)
        composer.focus()
        self._show()
        if not chat_id.startswith(NEW):
            self._io(self._enter(chat_id))

    async def _leave(self, chat_id: str) -> None:
        if self.client is not None:
            await self.client.leave(chat_id)

    async def _enter(self, chat_id: str) -> None:
        """View the chat (its messages become read) and load its newest page once."""
        client, state = self.client, self.state
        if client is None or state is None:
            return
        await client.join(chat_id)
        chat = state.chats.get(chat_id)
        if chat is not None and not chat.history_loaded:
            fresh = await client.chat(chat_id, messages=PAGE)
            state.add_history(chat_id, fresh.messages, more=len(fresh.messages) >= PAGE)
            self._show(Change(chats={chat_id}))

    def on_older_wanted(self, message: OlderWanted) -> None:
        self.action_older()

    def action_older(self) -> None:
        chat = self.state.current() if self.state else None
        if chat is None or not chat.older_pages or self._older_busy or chat.id.startswith(NEW):
            return
        self._older_busy = True
        self._io(self._older(chat))

    async def _older(self, chat: ChatState) -> None:
        try:
            oldest = chat.oldest()
            if self.client is None or self.state is None or oldest is None:
                return
            page: list[Message] = []
            async for message in self.client.messages(chat.id, until=oldest.created_at, page_size=PAGE):
                page.append(message)
                if len(page) >= PAGE:
                    break
            added = self.state.add_history(chat.id, page, more=len(page) >= PAGE)
            if added:
                self._show(Change(chats={chat.id}))
            elif self.main is not None:
                self.notify("No older messages", timeout=2)
        finally:
            self._older_busy = False

    # --- composing ------------------------------------------------------------------------

    def on_typing_changed(self, message: TypingChanged) -> None:
        state, client = self.state, self.client
        if state is None or client is None:
            return
        if message.active:
            chat_id = state.open_chat
            if chat_id is None or chat_id.startswith(NEW) or not client.connected:
                return
            self._typing_in = chat_id
            self._io(client.typing(chat_id), group="typing")
        elif self._typing_in is not None:
            chat_id, self._typing_in = self._typing_in, None
            if client.connected:
                self._io(client.stop_typing(chat_id), group="typing")

    def _stop_typing(self, composer: Composer) -> None:
        composer.typing = False
        if self._typing_in is not None and self.client is not None and self.client.connected:
            self._io(self.client.stop_typing(self._typing_in), group="typing")
        self._typing_in = None

    def on_submitted(self, message: Submitted) -> None:
        parsed = commands.parse(message.text)
        if isinstance(parsed, commands.Mistake):
            self.notify(parsed.reason, severity="warning")
        elif isinstance(parsed, commands.Command):
            self.run_command(parsed)
        else:
            self.send(parsed)

    def send(self, text: str) -> None:
        state = self.state
        chat = state.current() if state else None
        if state is None or chat is None:
            self.notify("Open a chat first (Ctrl+N for a new one)", severity="warning")
            return
        client_id = uuid.uuid4().hex
        state.sending(chat.id, client_id, text, datetime.now(UTC))
        self._show(Change(chats={chat.id}, order=True))
        self._io(self._deliver(chat.id, client_id, text))

    async def _deliver(self, chat_id: str, client_id: str, text: str) -> None:
        client, state = self.client, self.state
        if client is None or state is None:
            return
        chat = state.chats.get(chat_id)
        if chat is None:
            return
        try:
            if chat_id.startswith(NEW):
                sent = await client.send(text, to=chat.peer.id, client_id=client_id)
            else:
                sent = await client.send(text, chat_id=chat_id, client_id=client_id)
        except AuthError:
            raise
        except ChatkitError as exc:
            state.send_failed(chat_id, client_id, exc.message)
            self.notify(exc.message, title="Not sent", severity="error")
            self._show(Change(chats={chat_id}))
            return
        if chat_id.startswith(NEW):
            self._adopt(chat_id, sent)
        else:
            state.sent(sent)
        self._show(Change(chats={sent.chat_id}, order=True))

    def _adopt(self, draft_id: str, sent: Message) -> None:
        """The first message to someone made our chat: it takes the draft chat's place."""
        state = self.state
        if state is None:
            return
        draft = state.chats.pop(draft_id)
        real = state.chats.get(sent.chat_id)
        if real is None:
            real = state.chats[sent.chat_id] = replace(draft, id=sent.chat_id, messages={}, outgoing={})
        real.outgoing.update({k: replace(v, chat_id=sent.chat_id) for k, v in draft.outgoing.items()
                              if k != sent.client_id})
        real.add(sent)
        if state.open_chat == draft_id:
            state.open_chat = None
            self.open_chat(sent.chat_id)

    def action_retry(self) -> None:
        state = self.state
        chat = state.current() if state else None
        failed = chat.failed() if chat else []
        if state is None or chat is None or not failed:
            self.notify("Nothing to retry in this chat", timeout=2)
            return
        out = state.retrying(chat.id, failed[-1].client_id)
        if out is not None:
            self._show(Change(chats={chat.id}))
            self._io(self._deliver(chat.id, out.client_id, out.text))

    # --- commands ----------------------------------------------------------------------------

    def run_command(self, command: commands.Command) -> None:
        if command.name == "help":
            self.action_help()
            return
        chat = self.state.current() if self.state else None
        if chat is None:
            self.notify("Open a chat first", severity="warning")
            return
        if command.name in ("block", "unblock"):
            self._io(self._block(chat, command.name == "block"))
        elif command.name == "clear":
            self.action_clear()
        elif command.name == "image":
            self._io(self._send_image(chat, Path(command.argument).expanduser()))

    async def _block(self, chat: ChatState, block: bool) -> None:
        if self.client is None or self.state is None:
            return
        flags: BlockState = await (self.client.block(chat.peer.id) if block else self.client.unblock(chat.peer.id))
        self.state.set_block(chat.id, flags)
        self.notify(f"{'Blocked' if block else 'Unblocked'} {chat.peer.full_name}")
        self._show(Change(chats={chat.id}, order=True))

    def action_clear(self) -> None:
        chat = self.state.current() if self.state else None
        if chat is None or chat.id.startswith(NEW):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._io(self._clear(chat))
        self.push_screen(ConfirmDialog(f"Clear your chat with {chat.peer.full_name}? "
                                       "Its messages go for you (not for them).", yes="Clear"), answered)

    async def _clear(self, chat: ChatState) -> None:
        if self.client is None or self.state is None:
            return
        await self.client.clear(chat.id)
        self.state.forget_chat(chat.id)
        self.notify(f"Cleared your chat with {chat.peer.full_name}")
        self._show(Change(chats={chat.id}, order=True))

    async def _send_image(self, chat: ChatState, path: Path) -> None:
        if self.client is None or self.state is None:
            return
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            self.notify(f"Cannot read {path}: {exc.strerror or exc}", severity="error")
            return
        target = {"to": chat.peer.id} if chat.id.startswith(NEW) else {"chat_id": chat.id}
        sent = await self.client.send_images([data], **target)
        for message in sent:
            self.pictures[message.id] = Picture(path.name, data)
            if chat.id.startswith(NEW):
                self._adopt(chat.id, message)
            else:
                self.state.sent(message)
        self._show(Change(chats={m.chat_id for m in sent}, order=True))

    # --- images ----------------------------------------------------------------------------

    def _newest_picture(self) -> Picture | None:
        chat = self.state.current() if self.state else None
        if chat is None:
            return None
        images = [m for m in chat.timeline() if isinstance(m, Message) and m.type == "image"]
        for message in reversed(images):
            if message.id in self.pictures:
                return self.pictures[message.id]
        return None

    def action_open_image(self) -> None:
        picture = self._newest_picture()
        if picture is None:
            self.notify("No image in this chat (yet)", timeout=2)
            return

        def closed(save: bool | None) -> None:
            if save:
                self._save(picture)
        self.push_screen(ImageView(picture), closed)

    def action_save_image(self) -> None:
        picture = self._newest_picture()
        if picture is None:
            self.notify("No image in this chat (yet)", timeout=2)
            return
        self._save(picture)

    def _save(self, picture: Picture) -> None:
        folder = self.save_dir or platformdirs.user_downloads_path()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = _free_name(folder / picture.name)
            target.write_bytes(picture.data)
        except OSError as exc:
            self.notify(f"Could not save the image: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Saved {target}", title="Image")

    # --- the rest of the keys ------------------------------------------------------------------

    def action_new_chat(self) -> None:
        if self.client is None:
            return

        def picked(entry: DirectoryEntry | None) -> None:
            if entry is not None:
                self._open_with(entry)
        self.push_screen(NewChatDialog(self._search), picked)

    async def _search(self, text: str) -> list[DirectoryEntry]:
        if self.client is None:
            return []
        try:
            return list(await self.client.users(text or None, limit=20))
        except ChatkitError as exc:
            self.notify(exc.message, severity="error")
            return []

    def _open_with(self, entry: DirectoryEntry) -> None:
        state = self.state
        if state is None:
            return
        for chat in state.chats.values():
            if chat.peer.id == entry.id:
                self.open_chat(chat.id)
                return
        draft_id = NEW + entry.id
        state.chats[draft_id] = ChatState(draft_id, Peer(entry.id, entry.full_name, entry.profile_picture),
                                          BlockState(False, False, False), older_pages=False,
                                          history_loaded=True)
        self.open_chat(draft_id)

    def action_filter(self) -> None:
        if self.main is not None:
            self.main.query_one("#chat-filter").focus()

    def action_focus_composer(self) -> None:
        if self.main is not None:
            self.main.query_one(Composer).focus()

    def action_move(self, step: int) -> None:
        if self.main is not None:
            self.main.query_one(ChatList).move(step)

    def action_toggle_online(self) -> None:
        if self.main is not None:
            panel = self.main.query_one(OnlinePanel)
            panel.display = not panel.display

    def action_toggle_bell(self) -> None:
        self.bell_on = not self.bell_on
        self.notify(f"Bell {'on' if self.bell_on else 'off'} for new messages", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_logout(self) -> None:
        state, client = self.state, self.client
        if state is None or client is None:
            return
        state.closing = True

        async def job() -> None:
            with contextlib.suppress(ChatkitError):
                await client.logout()
            await _close(client)
        self.run_worker(job(), exit_on_error=False)
        self.store.forget(self.server, state.me.email)
        self.state = self.client = None
        self._back_to_login("Logged out")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        yield SystemCommand("New chat", "Search people and open a chat (Ctrl+N)", self.action_new_chat)
        yield SystemCommand("Block user", "Block the other user of this chat (/block)",
                            lambda: self.run_command(commands.Command("block", "")))
        yield SystemCommand("Unblock user", "Unblock the other user of this chat (/unblock)",
                            lambda: self.run_command(commands.Command("unblock", "")))
        yield SystemCommand("Clear chat", "Clear this chat for you (/clear)", self.action_clear)
        yield SystemCommand("Send image", "Type the file's path after /image", self._prefill_image)
        yield SystemCommand("Retry failed message", "Send the last failed message again (Ctrl+R)", self.action_retry)
        yield SystemCommand("Open image", "The newest image of this chat, full size (Ctrl+O)", self.action_open_image)
        yield SystemCommand("Save image", "Save the newest image of this chat (Ctrl+S)", self.action_save_image)
        yield SystemCommand("Toggle online panel", "Who is online (Ctrl+T)", self.action_toggle_online)
        yield SystemCommand("Toggle bell", "Ring on new messages in other chats (Ctrl+B)", self.action_toggle_bell)
        yield SystemCommand("Help", "Keys and commands (F1)", self.action_help)
        yield SystemCommand("Log out", "End this session and forget it", self.action_logout)

    def _prefill_image(self) -> None:
        if self.main is not None:
            composer = self.main.query_one(Composer)
            composer.text = "/image "
            composer.move_cursor(composer.document.end)
            composer.focus()

    def message_log(self) -> MessageLog | None:
        return self.main.query_one(MessageLog) if self.main is not None else None


def _free_name(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... if it exists."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def run(server: str | None, email: str | None, *, bell: bool = True) -> None:
    """``chatkit tui``: run the app in this terminal."""
    ChatkitApp(server, email=email, bell=bell).run()
