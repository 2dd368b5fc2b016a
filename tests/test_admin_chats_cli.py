"""``chatkit admin`` chat commands against a running server, and account actions that
must end the user's open sockets."""

from __future__ import annotations

import json

import pytest

from chatkit.protocol import Sentence
from tests.helpers.constants import AUTH, UNKNOWN_ID
from tests.helpers.failures import assert_failed_ack
from tests.helpers.realtime import ConnectRefused
from tests.helpers.rest import chat_entry, chats_data, contents, get_ok


async def _chat(pair) -> str:
    """Ann and Bob have a chat with one message each way; its id."""
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("m1")
    await b.send("m2", chat_id=chat_id)
    await a.next("message")
    await b.next("message")
    return chat_id


@pytest.mark.parametrize("by", ["email", "id"])
async def test_cli_block_stops_messages_at_once_both_ways(api, pair, admin, by):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    ref = (lambda acc: acc.email) if by == "email" else (lambda acc: acc.id)
    await admin("block", ref(ann), ref(bob))  # Ann blocks Bob
    # The Label line the CLI wrote reaches both live users, as the app's button would.
    for peer in (a, b):
        label = await peer.next("message", match=lambda m: m["type"] == "Label")
        assert (label["content"], label["chat"]) == ("blocked", chat_id)
    me = await get_ok(api, AUTH + "/me", ann)
    assert me["data"]["blockedUsers"] == [bob.id]
    assert assert_failed_ack(await b.emit_ack("new-message", {"content": "x", "chatId": chat_id})) == Sentence.BLOCKED
    assert assert_failed_ack(await a.emit_ack("new-message", {"content": "y", "chatId": chat_id})) == Sentence.BLOCKED
    entry = await chat_entry(api, ann, chat_id)
    assert (entry["blocked"], entry["blockedByMe"], entry["blockedByOtherUser"]) == (True, True, False)

    await admin("unblock", ref(ann), ref(bob))
    assert (await b.next("message", match=lambda m: m["type"] == "Label"))["content"] == "unblocked"
    await b.send("free again", chat_id=chat_id)
    await a.next("message", match=lambda m: m["content"] == "free again")


async def test_cli_block_unknown_user_fails_cleanly(make_user, admin):
    ann = await make_user("Ann")
    result = await admin("block", ann.email, "nobody@example.com", ok=False)
    assert result.exit_code != 0
    assert "Traceback" not in result.output


async def test_cli_clear_for_one_user(api, pair, admin):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await admin("clear", chat_id, "--for", ann.email)
    assert await chat_entry(api, ann, chat_id) is None
    assert await contents(api, ann, chat_id) == []
    assert await contents(api, bob, chat_id) == ["m1", "m2"]
    # the running server sees it: Bob's next message reaches Ann as new-chat
    await b.send("m3", chat_id=chat_id)
    nc = await a.next("new-chat")
    assert nc["_id"] == chat_id and [m["content"] for m in nc["messages"]] == ["m3"]


async def test_cli_clear_all(api, pair, admin):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await admin("clear", chat_id, "--all", "--yes")
    for acc in (ann, bob):
        assert await chats_data(api, acc) == []
        r = await api.get(f"/api/v1/chats/{chat_id}/messages", headers=acc.headers)
        assert r.status_code == 404 or (r.status_code == 200 and r.json()["data"] == []), r.text
    sent = await a.send("starting over", other_user_id=bob.id)
    nc = await b.next("new-chat", match=lambda e: e["_id"] == sent["chat"])
    assert [m["content"] for m in nc["messages"]] == ["starting over"]


async def test_cli_clear_needs_exactly_one_mode(pair, admin):
    chat_id = await _chat(pair)
    r = await admin("clear", chat_id, ok=False)
    assert r.exit_code != 0
    r = await admin("clear", chat_id, "--all", "--for", pair.ann.email, ok=False)
    assert r.exit_code != 0
    r = await admin("clear", UNKNOWN_ID, "--all", ok=False)
    assert r.exit_code == 3 and "Traceback" not in r.output


async def test_cli_chats_list_json(make_user, sockets, pair, admin):
    ann = pair.ann
    chat_id = await _chat(pair)
    cat = await make_user("Cat")
    dan = await make_user("Dan")
    c = await sockets.connect(cat)
    other_chat = (await c.send("cat to dan", other_user_id=dan.id))["chat"]

    everything = (await admin("chats", "list", "--json")).stdout
    parsed = json.loads(everything)
    assert chat_id in everything and other_chat in everything
    assert parsed  # non-empty JSON document

    only_ann = (await admin("chats", "list", "--user", ann.email, "--json")).stdout
    json.loads(only_ann)
    assert chat_id in only_ann and other_chat not in only_ann
    only_dan = (await admin("chats", "list", "--user", dan.id, "--json")).stdout
    assert other_chat in only_dan and chat_id not in only_dan


@pytest.mark.parametrize("action", [
    ("users", "ban"), ("users", "deactivate"), ("users", "logout"), ("users", "set-password"),
])
async def test_cli_account_actions_disconnect_open_sockets(make_user, sockets, admin, action):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    tab1 = await sockets.connect(ann)
    tab2 = await sockets.connect(ann, via="auth")
    other = await sockets.connect(bob)
    args = [*action, ann.email]
    if action[1] == "set-password":
        args += ["--password", "another good pass 9"]
    if action[1] == "logout":
        args += ["--yes"]
    await admin(*args)
    await tab1.wait_disconnected(timeout=3)
    await tab2.wait_disconnected(timeout=3)
    assert other.connected
    with pytest.raises(ConnectRefused):
        await sockets.connect(ann)
    # Bob sees Ann go offline
    await other.next("online-users", match=lambda ids: ann.id not in ids)
