"""The line under the log that says who is typing."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class TypingLine(Static):
    """Shows "<name> is typing…" while ``who`` is set (by the app, from ``typing`` events)."""

    who: reactive[str | None] = reactive(None)

    def watch_who(self, who: str | None) -> None:
        self.update(f"{who} is typing…" if who else "")
