"""typing / stop-typing relay."""

from __future__ import annotations

from chatapi import block_ok, full_name


async def _chat(make_user, sockets):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    chat_id = (await a.send("hi", other_user_id=bob.id))["chat"]
    await b.next("new-chat")
    return ann, bob, a, b, chat_id


async def test_typing_and_stop_typing_reach_the_other_participant(make_user, sockets):
    ann, bob, a, b, chat_id = await _chat(make_user, sockets)
    await a.emit("typing", {"chatId": chat_id})
    ev = await b.next("typing")
    assert ev["chatId"] == chat_id and ev["userId"] == ann.id
    assert isinstance(ev["userName"], str) and "Ann" in ev["userName"]
    await a.emit("stop-typing", {"chatId": chat_id})
    ev = await b.next("stop-typing")
    assert ev["chatId"] == chat_id and ev["userId"] == ann.id and "Ann" in ev["userName"]
    # the typist's own tabs are not told
    await a.no_event("typing")
    await a.no_event("stop-typing", within=0)

    await b.emit("typing", {"chatId": chat_id})
    ev = await a.next("typing")
    assert ev["userId"] == bob.id and ev["userName"] in (full_name(bob), "Bob")


async def test_typing_reaches_every_tab_of_the_other_user_and_nobody_else(make_user, sockets):
    ann, bob, a, b, chat_id = await _chat(make_user, sockets)
    b2 = await sockets.connect(bob)
    cat = await make_user("Cat")
    c = await sockets.connect(cat)
    await a.emit("typing", {"chatId": chat_id})
    await b.next("typing")
    await b2.next("typing")
    await c.no_event("typing")


async def test_no_typing_between_blocked_users(api, make_user, sockets):
    ann, bob, a, b, chat_id = await _chat(make_user, sockets)
    await block_ok(api, bob, ann.id)
    await a.emit("typing", {"chatId": chat_id})
    await b.emit("typing", {"chatId": chat_id})
    await a.emit("stop-typing", {"chatId": chat_id})
    await b.emit("stop-typing", {"chatId": chat_id})
    await b.no_event("typing")
    await a.no_event("typing", within=0)
    await a.no_event("stop-typing", within=0)
    await b.no_event("stop-typing", within=0)

    await block_ok(api, bob, ann.id, "unblock")
    await a.emit("typing", {"chatId": chat_id})
    await b.next("typing")


async def test_typing_in_someone_elses_chat_is_an_error_and_relays_nothing(make_user, sockets):
    ann, bob, a, b, chat_id = await _chat(make_user, sockets)
    cat = await make_user("Cat")
    c = await sockets.connect(cat)
    await c.emit("typing", {"chatId": chat_id})
    err = await c.next("error")
    assert isinstance(err["message"], str) and err["message"]
    await a.no_event("typing")
    await b.no_event("typing", within=0)
