"""The chat actions of one logged-in session, in plain Python: every ``ChatClient`` call the
main screen needs, and what each does to :class:`AppState`.

Kept apart from Textual so the screen is only layout and message routing: the
screen decides *when* (a key, a widget's message, a server event) and runs these in
its workers; this module decides *what* (which call, which state change, what to
redraw and tell the user), through the small :class:`View` the screen provides.
A ``ChatkitError`` raised here is the screen's to show; an ``AuthError`` ends the
session.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import platformdirs

from chatkit.client import (
    AuthError,
    BlockState,
    ChatClient,
    ChatkitError,
    DirectoryEntry,
    Message,
    Peer,
)
from chatkit.tui.state import AppState, Change, ChatState, Picture

PAGE = 50  # messages fetched per page of a chat
NEW = "new:"  # id prefix of a chat with someone I have not written to yet

Severity = Literal["information", "warning", "error"]  # Textual's SeverityLevel, without Textual


def is_draft(chat_id: str) -> bool:
    """A chat with someone I have not written to yet: the server does not know it."""
    return chat_id.startswith(NEW)


class View(Protocol):
    """What the controller needs from the screen showing it."""

    def redraw(self, change: Change | None = None) -> None: ...

    def notify(self, message: str, *, title: str = "", severity: Severity = "information",
               timeout: float | None = None, markup: bool = True) -> None: ...

    def open_chat(self, chat_id: str) -> None: ...


class ChatController:
    """The session's client and state, and the actions on them. ``client`` is None when the
    state is only shown (snapshots, demos): then every server action does nothing."""

    def __init__(self, client: ChatClient | None, state: AppState, view: View | None = None, *,
                 save_dir: Path | None = None) -> None:
        self.client = client
        self.state = state
        self.view: View | None = view  # set by the main screen when it is made
        self.save_dir = save_dir
        self.pictures: dict[str, Picture] = {}  # image messages downloaded, by message id
        self._downloading: set[str] = set()
        self._typing_in: str | None = None  # the chat we told "typing" and not yet "stopped"
        self._older_busy = False

    def _redraw(self, change: Change) -> None:
        if self.view is not None:
            self.view.redraw(change)

    def _notify(self, message: str, *, title: str = "", severity: Severity = "information",
                timeout: float | None = None) -> None:
        if self.view is not None:
            self.view.notify(message, title=title, severity=severity, timeout=timeout)

    # --- fetching -----------------------------------------------------------------------

    async def fetch_chat(self, chat_id: str, *, order: bool) -> None:
        """A chat's newest page: one we did not know (``order``: a new row), or the open one
        again after a reconnection (receipts that changed while disconnected)."""
        if self.client is None:
            return
        self.state.add_chat(await self.client.chat(chat_id, messages=PAGE))
        self._redraw(Change(chats={chat_id}, order=order))

    def pictures_wanted(self, chat: ChatState | None) -> list[Message]:
        """The image messages of ``chat`` to download now (each once)."""
        if chat is None or self.client is None:
            return []
        wanted = [m for m in chat.messages.values()
                  if m.type == "image" and m.id not in self.pictures and m.id not in self._downloading]
        self._downloading.update(m.id for m in wanted)
        return wanted

    async def download(self, message: Message) -> None:
        try:
            if self.client is None:
                return
            media = await self.client.download(message.content)
            extension = media.content_type.rpartition("/")[2] or "bin"
            self.pictures[message.id] = Picture(f"image-{message.id[-6:]}.{extension}", media.content)
            self._redraw(Change(chats={message.chat_id}))
        finally:
            self._downloading.discard(message.id)

    # --- opening chats ------------------------------------------------------------------

    async def leave(self, chat_id: str) -> None:
        if self.client is not None:
            await self.client.leave(chat_id)

    async def enter(self, chat_id: str) -> None:
        """View the chat (its messages become read) and load its newest page once."""
        if self.client is None:
            return
        await self.client.join(chat_id)
        chat = self.state.chats.get(chat_id)
        if chat is not None and not chat.history_loaded:
            fresh = await self.client.chat(chat_id, messages=PAGE)
            self.state.add_history(chat_id, fresh.messages, more=len(fresh.messages) >= PAGE)
            self._redraw(Change(chats={chat_id}))

    def older_wanted(self) -> ChatState | None:
        """The open chat, if an older page may exist and none is being fetched (then it is)."""
        chat = self.state.current()
        if chat is None or not chat.older_pages or self._older_busy or is_draft(chat.id):
            return None
        self._older_busy = True
        return chat

    async def older(self, chat: ChatState) -> None:
        try:
            oldest = chat.oldest()
            if self.client is None or oldest is None:
                return
            page: list[Message] = []
            async for message in self.client.messages(chat.id, until=oldest.created_at, page_size=PAGE):
                page.append(message)
                if len(page) >= PAGE:
                    break
            if self.state.add_history(chat.id, page, more=len(page) >= PAGE):
                self._redraw(Change(chats={chat.id}))
            else:
                self._notify("No older messages", timeout=2)
        finally:
            self._older_busy = False

    def draft_with(self, entry: DirectoryEntry) -> str:
        """The chat with ``entry``: ours if we have one, else a draft the first message makes real."""
        for chat in self.state.chats.values():
            if chat.peer.id == entry.id:
                return chat.id
        draft_id = NEW + entry.id
        self.state.chats[draft_id] = ChatState(draft_id, Peer(entry.id, entry.full_name, entry.profile_picture),
                                               BlockState(False, False, False), older_pages=False,
                                               history_loaded=True)
        return draft_id

    async def search(self, text: str) -> list[DirectoryEntry]:
        """The directory for the new-chat dialog; an error is said and finds nobody."""
        if self.client is None:
            return []
        try:
            return list(await self.client.users(text or None, limit=20))
        except ChatkitError as exc:
            self._notify(exc.message, severity="error")
            return []

    # --- typing ---------------------------------------------------------------------------

    def typing(self, active: bool) -> Awaitable[None] | None:
        """The call that tells the open chat I type (or stopped), if one is due; decided now,
        so a chat switch in between cannot redirect it."""
        client = self.client
        if client is None:
            return None
        if active:
            chat_id = self.state.open_chat
            if chat_id is None or is_draft(chat_id) or not client.connected:
                return None
            self._typing_in = chat_id
            return client.typing(chat_id)
        return self.stop_typing()

    def stop_typing(self) -> Awaitable[None] | None:
        chat_id, self._typing_in = self._typing_in, None
        if chat_id is None or self.client is None or not self.client.connected:
            return None
        return self.client.stop_typing(chat_id)

    # --- sending --------------------------------------------------------------------------

    def sending(self, chat: ChatState, text: str) -> Awaitable[None]:
        """Show ``text`` as being sent in ``chat``; the returned delivery runs in a worker."""
        client_id = uuid.uuid4().hex
        self.state.sending(chat.id, client_id, text, datetime.now(UTC))
        self._redraw(Change(chats={chat.id}, order=True))
        return self.deliver(chat.id, client_id, text)

    def retrying(self) -> Awaitable[None] | None:
        """The last failed message of the open chat, sent again; None (and said) if there is none."""
        chat = self.state.current()
        failed = chat.failed() if chat else []
        if chat is None or not failed:
            self._notify("Nothing to retry in this chat", timeout=2)
            return None
        out = self.state.retrying(chat.id, failed[-1].client_id)
        if out is None:
            return None
        self._redraw(Change(chats={chat.id}))
        return self.deliver(chat.id, out.client_id, out.text)

    async def deliver(self, chat_id: str, client_id: str, text: str) -> None:
        """Send; a refusal stays on the message (with the server's reason) for a retry."""
        chat = self.state.chats.get(chat_id)
        if self.client is None or chat is None:
            return
        try:
            if is_draft(chat_id):
                sent = await self.client.send(text, to=chat.peer.id, client_id=client_id)
            else:
                sent = await self.client.send(text, chat_id=chat_id, client_id=client_id)
        except AuthError:
            raise
        except ChatkitError as exc:
            self.state.send_failed(chat_id, client_id, exc.message)
            self._notify(exc.message, title="Not sent", severity="error")
            self._redraw(Change(chats={chat_id}))
            return
        if is_draft(chat_id):
            self._adopt(chat_id, sent)
        else:
            self.state.sent(sent)
        self._redraw(Change(chats={sent.chat_id}, order=True))

    def _adopt(self, draft_id: str, sent: Message) -> None:
        """The first message to someone made our chat: it takes the draft chat's place."""
        state = self.state
        draft = state.chats.pop(draft_id)
        real = state.chats.get(sent.chat_id)
        if real is None:
            real = state.chats[sent.chat_id] = replace(draft, id=sent.chat_id, messages={}, outgoing={})
        real.outgoing.update({k: replace(v, chat_id=sent.chat_id) for k, v in draft.outgoing.items()
                              if k != sent.client_id})
        real.add(sent)
        if state.open_chat == draft_id:
            state.open_chat = None
            if self.view is not None:
                self.view.open_chat(sent.chat_id)

    async def send_image(self, chat: ChatState, path: Path) -> None:
        if self.client is None:
            return
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            self._notify(f"Cannot read {path}: {exc.strerror or exc}", severity="error")
            return
        target = {"to": chat.peer.id} if is_draft(chat.id) else {"chat_id": chat.id}
        sent = await self.client.send_images([data], **target)
        for message in sent:
            self.pictures[message.id] = Picture(path.name, data)
            if is_draft(chat.id):
                self._adopt(chat.id, message)
            else:
                self.state.sent(message)
        self._redraw(Change(chats={m.chat_id for m in sent}, order=True))

    # --- blocking and clearing ---------------------------------------------------------------

    async def block(self, chat: ChatState, block: bool) -> None:
        if self.client is None:
            return
        flags: BlockState = await (self.client.block(chat.peer.id) if block else self.client.unblock(chat.peer.id))
        self.state.set_block(chat.id, flags)
        self._notify(f"{'Blocked' if block else 'Unblocked'} {chat.peer.full_name}")
        self._redraw(Change(chats={chat.id}, order=True))

    async def clear(self, chat: ChatState) -> None:
        if self.client is None:
            return
        await self.client.clear(chat.id)
        self.state.forget_chat(chat.id)
        self._notify(f"Cleared your chat with {chat.peer.full_name}")
        self._redraw(Change(chats={chat.id}, order=True))

    # --- images ------------------------------------------------------------------------------

    def newest_picture(self) -> Picture | None:
        """The newest downloaded image of the open chat (what Ctrl+O and Ctrl+S act on)."""
        chat = self.state.current()
        if chat is None:
            return None
        images = [m for m in chat.timeline() if isinstance(m, Message) and m.type == "image"]
        for message in reversed(images):
            if message.id in self.pictures:
                return self.pictures[message.id]
        return None

    def save(self, picture: Picture) -> None:
        """Into the save folder (Downloads by default), never over an existing file."""
        folder = self.save_dir or platformdirs.user_downloads_path()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = _free_name(folder / picture.name)
            target.write_bytes(picture.data)
        except OSError as exc:
            self._notify(f"Could not save the image: {exc.strerror or exc}", severity="error")
            return
        self._notify(f"Saved {target}", title="Image")


def _free_name(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... if it exists."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
