"""The chat list: a filter box over the chats, newest activity first."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from chatkit.tui.format import chat_row
from chatkit.tui.messages import ChatPicked
from chatkit.tui.state import AppState, preview


class ChatOptions(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "screen.focus_composer", "Composer", show=False)]


class ChatList(Vertical):
    """Rows are drawn from the state by :meth:`show`; picking one posts :class:`ChatPicked`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: AppState | None = None
        self._today: date | None = None
        self._shown: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter chats", id="chat-filter")
        yield ChatOptions(id="chat-options")

    @property
    def options(self) -> OptionList:
        return self.query_one(ChatOptions)

    @property
    def filter_text(self) -> str:
        return self.query_one(Input).value

    def show(self, state: AppState, today: date) -> None:
        self._state, self._today = state, today
        chats = state.ordered(self.filter_text)
        width = max(20, self.options.scrollable_content_region.width or 34)
        rows = [(c.id, chat_row(c, online=state.is_online(c.peer.id), preview=preview(c.last(), c.peer.full_name),
                                today=today, width=width)) for c in chats]
        signature = [(chat_id, text.plain) for chat_id, text in rows]
        if signature == self._shown:
            return
        self._shown = signature
        options = self.options
        highlighted = options.highlighted_option.id if options.highlighted_option else state.open_chat
        options.clear_options()
        options.add_options([Option(text, id=chat_id) for chat_id, text in rows])
        target = highlighted or state.open_chat
        for index, (chat_id, _) in enumerate(rows):
            if chat_id == target:
                options.highlighted = index
        if options.highlighted is None and rows:
            options.highlighted = 0

    def rows(self) -> list[str]:
        """The rows as plain text (what a reader of the screen sees)."""
        return [text for _, text in self._shown]

    def move(self, step: int) -> None:
        """Open the previous or next chat of the list."""
        if not self._shown or self._state is None:
            return
        ids = [chat_id for chat_id, _ in self._shown]
        current = ids.index(self._state.open_chat) if self._state.open_chat in ids else -1
        self.post_message(ChatPicked(ids[(current + step) % len(ids)]))

    @on(Input.Changed, "#chat-filter")
    def _filtered(self) -> None:
        if self._state is not None and self._today is not None:
            self.show(self._state, self._today)

    @on(Input.Submitted, "#chat-filter")
    def _filter_done(self) -> None:
        if self._shown:
            self.post_message(ChatPicked(self._shown[0][0]))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(ChatPicked(event.option.id))
