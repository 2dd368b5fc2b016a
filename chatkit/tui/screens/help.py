"""Help: every key and slash command on one screen."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chatkit.tui.commands import HELP

KEYS: list[tuple[str, str]] = [
    ("Enter", "Send the message (in the chat list: open the chat)"),
    ("Ctrl+J / Shift+Enter", "New line in the message"),
    ("Ctrl+N", "New chat: search people"),
    ("Ctrl+F", "Filter the chat list"),
    ("Ctrl+Up / Ctrl+Down", "Previous / next chat"),
    ("Tab / Shift+Tab", "Move between the chat list, the log and the composer"),
    ("Escape", "Back to the composer"),
    ("Ctrl+G (or scroll up)", "Load older messages"),
    ("Ctrl+R", "Retry a message that failed"),
    ("Ctrl+O / Ctrl+S", "Open / save the newest image of the chat"),
    ("Ctrl+T", "Show or hide who is online"),
    ("Ctrl+B", "Bell on new messages on / off"),
    ("Ctrl+P", "Command palette"),
    ("F1", "This help"),
    ("Ctrl+Q", "Quit"),
]


def help_table() -> Table:
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("Key or command", style="bold cyan", no_wrap=True)
    table.add_column("What it does")
    for key, what in KEYS:
        table.add_row(key, what)
    table.add_row("", "")
    for command, what in HELP.items():
        table.add_row(command, what)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static("chatkit: keys and commands", classes="question")
            yield Static(help_table())

    def action_close(self) -> None:
        self.dismiss(None)
