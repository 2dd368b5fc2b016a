"""Slash commands typed into the composer, parsed without a terminal.

``/block``, ``/unblock``, ``/clear``, ``/image PATH``, ``/help``; ``//text`` sends
``/text`` as a message. Anything else starting with ``/`` is a mistake the user is
told about, never sent by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

HELP: dict[str, str] = {
    "/block": "Block the other user of this chat",
    "/unblock": "Unblock the other user of this chat",
    "/clear": "Clear this chat for you (asks first)",
    "/image PATH": "Send an image file (JPEG, PNG, GIF or WebP)",
    "/help": "Show keys and commands",
}
NAMES = frozenset(name.split()[0][1:] for name in HELP)


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    argument: str


@dataclass(frozen=True)
class Mistake:
    """Text that looks like a command but is not one: what to tell the user."""

    reason: str


def parse(text: str) -> Command | Mistake | str:
    """A command, a mistake, or the message text to send."""
    if not text.startswith("/"):
        return text
    if text.startswith("//"):
        return text[1:]
    head, _, rest = text[1:].partition(" ")
    name, argument = head.strip().lower(), rest.strip()
    if name not in NAMES:
        return Mistake(f"Unknown command /{name or ''}; /help lists them (// sends a leading slash)")
    if name == "image" and not argument:
        return Mistake("Usage: /image PATH")
    return Command(name, argument)
