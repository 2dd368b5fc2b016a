"""``chatkit admin pushes`` on a server without Firebase: what would have been sent.

(With Firebase, the same listing's delivery counts and reasons are checked in
``test_push_delivery.py``.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bson import ObjectId

from tests.helpers.rest import pushes_for, wait_pushes
from tests.helpers.waiting import wait_until


async def _pushes(admin, *args: str) -> dict:
    return json.loads((await admin("pushes", *args, "--json")).output)


async def test_pushes_lists_what_was_recorded_without_credentials(db, make_user, sockets, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    cid = await make_user("Cid")  # no device with push enabled
    a = await sockets.connect(ann)
    chat_id = (await a.send("first", other_user_id=bob.id))["chat"]
    await a.send("second", chat_id=chat_id)
    await a.send("hi Cid", other_user_id=cid.id)

    listed = await _pushes(admin)
    assert listed["total"] == 3
    newest_first = [(p["userId"], p["body"]) for p in listed["pushes"]]
    assert newest_first == [(cid.id, "hi Cid"), (bob.id, "second"), (bob.id, "first")]
    for p in listed["pushes"]:
        assert p["status"] == "recorded" and p["delivered"] == 0 and p["title"] == "New message from Ann"
    assert [p["tokenCount"] for p in listed["pushes"]] == [0, 1, 1]
    assert listed["pushes"][1]["chatId"] == chat_id

    everything = (await admin("pushes", "--json")).output + (await admin("pushes")).output
    assert "bob-phone" not in everything  # counts, never the tokens themselves

    assert [p["body"] for p in (await _pushes(admin, "--user", bob.email))["pushes"]] == ["second", "first"]
    limited = await _pushes(admin, "--status", "recorded", "--limit", "1")
    assert (limited["total"], [p["body"] for p in limited["pushes"]]) == (3, ["hi Cid"])
    assert await _pushes(admin, "--status", "sent") == {"total": 0, "pushes": []}


async def test_pushes_table_and_refusals(make_user, sockets, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    chat_id = (await a.send("one", other_user_id=bob.id))["chat"]
    await a.send("two", chat_id=chat_id)

    table = (await admin("pushes", "--limit", "1")).output
    assert bob.email in table and "recorded" in table and "0/1" in table  # users by email
    assert "1 of 2 pushes shown" in table

    bad = await admin("pushes", "--status", "lost", ok=False)
    assert bad.exit_code == 2 and "unknown push status 'lost'" in bad.output
    missing = await admin("pushes", "--user", "nobody@example.com", ok=False)
    assert missing.exit_code == 3 and "nobody@example.com" in missing.output


async def test_a_server_without_credentials_records_what_an_earlier_run_left_queued(db, make_user, admin):
    bob = await make_user("Bob", notificationToken="bob-phone")
    t = datetime.now(UTC)
    await db["pushes"].insert_one({  # as a server with Firebase would have left it
        "userId": ObjectId(bob.id), "chatId": ObjectId(), "tokens": ["bob-phone"], "tokenCount": 1,
        "title": "New message from Ann", "body": "left behind", "data": {"case": "chat", "info": "x"},
        "status": "queued", "count": 1, "attempts": 0, "dueAt": t, "createdAt": t, "updatedAt": t,
    })
    [push] = await wait_until(lambda: pushes_for(db, bob.id), until=lambda ps: ps[0]["status"] == "recorded",
                              what="the queued push recorded")
    assert push["attempts"] == 1
    assert (await _pushes(admin, "--status", "queued"))["total"] == 0
    assert await wait_pushes(db, bob.id, 1)
