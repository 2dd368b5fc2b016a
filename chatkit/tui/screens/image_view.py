"""An image at full size (as large as the terminal allows), with a key to save it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from chatkit.tui.state import Picture
from chatkit.tui.widgets.image_preview import preview


class ImageView(ModalScreen[bool]):
    """Dismissed with True when the user asked to save the image."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close"), Binding("s,ctrl+s", "save", "Save")]

    def __init__(self, picture: Picture) -> None:
        super().__init__()
        self.picture = picture

    def compose(self) -> ComposeResult:
        with Vertical(id="image-view"):
            yield Static(f"{self.picture.name}  ({len(self.picture.data)} bytes)", classes="question")
            shown = preview(self.picture.data)
            if shown is not None:
                shown.add_class("full")
                yield shown
            else:
                yield Static("This terminal cannot show the image here; press s to save it.")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(False)

    def action_save(self) -> None:
        self.dismiss(True)
