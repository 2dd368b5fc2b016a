"""The new-chat dialog: search the directory (the server's ``/chats/users``), pick a person.

The search itself is the app's (given as ``search``): this screen only runs it in a
worker as the user types and dismisses with the person picked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatkit.client import DirectoryEntry

Search = Callable[[str], Awaitable[list[DirectoryEntry]]]


def entry_row(entry: DirectoryEntry) -> Text:
    dot = Text("● ", style="bold green") if entry.is_online else Text("○ ", style="dim")
    return Text.assemble(dot, (entry.full_name, "bold"))


class NewChatDialog(ModalScreen[DirectoryEntry | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"), Binding("down", "results", "Results", show=False),
    ]

    def __init__(self, search: Search) -> None:
        super().__init__()
        self.search = search
        self.found: list[DirectoryEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="new-chat"):
            yield Static("New chat: search people by name or email", classes="question")
            yield Input(placeholder="Name or email", id="who")
            yield OptionList(id="found")
            yield Static("", id="found-note")

    def on_mount(self) -> None:
        self.query_one("#who", Input).focus()
        self._search("")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_results(self) -> None:
        self.query_one("#found", OptionList).focus()

    @on(Input.Changed, "#who")
    def _changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @on(Input.Submitted, "#who")
    def _first(self) -> None:
        if self.found:
            self.dismiss(self.found[0])

    @on(OptionList.OptionSelected, "#found")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.found[event.option_index])

    @work(exclusive=True, group="search")
    async def _search(self, text: str) -> None:
        self.show(await self.search(text.strip()))

    def show(self, found: list[DirectoryEntry]) -> None:
        self.found = found
        options = self.query_one("#found", OptionList)
        options.clear_options()
        options.add_options([Option(entry_row(e), id=e.id) for e in found])
        self.query_one("#found-note", Static).update("" if found else "Nobody found")
