"""How times, ticks and chat rows read on screen: pure functions of the state.

Times are shown in the local time zone; "today" is passed in, never read here, so
a test (and a snapshot) fixes what the screen says.
"""

from __future__ import annotations

from datetime import date, datetime

from rich.text import Text

from chatkit.tui.state import ChatState, Receipt

TICKS: dict[Receipt, tuple[str, str]] = {
    Receipt.SENDING: ("…", "dim"),
    Receipt.FAILED: ("✗ failed", "bold red"),
    Receipt.SENT: ("✓", "dim"),
    Receipt.DELIVERED: ("✓✓", "dim"),
    Receipt.READ: ("✓✓", "bold cyan"),
}


def local(moment: datetime) -> datetime:
    return moment.astimezone()


def clock(moment: datetime) -> str:
    return local(moment).strftime("%H:%M")


def day_label(day: date, today: date) -> str:
    """A day separator: "Today", "Yesterday", else the date in full."""
    delta = (today - day).days
    if delta == 0:
        return "Today"
    if delta == 1:
        return "Yesterday"
    return f"{day:%A} {day.day} {day:%B %Y}"


def row_time(moment: datetime | None, today: date) -> str:
    """The chat list's time: the hour today, the day otherwise."""
    if moment is None:
        return ""
    moment = local(moment)
    if moment.date() == today:
        return moment.strftime("%H:%M")
    if moment.year == today.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b %Y}"


def tick(receipt: Receipt) -> Text:
    mark, style = TICKS[receipt]
    return Text(mark, style=style)


def chat_row(chat: ChatState, *, online: bool, preview: str, today: date, width: int = 34) -> Text:
    """Two lines of the chat list: dot, name, time / preview, badge, blocked marker."""
    when = row_time(chat.activity() if chat.messages or chat.outgoing or chat.last_at else None, today)
    dot = Text("● ", style="bold green") if online else Text("○ ", style="dim")
    name_room = max(4, width - 2 - len(when) - 1)
    name = chat.peer.full_name
    if len(name) > name_room:
        name = name[: name_room - 1] + "…"
    top = Text.assemble(dot, Text(name.ljust(name_room), style="bold" if chat.unread else ""), " ",
                        Text(when, style="dim"))
    marks = Text()
    if chat.block.blocked:
        marks.append(" ⊘ blocked", style="red")
    if chat.unread:
        marks.append(f" {chat.unread} ", style="bold reverse magenta")
    typing = chat.typing is not None
    text = "typing…" if typing else preview
    room = max(4, width - 2 - marks.cell_len)
    if len(text) > room:
        text = text[: room - 1] + "…"
    bottom = Text.assemble("  ", Text(text.ljust(room), style="italic green" if typing else "dim"), marks)
    return Text("\n").join([top, bottom])
