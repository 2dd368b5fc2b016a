"""The smoke check's steps, in the order a user meets the contract.

Each step is a small async function of the :class:`Run`: it drives both users through
``chatkit.client``, checks what each of them sees, and returns a one-line account of
it, or raises (a client exception carries the server's answer; a :class:`Mismatch`
says what the server did differently). Later steps rely on earlier ones (the chat the
first message opened), so the runner stops at the first failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from chatkit.client import (
    AuthError,
    ChatClient,
    ChatOpened,
    Forbidden,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    NotFound,
    OnlineUsers,
    StoppedTyping,
    Typing,
)
from chatkit.protocol import Sentence
from chatkit.smoke.image import PNG_SIGNATURE, tiny_png
from chatkit.smoke.state import THROWAWAY_NAME, Mismatch, Run, Side, require

Step = Callable[[Run], Awaitable[str]]
LISTING_PAGE = 100  # the server's largest page


# --- sessions -------------------------------------------------------------------------


async def check_server(run: Run) -> str:
    require(await run.a.client.health(), "/healthz answers that the server or its database is down")
    return "/healthz: server and database up"


async def register(run: Run) -> str:
    first, last = THROWAWAY_NAME
    for side in run.sides:
        try:
            side.user = await side.client.register(first, f"{last} {side.name}", side.credentials.email,
                                                   side.credentials.password)
        except Forbidden as exc:
            raise Mismatch(f"{exc.status} {exc.message} (open registration is off: run the smoke with "
                           "--email/--password and --email2/--password2 of two existing accounts)") from exc
    return f"{run.a.me.full_name} and {run.b.me.full_name} registered"


async def login(run: Run) -> str:
    for side in run.sides:
        side.user = await side.client.login(side.credentials.email, side.credentials.password)
    require(run.a.id != run.b.id, "--email and --email2 are the same account")
    return f"A is {run.a.me.full_name}, B is {run.b.me.full_name}"


async def reset(run: Run) -> str:
    """Undo what an interrupted earlier run may have left between the two given accounts
    (a block, their chat), so that this run starts as the first one did."""
    done: list[str] = []
    for side, other in ((run.a, run.b), (run.b, run.a)):
        if other.id in side.me.blocked_users:
            await side.client.unblock(other.id)
            done.append(f"{side.name} unblocked {other.name}")
    chat_id = await _chat_with(run.a, run.b) or await _chat_with(run.b, run.a)
    if chat_id is not None:  # A clears, then B: the second clear deletes the chat for good
        await run.a.client.clear(chat_id)
        try:
            await run.b.client.clear(chat_id)
        except NotFound:
            pass  # A's clear deleted it already (B had cleared it before)
        done.append("deleted their chat")
    return "; ".join(done) or "nothing left from an earlier run"


async def _chat_with(me: Side, other: Side) -> str | None:
    page = 1
    while True:
        listing = await me.client.chats(page=page, limit=LISTING_PAGE)
        for chat in listing:
            if chat.to.id == other.id:
                return chat.id
        if not listing.has_next:
            return None
        page += 1


async def connect(run: Run) -> str:
    for side in run.sides:
        await side.client.connect()  # the token in the `authorization` handshake header
        await _online(run, side)
    return "both sockets accepted; online-users received"


async def _online(run: Run, side: Side) -> None:
    me = side.id
    await run.expect(side, OnlineUsers, lambda e: me in e.user_ids, "online-users listing itself")


# --- messages and receipts ------------------------------------------------------------


async def first_message(run: Run) -> str:
    a, b = run.sides
    text = run.text("hello")
    sent = await a.client.send(text, to=b.id)
    run.chat_id = sent.chat_id
    run.sent["first"] = sent
    mine = await run.expect(a, ChatOpened, lambda e: e.message.id == sent.id, "new-chat for its own first message")
    theirs = await run.expect(b, ChatOpened, lambda e: e.message.id == sent.id, "new-chat for A's first message")
    require(mine.to.id == b.id, f"A's new-chat names {mine.to.id} as the other user, not B")
    require(theirs.to.id == a.id, f"B's new-chat names {theirs.to.id} as the other user, not A")
    require(theirs.message.content == text and not theirs.message.is_mine,
            "B's new-chat does not carry A's message as A sent it")
    return f"chat {sent.chat_id}: new-chat on both sides"


async def message(run: Run) -> str:
    a, b = run.sides
    reply = await b.client.send(run.text("reply"), chat_id=run.chat_id)
    run.sent["reply"] = reply
    at_a = await run.expect(a, MessageReceived, lambda e: e.message.id == reply.id, "message event for B's reply")
    at_b = await run.expect(b, MessageReceived, lambda e: e.message.id == reply.id, "message event for its reply")
    require(not at_a.message.is_mine and at_b.message.is_mine, "isMyMsg is wrong in the message events")
    return "B's reply reached both as a message event"


async def delivered(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    first, reply = run.message("first"), run.message("reply")
    await run.expect(a, MessageDelivered, lambda e: e.chat_id == chat_id and e.message_id == first.id,
                     "message-delivered for its first message (B was online)")
    await run.expect(b, MessageDelivered, lambda e: e.chat_id == chat_id and e.message_id == reply.id,
                     "message-delivered for its reply (A was online)")
    await b.client.mark_delivered(first.id)
    return "message-delivered both ways; B acknowledged A's message"


async def join_chat(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    await b.client.join(chat_id)
    await run.expect(a, MessagesSeen, lambda e: e.chat_id == chat_id, "messages-seen when B joined the chat")
    sent = await a.client.send(run.text("while you look"), chat_id=chat_id)
    seen = await run.expect(b, MessageReceived, lambda e: e.message.id == sent.id, "message while viewing the chat")
    require(seen.message.is_read, "a message sent while B views the chat arrived unread")
    await run.expect(a, MessagesSeen, lambda e: e.chat_id == chat_id and e.seen_time >= sent.created_at,
                     "messages-seen for a message B read as it arrived")
    return "join-chat read A's messages; A got messages-seen twice"


async def typing(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    await a.client.typing(chat_id)
    shown = await run.expect(b, Typing, lambda e: e.chat_id == chat_id and e.user_id == a.id, "typing from A")
    await a.client.stop_typing(chat_id)
    await run.expect(b, StoppedTyping, lambda e: e.chat_id == chat_id and e.user_id == a.id, "stop-typing from A")
    return f"B saw {shown.user_name!r} typing, then stop"


async def leave_chat(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    await b.client.leave(chat_id)
    sent = await a.client.send(run.text("after you left"), chat_id=chat_id)
    got = await run.expect(b, MessageReceived, lambda e: e.message.id == sent.id, "message after leave-chat")
    require(not got.message.is_read, "a message sent after B left the chat arrived read")
    await run.expect(a, MessageDelivered, lambda e: e.message_id == sent.id,
                     "message-delivered (not seen) after B left the chat")
    return "after leave-chat A's message is delivered, not read"


async def image(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    [sent] = await a.client.send_images([tiny_png()], chat_id=chat_id)
    require(sent.type == "image", f"the upload stored a {sent.type!r} message, not an image")
    got = await run.expect(b, MessageReceived, lambda e: e.message.id == sent.id, "message event for the image")
    async with ChatClient(run.options.server, timeout=run.options.timeout, realtime=False) as anonymous:
        media = await anonymous.download(got.message.content)  # no token: the signed URL alone
    require(media.content_type == "image/png" and media.content.startswith(PNG_SIGNATURE),
            f"the image URL served {media!r}, not the PNG uploaded")
    return f"uploaded; B's image URL loads with no token ({len(media.content)} bytes, {media.content_type})"


# --- blocking, listings, clearing ---------------------------------------------------------


async def block(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    state = await a.client.block(b.id)
    require(state.blocked_by_me, "A's block reply does not say blockedByMe")
    for side in run.sides:
        await run.expect(side, MessageReceived, lambda e: _label(e, chat_id, "blocked"), "the 'blocked' label")
    for sender in run.sides:
        try:
            await sender.client.send(run.text("while blocked"), chat_id=chat_id)
        except Forbidden as exc:
            require(exc.message == Sentence.BLOCKED, f"{sender.name}'s send was refused with {exc.message!r}")
        else:
            raise Mismatch(f"{sender.name} could send a message while A blocks B")
    seen_by_b = await b.client.chat(chat_id, messages=1)
    require(seen_by_b.block.blocked_by_other, "B's view of the chat does not say blockedByOtherUser")
    return "both sends refused (403); B sees blockedByOtherUser"


async def unblock(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    state = await a.client.unblock(b.id)
    require(not state.blocked, "A's unblock reply still says blocked")
    for side in run.sides:
        await run.expect(side, MessageReceived, lambda e: _label(e, chat_id, "unblocked"), "the 'unblocked' label")
    sent = await b.client.send(run.text("unblocked"), chat_id=chat_id)
    await run.expect(a, MessageReceived, lambda e: e.message.id == sent.id, "B's message after unblocking")
    return "B's message reaches A again"


def _label(event: MessageReceived, chat_id: str, text: str) -> bool:
    return event.message.chat_id == chat_id and event.message.type == "Label" and event.message.content == text


async def listings(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    history = await a.client.chat(chat_id, messages=LISTING_PAGE)  # changes no receipt
    unread = sum(1 for m in history.messages if not m.is_mine and not m.is_read)
    require(unread > 0, "A has no unread message from B, though A never viewed the chat")
    before = await _unread_listed(run, a)
    require(before == unread, f"A's listing counts {before} unread messages, the chat holds {unread}")
    newest = max(m.created_at for m in history.messages if not m.is_mine)
    async for _ in a.client.messages(chat_id):  # reading marks them read
        pass
    await run.expect(b, MessagesSeen, lambda e: e.chat_id == chat_id and e.seen_time >= newest,
                     "messages-seen when A read the chat's messages")
    after = await _unread_listed(run, a)
    require(after == 0, f"A's listing still counts {after} unread after reading")
    found = await b.client.users(a.me.email)
    require(any(u.id == a.id for u in found), "B's user search by A's email does not find A")
    return f"unread {unread} → 0 after reading; B finds A in the directory"


async def _unread_listed(run: Run, side: Side) -> int:
    """The chat's unread count in ``side``'s listing (where it is on the first page: the newest activity)."""
    for chat in await side.client.chats(limit=LISTING_PAGE):
        if chat.id == run.chat_id:
            if chat.unread_count is None:
                raise Mismatch("the chat listing gives no unreadMessagesCount")
            return chat.unread_count
    raise Mismatch(f"{side.name}'s chat listing lacks the chat (its newest activity)")


async def clear(run: Run) -> str:
    a, b = run.sides
    chat_id = run.chat_id
    require(not await a.client.clear(chat_id), "A's clear deleted the chat, though B had not cleared it")
    require(not (await a.client.chat(chat_id)).messages, "A still sees messages after clearing")
    require(bool((await b.client.chat(chat_id)).messages), "B lost the messages when A cleared the chat")
    sent = await b.client.send(run.text("after your clear"), chat_id=chat_id)
    await run.expect(a, ChatOpened, lambda e: e.message.id == sent.id, "new-chat for the first message after clearing")
    await a.client.clear(chat_id)
    require(await b.client.clear(chat_id), "the chat was not deleted once both had cleared it")
    try:
        await a.client.chat(chat_id)
    except NotFound:
        return "cleared for A (B kept it), new-chat after it, deleted once both cleared"
    raise Mismatch("the chat still exists after both users cleared it")


# --- leaving no way in ----------------------------------------------------------------


async def retire(run: Run) -> str:
    """Throwaway users get a random password nobody keeps: nobody can log in as them again."""
    retired = []
    for side in run.sides:
        if not side.has_session:
            continue
        await side.client.change_password(side.credentials.password, secrets.token_urlsafe(24))
        async with ChatClient(run.options.server, timeout=run.options.timeout, realtime=False) as probe:
            try:
                await probe.login(side.credentials.email, side.credentials.password)
            except AuthError:
                retired.append(side.name)
                continue
            await probe.logout()
        raise Mismatch(f"{side.name} can still log in with its old password after changing it")
    return f"{' and '.join(retired)}: password replaced by a random one nobody keeps"


async def log_out(run: Run) -> str:
    refusals: dict[str, None] = {}
    for side in run.sides:
        token = side.client.token
        if token is None:
            continue
        await side.client.logout()
        async with ChatClient(run.options.server, token=token, timeout=run.options.timeout,
                              realtime=False) as probe:
            try:
                await probe.me()
            except AuthError as exc:
                refusals[exc.message] = None
                continue
        raise Mismatch(f"{side.name}'s token still works after log-out")
    return "tokens refused afterwards: " + "; ".join(refusals)


def main_steps(throwaway: bool) -> list[tuple[str, Step]]:
    """The checks, in order; each may rely on the ones before it."""
    opening: list[tuple[str, Step]] = [("register", register)] if throwaway else [("login", login), ("reset", reset)]
    return [
        ("server", check_server), *opening, ("connect", connect), ("first-message", first_message),
        ("message", message), ("delivered", delivered), ("join-chat", join_chat), ("typing", typing),
        ("leave-chat", leave_chat), ("image", image), ("block", block), ("unblock", unblock),
        ("listings", listings), ("clear", clear),
    ]


def final_steps(throwaway: bool) -> list[tuple[str, Step]]:
    """Run even after a failure, for every user that has a session: nothing stays logged in,
    and no throwaway user can log in again."""
    return [*([("retire", retire)] if throwaway else []), ("log-out", log_out)]
