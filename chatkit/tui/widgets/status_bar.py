"""The header: who is logged in where, and the state of the live connection."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from chatkit.tui.state import Link

LOOKS: dict[Link, tuple[str, str]] = {
    Link.CONNECTING: ("◌ connecting…", "yellow"),
    Link.ONLINE: ("● connected", "bold green"),
    Link.RECONNECTING: ("◌ reconnecting", "bold yellow"),
    Link.OFFLINE: ("✕ offline", "bold red"),
}


class StatusBar(Static):
    """One line at the top. ``link`` and ``since`` are set by the app; while reconnecting
    it counts the seconds the connection has been down (the client retries with backoff)."""

    who: reactive[str] = reactive("")
    link: reactive[Link] = reactive(Link.CONNECTING)
    since: reactive[datetime | None] = reactive(None)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.link == Link.RECONNECTING:
            self.refresh()

    def render(self) -> Text:
        label, style = LOOKS[self.link]
        state = Text(label, style=style)
        if self.link == Link.RECONNECTING and self.since is not None:
            down = int((datetime.now(UTC) - self.since).total_seconds())
            state.append(f" (down {down}s, retrying with backoff)", style="yellow")
        left = Text.assemble(Text(" chatkit ", style="bold reverse"), " ", self.who)
        gap = max(1, self.size.width - left.cell_len - state.cell_len - 1)
        return Text.assemble(left, " " * gap, state, " ")
