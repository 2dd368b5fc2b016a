"""The online-users panel: which of my contacts are online now (toggled with a key)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from chatkit.client import Peer


class OnlinePanel(Static):
    def show(self, peers: list[Peer]) -> None:
        text = Text("Online\n", style="bold")
        if not peers:
            text.append("nobody else", style="dim")
        for peer in peers:
            text.append("● ", style="green")
            text.append(peer.full_name + "\n")
        self.update(text)
