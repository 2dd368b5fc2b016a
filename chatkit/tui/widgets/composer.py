"""The composer: multi-line input that sends with Enter and tells when the user types.

Enter sends; Shift+Enter (where the terminal reports it) or Ctrl+J starts a new line.
The first keystroke posts ``TypingChanged(True)``; 3 s without one, or sending,
posts ``TypingChanged(False)``, so the other side's "is typing" line is true.
"""

from __future__ import annotations

from textual import events
from textual.timer import Timer
from textual.widgets import TextArea

from chatkit.tui.messages import Submitted, TypingChanged

IDLE_SECONDS = 3.0
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j"})


class Composer(TextArea):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, placeholder="Message  (Enter sends, Ctrl+J new line, /help)")
        self.typing = False
        self._idle: Timer | None = None

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._send()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            self._keystroke()
            return
        if event.is_printable or event.key in ("backspace", "delete"):
            self._keystroke()
        await super()._on_key(event)

    def _keystroke(self) -> None:
        if not self.typing:
            self.typing = True
            self.post_message(TypingChanged(True))
        if self._idle is not None:
            self._idle.stop()
        self._idle = self.set_timer(IDLE_SECONDS, self.stop_typing)

    def stop_typing(self) -> None:
        """Say "stopped typing" if we said "typing" (idle, sent, or the chat was left)."""
        if self._idle is not None:
            self._idle.stop()
            self._idle = None
        if self.typing:
            self.typing = False
            self.post_message(TypingChanged(False))

    def _send(self) -> None:
        text = self.text.strip("\n")
        if not text.strip():
            return
        self.stop_typing()
        self.clear()
        self.post_message(Submitted(text))
