"""The open chat's messages: day separators, mine set apart from theirs, receipt ticks,
``Label`` lines as system lines, images with a preview, failed sends marked.

:meth:`MessageLog.show` is given the chat (attributes down) and changes only what
differs: new messages are appended, an older page is put above without moving what
the reader looks at, a receipt change redraws one line. Scrolling to the top posts
:class:`OlderWanted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from chatkit.client import Message
from chatkit.tui.format import clock, day_label, local, tick
from chatkit.tui.messages import OlderWanted
from chatkit.tui.state import ChatState, Outgoing, Picture, Receipt, label_text
from chatkit.tui.widgets.image_preview import preview


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str  # day, mine, theirs, system, failed
    text: Text
    image: Picture | None = None
    is_image: bool = False


class Line(Static):
    """One message, separator or system line."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.text, classes=entry.kind)
        self.entry = entry

    def set(self, entry: Entry) -> None:
        if entry.kind != self.entry.kind:
            self.set_classes(entry.kind)
        if entry.text != self.entry.text:
            self.update(entry.text)
        self.entry = entry


class ImageLine(Vertical):
    """An image message: its caption line, then the preview once the bytes are here."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(classes=f"{entry.kind} image")
        self.entry = entry
        self._has_preview = False

    def compose(self) -> ComposeResult:
        yield Static(self.entry.text, classes="caption")

    def on_mount(self) -> None:
        self._preview()

    def set(self, entry: Entry) -> None:
        if entry.text != self.entry.text:
            self.query_one(".caption", Static).update(entry.text)
        self.entry = entry
        self._preview()

    def _preview(self) -> None:
        if self._has_preview or self.entry.image is None or not self.is_mounted:
            return
        widget = preview(self.entry.image.data)
        if widget is not None:
            self._has_preview = True
            self.mount(widget)


def _body(message: Message | Outgoing) -> str:
    return message.content if isinstance(message, Message) else message.text


def entries(chat: ChatState, today: date, pictures: dict[str, Picture], my_name: str) -> list[Entry]:
    """What the log shows for ``chat``, top to bottom."""
    out: list[Entry] = []
    day: date | None = None
    for message in chat.timeline():
        moment = message.created_at
        if local(moment).date() != day:
            day = local(moment).date()
            out.append(Entry(f"day:{day.isoformat()}", "day", Text(f"── {day_label(day, today)} ──")))
        if isinstance(message, Message) and message.type == "Label":
            out.append(Entry(f"m:{message.id}", "system",
                             Text(f"{clock(moment)}  {label_text(message, chat.peer.full_name)}", style="italic")))
            continue
        mine = not isinstance(message, Message) or message.is_mine
        receipt = chat.receipt(message)
        head = Text.assemble((my_name if mine else chat.peer.full_name, "bold"), "  ", (clock(moment), "dim"))
        if mine:
            head.append("  ")
            head.append_text(tick(receipt))
        key = f"m:{message.id}" if isinstance(message, Message) else f"o:{message.client_id}"
        picture = pictures.get(message.id) if isinstance(message, Message) else None
        if isinstance(message, Message) and message.type == "image":
            name = picture.name if picture else "image"
            caption = Text.assemble(head, "\n", (f"[{name}]", "bold magenta"),
                                    ("  ctrl+o open · ctrl+s save", "dim"))
            out.append(Entry(key, "mine" if mine else "theirs", caption, picture, is_image=True))
            continue
        text = Text.assemble(head, "\n", _body(message))
        kind = "mine" if mine else "theirs"
        if isinstance(message, Outgoing) and message.error is not None:
            kind = "failed"
            text.append(f"\nNot sent: {message.error}  (ctrl+r retry)", style="bold red")
        elif receipt == Receipt.SENDING:
            text.append("\nsending…", style="dim")
        out.append(Entry(key, kind, text))
    return out


class MessageLog(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._chat: str | None = None
        self._keys: list[str] = []
        self._widgets: dict[str, Line | ImageLine] = {}
        self.loading_older = False

    def show(self, chat: ChatState | None, today: date, pictures: dict[str, Picture], my_name: str) -> None:
        wanted = entries(chat, today, pictures, my_name) if chat is not None else []
        keys = [e.key for e in wanted]
        chat_id = chat.id if chat else None
        old = self._keys
        if chat_id == self._chat and keys == old:
            self._update(wanted)
            return
        follow = chat_id != self._chat or self.is_vertical_scroll_end or self.max_scroll_y == 0
        if chat_id == self._chat and old and keys[:len(old)] == old:
            self._update(wanted[:len(old)])
            self._mount(wanted[len(old):])
        elif chat_id == self._chat and old and keys[-len(old):] == old:
            anchor = self._widgets[old[0]]
            self._update(wanted[-len(old):])
            self._mount(wanted[:-len(old)], before=anchor)
            self.call_after_refresh(self.scroll_to_widget, anchor, top=True, animate=False)
            follow = False
        else:
            self.remove_children()
            self._widgets.clear()
            self._mount(wanted)
        self._chat, self._keys = chat_id, keys
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _update(self, wanted: list[Entry]) -> None:
        for entry in wanted:
            self._widgets[entry.key].set(entry)

    def _mount(self, wanted: list[Entry], before: Widget | None = None) -> None:
        made: list[Line | ImageLine] = [ImageLine(e) if e.is_image else Line(e) for e in wanted]
        for entry, widget in zip(wanted, made, strict=True):
            self._widgets[entry.key] = widget
        if made:
            self.mount_all(made, before=before)

    def lines(self) -> list[str]:
        """The log as plain text, top to bottom (what a reader of the screen sees)."""
        return [self._widgets[key].entry.text.plain for key in self._keys if key in self._widgets]

    def find(self, needle: str) -> Text | None:
        """The newest line containing ``needle``, as drawn (with its styles)."""
        for key in reversed(self._keys):
            widget = self._widgets.get(key)
            if widget is not None and needle in widget.entry.text.plain:
                return widget.entry.text
        return None

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value and not self.loading_older:
            self.post_message(OlderWanted())
