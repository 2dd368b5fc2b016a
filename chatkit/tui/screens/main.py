"""The main screen: the chat list on the left, the open chat on the right, the
connection in the header, who is online on demand.

It lays the widgets out, draws the state into them (attributes down), and routes
what they post and the keys pressed here (messages up) to the session's
:class:`ChatController`, running its server calls in this screen's workers: they end
with the screen when the session does. An error there is a notification; a refused
session is :class:`SessionEnded` for the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from chatkit.client import AuthError, ChatEvent, ChatkitError, Connected, DirectoryEntry
from chatkit.tui import commands
from chatkit.tui.controller import ChatController, is_draft
from chatkit.tui.messages import ChatPicked, OlderWanted, SessionEnded, Submitted, TypingChanged
from chatkit.tui.screens.confirm import ConfirmDialog
from chatkit.tui.screens.help import HelpScreen
from chatkit.tui.screens.image_view import ImageView
from chatkit.tui.screens.new_chat import NewChatDialog
from chatkit.tui.state import AppState, Change, Picture
from chatkit.tui.widgets.chat_list import ChatList
from chatkit.tui.widgets.composer import Composer
from chatkit.tui.widgets.message_log import MessageLog
from chatkit.tui.widgets.online_panel import OnlinePanel
from chatkit.tui.widgets.status_bar import StatusBar
from chatkit.tui.widgets.typing_line import TypingLine

log = logging.getLogger("chatkit.tui")


class MainScreen(Screen[None]):
    """``chats`` is the session's controller; ``today`` says which day "Today" is."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+f", "filter", "Filter"),
        Binding("ctrl+up", "move(-1)", "Previous chat", show=False),
        Binding("ctrl+down", "move(1)", "Next chat", show=False),
        Binding("ctrl+g", "older", "Older", show=False),
        Binding("ctrl+r", "retry", "Retry", show=False),
        Binding("ctrl+o", "open_image", "Open image", show=False),
        Binding("ctrl+s", "save_image", "Save image", show=False),
        Binding("ctrl+t", "toggle_online", "Online"),
        Binding("ctrl+b", "app.toggle_bell", "Bell", show=False),
        Binding("f1", "app.help", "Help"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, chats: ChatController, today: Callable[[], date]) -> None:
        super().__init__()
        self.chats = chats
        self.today = today
        chats.view = self

    @property
    def state(self) -> AppState:
        return self.chats.state

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            yield ChatList(id="chats")
            with Vertical(id="conversation"):
                yield Static("", id="chat-title")
                yield MessageLog(id="log")
                yield TypingLine("", id="typing")
                yield Composer(id="composer")
            yield OnlinePanel(id="online")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OnlinePanel).display = False
        self.query_one(ChatList).options.focus()

    # --- drawing ------------------------------------------------------------------------

    def redraw(self, change: Change | None = None) -> None:
        """Draw what ``change`` touched (everything if None); fetch the open chat's images."""
        if not self.is_mounted:
            return
        state = self.state
        log_changed = change is None or (state.open_chat in change.chats) or change.link
        self.show(state, self.today(), self.chats.pictures, log=log_changed)
        if log_changed:
            for message in self.chats.pictures_wanted(state.current()):
                self._io(self.chats.download(message))

    def show(self, state: AppState, today: date, pictures: dict[str, Picture], *, log: bool = True) -> None:
        """Draw the state: the list, the header, the open chat (unless ``log`` is False)."""
        status = self.query_one(StatusBar)
        status.who = f"{state.me.full_name} <{state.me.email}>"
        status.link, status.since = state.link, state.link_since
        self.query_one(ChatList).show(state, today)
        self.query_one(OnlinePanel).show(state.online_contacts())
        chat = state.current()
        title = self.query_one("#chat-title", Static)
        if chat is None:
            title.update("No chat open: pick one on the left, or Ctrl+N for a new chat")
        else:
            online = "online" if state.is_online(chat.peer.id) else "offline"
            blocked = ("  ⊘ you blocked them" if chat.block.blocked_by_me
                       else "  ⊘ they blocked you" if chat.block.blocked_by_other else "")
            title.update(f"{chat.peer.full_name} · {online}{blocked}")
        self.query_one(TypingLine).who = chat.typing if chat else None
        if log:
            self.query_one(MessageLog).show(chat, today, pictures, state.me.full_name)

    def server_changed(self, event: ChatEvent, change: Change) -> None:
        """A server event the app applied to the state: fetch what it lacks, redraw."""
        if change.unknown_chat is not None:
            self._io(self.chats.fetch_chat(change.unknown_chat, order=True))
        if isinstance(event, Connected) and event.reconnected:
            self.notify("Reconnected; messages sent meanwhile are shown", title="Connection")
            open_chat = self.state.open_chat
            if open_chat is not None and not is_draft(open_chat):
                self._io(self.chats.fetch_chat(open_chat, order=False))
        self.redraw(change)

    # --- workers ------------------------------------------------------------------------

    def _io(self, job: Awaitable[None] | None, *, group: str = "io") -> None:
        """Run a server call in a worker: an error is a notification, a refused session
        goes to the app; the app never stops on it."""
        if job is None:
            return

        async def guarded() -> None:
            try:
                await job
            except AuthError as exc:
                self.post_message(SessionEnded(exc.message))
            except ChatkitError as exc:
                self.notify(exc.message, severity="error")
            except Exception as exc:
                log.exception("unexpected failure")
                self.notify(f"{type(exc).__name__}: {exc}", title="Unexpected error", severity="error")
        self.run_worker(guarded(), group=group, exit_on_error=False)

    # --- opening chats ------------------------------------------------------------------

    def on_chat_picked(self, message: ChatPicked) -> None:
        message.stop()
        self.open_chat(message.chat_id)

    def open_chat(self, chat_id: str) -> None:
        """Show ``chat_id``: the previous chat keeps its draft and is left, this one is viewed."""
        state = self.state
        if chat_id not in state.chats:
            return
        composer = self.query_one(Composer)
        if state.open_chat == chat_id:
            composer.focus()
            return
        previous = state.current()
        if previous is not None:
            previous.draft = composer.text
            composer.typing = False
            self._io(self.chats.stop_typing(), group="typing")
            if not is_draft(previous.id):
                self._io(self.chats.leave(previous.id))
        state.open(chat_id)
        chat = state.chats[chat_id]
        composer.text = chat.draft
        composer.move_cursor(composer.document.end)
        composer.focus()
        self.redraw()
        if not is_draft(chat_id):
            self._io(self.chats.enter(chat_id))

    def on_older_wanted(self, message: OlderWanted) -> None:
        message.stop()
        self.action_older()

    def action_older(self) -> None:
        chat = self.chats.older_wanted()
        if chat is not None:
            self._io(self.chats.older(chat))

    def action_new_chat(self) -> None:
        if self.chats.client is None:
            return

        def picked(entry: DirectoryEntry | None) -> None:
            if entry is not None:
                self.open_chat(self.chats.draft_with(entry))
        self.app.push_screen(NewChatDialog(self.chats.search), picked)

    # --- composing ------------------------------------------------------------------------

    def on_typing_changed(self, message: TypingChanged) -> None:
        message.stop()
        self._io(self.chats.typing(message.active), group="typing")

    def on_submitted(self, message: Submitted) -> None:
        message.stop()
        parsed = commands.parse(message.text)
        if isinstance(parsed, commands.Mistake):
            self.notify(parsed.reason, severity="warning")
        elif isinstance(parsed, commands.Command):
            self.run_command(parsed)
        else:
            chat = self.state.current()
            if chat is None:
                self.notify("Open a chat first (Ctrl+N for a new one)", severity="warning")
                return
            self._io(self.chats.sending(chat, parsed))

    def action_retry(self) -> None:
        self._io(self.chats.retrying())

    def run_command(self, command: commands.Command) -> None:
        if command.name == "help":
            self.app.push_screen(HelpScreen())
            return
        chat = self.state.current()
        if chat is None:
            self.notify("Open a chat first", severity="warning")
            return
        if command.name in ("block", "unblock"):
            self._io(self.chats.block(chat, command.name == "block"))
        elif command.name == "clear":
            self.action_clear()
        elif command.name == "image":
            self._io(self.chats.send_image(chat, Path(command.argument).expanduser()))

    def action_clear(self) -> None:
        chat = self.state.current()
        if chat is None or is_draft(chat.id):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._io(self.chats.clear(chat))
        self.app.push_screen(ConfirmDialog(f"Clear your chat with {chat.peer.full_name}? "
                                           "Its messages go for you (not for them).", yes="Clear"), answered)

    # --- images ----------------------------------------------------------------------------

    def action_open_image(self) -> None:
        picture = self.chats.newest_picture()
        if picture is None:
            self.notify("No image in this chat (yet)", timeout=2)
            return

        def closed(save: bool | None) -> None:
            if save:
                self.chats.save(picture)
        self.app.push_screen(ImageView(picture), closed)

    def action_save_image(self) -> None:
        picture = self.chats.newest_picture()
        if picture is None:
            self.notify("No image in this chat (yet)", timeout=2)
            return
        self.chats.save(picture)

    def prefill_image(self) -> None:
        composer = self.query_one(Composer)
        composer.text = "/image "
        composer.move_cursor(composer.document.end)
        composer.focus()

    # --- focus and panels ----------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#chat-filter").focus()

    def action_focus_composer(self) -> None:
        self.query_one(Composer).focus()

    def action_move(self, step: int) -> None:
        self.query_one(ChatList).move(step)

    def action_toggle_online(self) -> None:
        panel = self.query_one(OnlinePanel)
        panel.display = not panel.display

    def system_commands(self) -> Iterator[SystemCommand]:
        """This screen's part of the command palette (the app adds bell, help and log out)."""
        yield SystemCommand("New chat", "Search people and open a chat (Ctrl+N)", self.action_new_chat)
        yield SystemCommand("Block user", "Block the other user of this chat (/block)",
                            lambda: self.run_command(commands.Command("block", "")))
        yield SystemCommand("Unblock user", "Unblock the other user of this chat (/unblock)",
                            lambda: self.run_command(commands.Command("unblock", "")))
        yield SystemCommand("Clear chat", "Clear this chat for you (/clear)", self.action_clear)
        yield SystemCommand("Send image", "Type the file's path after /image", self.prefill_image)
        yield SystemCommand("Retry failed message", "Send the last failed message again (Ctrl+R)", self.action_retry)
        yield SystemCommand("Open image", "The newest image of this chat, full size (Ctrl+O)", self.action_open_image)
        yield SystemCommand("Save image", "Save the newest image of this chat (Ctrl+S)", self.action_save_image)
        yield SystemCommand("Toggle online panel", "Who is online (Ctrl+T)", self.action_toggle_online)
