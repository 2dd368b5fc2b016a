"""The client's own Textual messages, in one place: what widgets and screens tell their owners.

Messages go up (a widget says what the user asked for), attributes go down (a screen
sets what a widget shows). No widget talks to the server: the login screen's end in
the app (which starts the session), the chat widgets' in the main screen (which does
the work through :mod:`chatkit.tui.controller` in a worker).
"""

from __future__ import annotations

from textual.message import Message

from chatkit.client import ChatEvent
from chatkit.tui.profiles import Profile


class ServerEvent(Message):
    """An event from ``chatkit.client``, handed to the app in arrival order."""

    def __init__(self, event: ChatEvent) -> None:
        super().__init__()
        self.event = event


class LoginSubmitted(Message):
    def __init__(self, server: str, email: str, password: str) -> None:
        super().__init__()
        self.server, self.email, self.password = server, email, password


class RegisterSubmitted(Message):
    def __init__(self, server: str, first_name: str, last_name: str, email: str, password: str) -> None:
        super().__init__()
        self.server, self.email, self.password = server, email, password
        self.first_name, self.last_name = first_name, last_name


class ProfilePicked(Message):
    """Resume a remembered session."""

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.profile = profile


class ChatPicked(Message):
    """Open this chat (from the chat list)."""

    def __init__(self, chat_id: str) -> None:
        super().__init__()
        self.chat_id = chat_id


class Submitted(Message):
    """The composer's text, sent with Enter: a message or a slash command."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TypingChanged(Message):
    """The user started typing (first keystroke) or stopped (3 s idle, or sent)."""

    def __init__(self, active: bool) -> None:
        super().__init__()
        self.active = active


class OlderWanted(Message):
    """The log was scrolled to its top: fetch the previous page of the open chat."""


class SessionEnded(Message):
    """The server refused the session mid-way (an ``AuthError`` in a worker): back to login."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
