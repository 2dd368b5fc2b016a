"""Shortening a message for a notification without breaking a character in two.

A lock screen shows a few lines, and FCM caps a whole message at 4 KB, so a long text
is cut. Cutting at a code point is not enough: an emoji may be several code points (a
family joined by ZWJs, a skin tone, a flag's two regional indicators, a keycap) and an
accent may be a combining mark. The cut backs off to the start of such a cluster,
prefers the last space nearby, and ends with an ellipsis.
"""

from __future__ import annotations

import unicodedata

BODY_LIMIT = 180  # characters shown, ellipsis included
ELLIPSIS = "…"
WORD_SLACK = 24  # back off this far at most to end on a whole word

ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """True for a code point that belongs to the character before it."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")  # combining marks, keycap enclosure
        or ch == ZWJ
        or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # tag sequences (subdivision flags)
        or 0x1160 <= cp <= 0x11FF  # Hangul medial vowels and final consonants
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def is_boundary(text: str, i: int) -> bool:
    """Whether cutting ``text`` before index ``i`` keeps every character whole."""
    if i <= 0 or i >= len(text):
        return True
    if _extends(text[i]) or text[i - 1] == ZWJ:
        return False
    if _regional(text[i]) and _regional(text[i - 1]):
        run = 0  # regional indicators pair up from the start of their run
        while i - run - 1 >= 0 and _regional(text[i - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def cut(text: str, limit: int = BODY_LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters, else a whole-character prefix and "…"."""
    if len(text) <= limit:
        return text
    end = limit - len(ELLIPSIS)
    while end > 0 and not is_boundary(text, end):
        end -= 1
    space = text.rfind(" ", max(0, end - WORD_SLACK), end + 1)
    if space > 0 and text[:space].strip() and is_boundary(text, space):
        end = space
    kept = text[:end].rstrip()
    if not is_boundary(text, len(kept)):  # the stripped space held a cluster together
        kept = text[:end]
    return kept + ELLIPSIS
