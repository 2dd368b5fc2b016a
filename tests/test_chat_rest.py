"""REST chat reads: listings, one chat, message pages, the user directory; errors never 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.helpers.accounts import auth_header
from tests.helpers.constants import UNKNOWN_ID, iso_ms, parse_iso_ms
from tests.helpers.failures import assert_error
from tests.helpers.rest import (
    chats_data,
    get_chat,
    get_ok,
    list_chats,
    messages,
    messages_page,
)


async def test_listing_shape(api, make_user, sockets):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    b = await sockets.connect(bob)
    sent = await b.send("hello ann", other_user_id=ann.id)

    body = await list_chats(api, ann, page=1, limit=10, noOfMessages=5)
    assert body["pagination"] == {"totalResults": 1, "totalPages": 1, "page": 1, "limit": 10}
    [entry] = body["data"]
    assert entry["_id"] == sent["chat"]
    to = entry["to"]
    assert to["_id"] == bob.id and to["fullName"] == "Bob Ray"
    assert "profilePicture" in to and to["isActive"] is True and to["isOnline"] is True
    assert [m["_id"] for m in entry["messages"]] == [sent["_id"]]
    m = entry["messages"][0]
    assert m["content"] == "hello ann" and m["isMyMsg"] is False
    assert entry["unreadMessagesCount"] == 1
    assert (entry["blocked"], entry["blockedByMe"], entry["blockedByOtherUser"]) == (False, False, False)
    assert entry["lastMessageCreatedAt"] == sent["createdAt"]


async def test_listing_newest_activity_first_and_paginated(api, make_user, sockets):
    ann = await make_user("Ann")
    others = [await make_user(n) for n in ("Bob", "Cat", "Dan")]
    a = await sockets.connect(ann)
    chat_of = {}
    for o in others:
        chat_of[o.id] = (await a.send(f"to {o.data['firstName']}", other_user_id=o.id))["chat"]
    bob = others[0]
    b = await sockets.connect(bob)
    await b.send("bob answers", other_user_id=ann.id)  # Bob's chat becomes the newest

    order = [e["_id"] for e in await chats_data(api, ann)]
    assert order == [chat_of[others[0].id], chat_of[others[2].id], chat_of[others[1].id]]

    p1 = await list_chats(api, ann, page=1, limit=2)
    p2 = await list_chats(api, ann, page=2, limit=2)
    assert p1["pagination"] == {"totalResults": 3, "totalPages": 2, "page": 1, "limit": 2}
    assert p2["pagination"]["page"] == 2
    assert [e["_id"] for e in p1["data"] + p2["data"]] == order
    p3 = await list_chats(api, ann, page=3, limit=2)
    assert p3["data"] == []


async def test_unread_count_counts_beyond_the_messages_returned(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    b = await sockets.connect(bob)
    for i in range(5):
        await b.send(f"u{i}", other_user_id=ann.id)
    [entry] = await chats_data(api, ann, noOfMessages=2)
    assert [m["content"] for m in entry["messages"]] == ["u4", "u3"]  # newest first
    assert entry["unreadMessagesCount"] == 5
    # Bob's own messages are not unread for him
    [entry_b] = await chats_data(api, bob, noOfMessages=2)
    assert entry_b["unreadMessagesCount"] == 0


async def test_listing_search_by_other_users_name_taken_literally(api, make_user, sockets):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Marley")
    odd = await make_user("Weird", "Na(me.*")
    a = await sockets.connect(ann)
    await a.send("x", other_user_id=bob.id)
    await a.send("y", other_user_id=odd.id)

    async def names(search):
        return [e["to"]["fullName"] for e in await chats_data(api, ann, search=search)]

    assert await names("bob") == ["Bob Marley"]
    assert await names("MARL") == ["Bob Marley"]
    assert await names(".*") == ["Weird Na(me.*"]
    assert await names("(") == ["Weird Na(me.*"]
    assert await names("[") == []
    assert await names("a|b") == []
    assert await names("zzz") == []
    assert await names("ann") == []  # my own name does not match


async def test_listing_leaves_out_deactivated_users_and_empty_chats(api, make_user, sockets, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    cat = await make_user("Cat")
    a = await sockets.connect(ann)
    await a.send("to bob", other_user_id=bob.id)
    cat_chat = (await a.send("to cat", other_user_id=cat.id))["chat"]
    await admin("users", "deactivate", bob.email)
    data = await chats_data(api, ann)
    assert [e["_id"] for e in data] == [cat_chat]
    assert (await list_chats(api, ann))["pagination"]["totalResults"] == 1
    await admin("users", "activate", bob.email)
    assert len(await chats_data(api, ann)) == 2


async def test_get_one_chat(api, make_user, sockets):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    cat = await make_user("Cat")
    a = await sockets.connect(ann)
    chat_id = (await a.send("one", other_user_id=bob.id))["chat"]
    await a.send("two", chat_id=chat_id)
    await a.send("three", chat_id=chat_id)

    chat = await get_chat(api, bob, chat_id, noOfMessages=2)
    assert chat["_id"] == chat_id
    assert chat["to"]["_id"] == ann.id and chat["to"]["fullName"] == "Ann Lee"
    assert (chat["blocked"], chat["blockedByMe"], chat["blockedByOtherUser"]) == (False, False, False)
    assert [m["content"] for m in chat["messages"]] == ["three", "two"]
    chat_a = await get_chat(api, ann, chat_id)
    assert chat_a["to"]["_id"] == bob.id
    assert [m["content"] for m in chat_a["messages"]] == ["three", "two", "one"]

    # An outsider is answered exactly as for an id that does not exist: ids cannot be probed.
    outsider = assert_error(await api.get(f"/api/v1/chats/{chat_id}", headers=cat.headers), 404)
    assert assert_error(await api.get(f"/api/v1/chats/{UNKNOWN_ID}", headers=ann.headers), 404) == outsider
    assert_error(await api.get("/api/v1/chats/12345", headers=ann.headers), 400)
    assert_error(await api.get(f"/api/v1/chats/{chat_id}"), 401)


async def test_messages_page_newest_first_with_is_my_msg_and_pagination(api, pair):
    ann, bob, a, b = pair
    chat_id = (await a.send("c0", other_user_id=bob.id))["chat"]
    for i in range(1, 7):
        await (b if i % 2 else a).send(f"c{i}", chat_id=chat_id)

    page1 = await messages_page(api, ann, chat_id, page=1, limit=4)
    page2 = await messages_page(api, ann, chat_id, page=2, limit=4)
    assert page1["pagination"] == {"totalResults": 7, "totalPages": 2, "page": 1, "limit": 4}
    got = page1["data"] + page2["data"]
    assert [m["content"] for m in got] == [f"c{i}" for i in range(6, -1, -1)]
    assert [m["isMyMsg"] for m in got] == [i % 2 == 0 for i in range(6, -1, -1)]
    assert all(m["chat"] == chat_id for m in got)


async def test_messages_search_is_literal_and_case_insensitive(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    chat_id = (await a.send("Hello World", other_user_id=bob.id))["chat"]
    for text in ("price is $5.00 (net)", "hello again", "nothing"):
        await a.send(text, chat_id=chat_id)

    async def found(search):
        return [m["content"] for m in await messages(api, ann, chat_id, search=search)]

    assert await found("HELLO") == ["hello again", "Hello World"]
    assert await found("$5.00 (") == ["price is $5.00 (net)"]
    assert await found(".*") == []
    assert await found("(") == ["price is $5.00 (net)"]
    assert await found("[a-z]") == []


async def test_messages_between_dates(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    sent = [await a.send("d0", other_user_id=bob.id)]
    for i in (1, 2):
        await asyncio.sleep(0.02)
        sent.append(await a.send(f"d{i}", other_user_id=bob.id))
    chat_id = sent[0]["chat"]
    t = [parse_iso_ms(m["createdAt"]) for m in sent]
    mid01 = iso_ms(t[0] + (t[1] - t[0]) / 2)
    mid12 = iso_ms(t[1] + (t[2] - t[1]) / 2)

    async def found(**q):
        return [m["content"] for m in reversed(await messages(api, ann, chat_id, **q))]

    assert await found(startDate=mid01) == ["d1", "d2"]
    assert await found(endDate=mid12) == ["d0", "d1"]
    assert await found(startDate=mid01, endDate=mid12) == ["d1"]
    future = iso_ms(datetime.now(UTC) + timedelta(days=1))
    assert await found(startDate=future) == []
    assert_error(await api.get(f"/api/v1/chats/{chat_id}/messages", headers=ann.headers,
                               params={"startDate": "yesterday-ish"}), 400)


async def test_messages_page_errors(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    cat = await make_user("Cat")
    a = await sockets.connect(ann)
    chat_id = (await a.send("secret", other_user_id=bob.id))["chat"]
    outsider = assert_error(await api.get(f"/api/v1/chats/{chat_id}/messages", headers=cat.headers), 404)
    assert assert_error(await api.get(f"/api/v1/chats/{UNKNOWN_ID}/messages", headers=ann.headers), 404) == outsider
    assert_error(await api.get("/api/v1/chats/xyz/messages", headers=ann.headers), 400)
    assert_error(await api.get(f"/api/v1/chats/{chat_id}/messages"), 401)
    # Cat's look did not mark anything read
    [m] = await messages(api, ann, chat_id)
    assert m["isRead"] is False


async def test_bad_query_parameters_are_400_not_500(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    chat_id = (await a.send("x", other_user_id=bob.id))["chat"]
    for path in ("/api/v1/chats", f"/api/v1/chats/{chat_id}/messages", "/api/v1/chats/users"):
        for params in ({"page": "abc"}, {"limit": "-1"}, {"page": "0"}, {"limit": "1e9"},
                       {"page": "99999999999999999999999"}):
            assert_error(await api.get(path, headers=ann.headers, params=params), 400, label=(path, params))
    assert_error(await api.get("/api/v1/chats", headers=ann.headers, params={"noOfMessages": "many"}), 400)
    # odd but harmless search strings are fine
    for s in ("\\", "$where", "{\"$gt\": \"\"}", "x" * 2000):
        r = await api.get("/api/v1/chats", headers=ann.headers, params={"search": s})
        assert r.status_code in (200, 400), (s, r.status_code, r.text)
        if r.status_code == 200:
            assert r.json()["data"] == []


async def test_search_with_a_nul_character_is_not_a_500(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    chat_id = (await a.send("x", other_user_id=bob.id))["chat"]
    for path in ("/api/v1/chats", f"/api/v1/chats/{chat_id}/messages", "/api/v1/chats/users"):
        r = await api.get(path, headers=ann.headers, params={"search": "a\u0000b"})
        assert r.status_code in (200, 400), (path, r.status_code, r.text)
        if r.status_code == 200:
            assert r.json()["data"] == []


async def test_chats_require_authentication(api):
    for path in ("/api/v1/chats", "/api/v1/chats/users"):
        assert_error(await api.get(path), 401)
        assert_error(await api.get(path, headers=auth_header("garbage")), 401)


async def test_users_directory(api, make_user, sockets, admin):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Marley")
    cat = await make_user("Cat", "Stevens")
    gone = await make_user("Gone", "Away")
    await admin("users", "deactivate", gone.email)
    b = await sockets.connect(bob)
    await b.send("hi Ann", other_user_id=ann.id)  # a contact: Ann may see his presence
    await sockets.connect(cat)  # online too, but a stranger to Ann: shown offline

    body = await get_ok(api, "/api/v1/chats/users", ann, limit=50)
    users = {u["_id"]: u for u in body["data"]}
    assert set(users) == {bob.id, cat.id}  # not me, not the deactivated user
    u = users[bob.id]
    assert u["firstName"] == "Bob" and u["lastName"] == "Marley" and u["fullName"] == "Bob Marley"
    assert "profilePicture" in u and u["isActive"] is True
    assert u["isOnline"] is True and users[cat.id]["isOnline"] is False
    assert "password" not in u and "blockedUsers" not in u

    async def found(search):
        return sorted(x["fullName"] for x in (await get_ok(api, "/api/v1/chats/users", ann, search=search))["data"])

    assert await found("marl") == ["Bob Marley"]
    assert await found("STEV") == ["Cat Stevens"]
    assert await found(cat.email.split("@")[0].upper()) == ["Cat Stevens"]  # by email too
    assert await found(".*") == []
    assert await found("(") == []
    assert await found("Gone") == []


async def test_users_directory_pagination(api, make_user):
    ann = await make_user("Ann")
    for i in range(5):
        await make_user(f"User{i}")
    p1 = await get_ok(api, "/api/v1/chats/users", ann, page=1, limit=3)
    p2 = await get_ok(api, "/api/v1/chats/users", ann, page=2, limit=3)
    assert len(p1["data"]) == 3 and len(p2["data"]) == 2
    assert not ({u["_id"] for u in p1["data"]} & {u["_id"] for u in p2["data"]})
    assert p1["pagination"]["totalResults"] == 5
