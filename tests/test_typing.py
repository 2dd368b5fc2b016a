"""typing / stop-typing relay."""

from __future__ import annotations

from tests.helpers.accounts import full_name
from tests.helpers.failures import is_error_event
from tests.helpers.rest import block_ok


async def test_typing_and_stop_typing_reach_the_other_participant(pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
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


async def test_typing_reaches_every_tab_of_the_other_user_and_nobody_else(make_user, sockets, pair):
    bob, a, b = pair.bob, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat()
    b2 = await sockets.connect(bob)
    cat = await make_user("Cat")
    c = await sockets.connect(cat)
    await a.emit("typing", {"chatId": chat_id})
    await b.next("typing")
    await b2.next("typing")
    await c.no_event("typing")


async def test_no_typing_between_blocked_users(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
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


async def test_typing_in_someone_elses_chat_is_an_error_and_relays_nothing(make_user, sockets, pair):
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat()
    cat = await make_user("Cat")
    c = await sockets.connect(cat)
    await c.emit("typing", {"chatId": chat_id})
    err = await c.next("error")
    assert is_error_event(err), err
    await a.no_event("typing")
    await b.no_event("typing", within=0)
