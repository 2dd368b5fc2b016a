"""Inline image previews through textual-image (Kitty or Sixel graphics where the terminal
has them, Unicode half-blocks elsewhere), or nothing when it cannot render.

textual-image asks the terminal what it supports when it is imported, which it can
only do before Textual takes the terminal over: ``chatkit.tui.app`` imports this
module (through the main screen and the message log) at its top for that reason.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from PIL import Image as PILImage
from textual.widget import Widget

log = logging.getLogger("chatkit.tui")


def _load() -> Callable[..., Any] | None:
    try:
        from textual_image.widget import Image
    except Exception as exc:  # not installed, or no terminal to ask: previews are off
        log.info("image previews unavailable: %s", exc)
        return None
    return Image


_PREVIEW = _load()


def available() -> bool:
    return _PREVIEW is not None


def preview(data: bytes) -> Widget | None:
    """A widget showing the image, or None if it cannot be shown here."""
    if _PREVIEW is None:
        return None
    try:
        with PILImage.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
    except Exception as exc:  # a format Pillow cannot decode: the caption line stays
        log.info("cannot preview image: %s", exc)
        return None
    widget = _PREVIEW(picture, classes="preview")
    return widget if isinstance(widget, Widget) else None
