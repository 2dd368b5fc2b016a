"""The main screen: the chat list on the left, the open chat on the right, the
connection in the header, who is online on demand.

It lays the widgets out and hands them the state (:meth:`MainScreen.show`); every
key here is an action of the app, which owns the client.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from chatkit.tui.state import AppState
from chatkit.tui.widgets.chat_list import ChatList
from chatkit.tui.widgets.composer import Composer
from chatkit.tui.widgets.message_log import MessageLog, Picture
from chatkit.tui.widgets.online_panel import OnlinePanel
from chatkit.tui.widgets.status_bar import StatusBar
from chatkit.tui.widgets.typing_line import TypingLine


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "app.new_chat", "New chat"),
        Binding("ctrl+f", "app.filter", "Filter"),
        Binding("ctrl+up", "app.move(-1)", "Previous chat", show=False),
        Binding("ctrl+down", "app.move(1)", "Next chat", show=False),
        Binding("ctrl+g", "app.older", "Older", show=False),
        Binding("ctrl+r", "app.retry", "Retry", show=False),
        Binding("ctrl+o", "app.open_image", "Open image", show=False),
        Binding("ctrl+s", "app.save_image", "Save image", show=False),
        Binding("ctrl+t", "app.toggle_online", "Online"),
        Binding("ctrl+b", "app.toggle_bell", "Bell", show=False),
        Binding("f1", "app.help", "Help"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

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
