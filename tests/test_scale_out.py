"""Several ``chatkit serve`` processes on one Redis and one MongoDB behave as one server.

Two real processes (a third for the crash) share a mongod and a redis-server; Ann is
on process 1 and Bob on process 2, each through ``chatkit.client``. Every real-time
rule must hold across them: the first message, receipts decided from the other
process's presence, typing, presence with a tab on each process, blocks, an operator's
ban, and a process that dies: its users come back on another through a front (as
behind nginx), nothing lost or doubled, and its presence expires; and Redis restarting
empty, after which each process writes its part again.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest

from chatkit.client import (
    Backoff,
    ChatkitError,
    ChatOpened,
    Connected,
    Disconnected,
    ErrorEvent,
    Message,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    OnlineUsers,
    StoppedTyping,
    Typing,
)
from chatkit.mongod import free_port
from chatkit.protocol import Sentence
from tests.helpers.clients import People, Person, assert_exactly_once, open_chat
from tests.helpers.constants import TEST_SECRET
from tests.helpers.failover import Failover
from tests.helpers.processes import GUARD, Server, child_env
from tests.helpers.waiting import wait_until

PRESENCE_TTL = "1.5"  # seconds: a dead process's presence is gone soon after
BURST = 20
QUICK_RETURN = Backoff(first=0.1, ceiling=0.5)


@dataclass
class Deployment:
    """Processes of one deployment: same database, same Redis, same JWT secret."""

    mongo_url: str
    redis_url: str
    db_name: str
    home: Path

    def start(self, name: str) -> Server:
        args = ["--mongo-url", self.mongo_url, "--db-name", self.db_name, "--redis-url", self.redis_url,
                "--data-dir", str(self.home / name), "--port", str(free_port())]
        env = child_env(CHATKIT_JWT_SECRET=TEST_SECRET, CHATKIT_PRESENCE_TTL=PRESENCE_TTL)
        return Server(self.home / f"{name}.log", args, env)

    async def admin(self, *args: str, redis: bool = False) -> str:
        """``chatkit admin ...`` as an operator runs it (its own process); its stdout."""
        cmd = [sys.executable, "-m", "chatkit", "admin", "--mongo-url", self.mongo_url, "--db-name", self.db_name,
               "--data-dir", str(self.home / "admin"), *args]
        env = child_env(**({"CHATKIT_REDIS_URL": self.redis_url} if redis else {}))
        done = await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=GUARD)
        assert done.returncode == 0, (cmd, done.returncode, done.stderr)
        return done.stdout


@pytest.fixture(scope="module")
def deployment(mongo_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    found = Deployment(mongo_url, redis_url, f"t_{uuid.uuid4().hex[:12]}", tmp_path_factory.mktemp("scale"))
    try:
        yield found
    finally:
        with pymongo.MongoClient(mongo_url) as client:
            client.drop_database(found.db_name)


@pytest.fixture(scope="module")
def processes(deployment: Deployment) -> Iterator[tuple[Server, Server]]:
    """Process 1 and process 2, for the whole module (each test has its own users)."""
    one = deployment.start("one")
    try:
        two = deployment.start("two")
    except BaseException:
        one.stop()
        raise
    try:
        yield one, two
    finally:
        for server in (one, two):
            assert server.stop() == 0, server.log()


@pytest.fixture
async def on(processes: tuple[Server, Server]) -> AsyncIterator[tuple[People, People]]:
    """Users connected to process 1 and to process 2: ``one, two = on``."""
    pools = People(processes[0].url), People(processes[1].url)
    try:
        yield pools
    finally:
        for pool in pools:
            await pool.close()


async def _sees_online(viewer: Person, *users: Person) -> None:
    ids = {u.id for u in users}
    await viewer.events.next(OnlineUsers, lambda e: ids <= e.user_ids)


async def test_a_first_message_opens_the_chat_once_on_each_side(on: tuple[People, People]) -> None:
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)  # new-chat on both processes
    reply = await bob.client.send("back", chat_id=chat_id)
    for person in (ann, bob):  # the sender's own sockets hear it too
        got = await person.events.next(MessageReceived, lambda e: e.message.id == reply.id)
        assert got.message.content == "back"
    for person in (ann, bob):  # each event once, though every process hears every emit
        await person.events.no_event(ChatOpened)
        await person.events.no_event(MessageReceived)
    assert [m.content async for m in bob.client.messages(chat_id)] == ["back", "hi"]


async def test_a_burst_reaches_the_other_process_in_the_order_it_was_stored(on: tuple[People, People]) -> None:
    """Concurrent sends are published to Redis in the order they were stored, so the
    other process hands them to the reader in that order (the relay is not a pool)."""
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    sent = await asyncio.gather(*(ann.client.send(f"burst {i}", chat_id=chat_id) for i in range(100)))
    stored = [m.id for m in sorted(sent, key=lambda m: m.created_at)]
    got = [(await bob.events.next(MessageReceived, lambda e: e.message.chat_id == chat_id)).message.id
           for _ in sent]
    assert got == stored


async def test_receipts_are_decided_from_the_recipients_process(on: tuple[People, People]) -> None:
    one, two = on
    ann = await one.register("Ann", "Lee")
    bob = await two.register("Bob", "Ray", online=False)
    first = await ann.client.send("while you are away", to=bob.id)
    assert (first.is_delivered, first.is_read) == (False, False)  # offline everywhere: sent

    await bob.client.connect()  # on process 2: what waited is delivered, and process 1's sender hears it
    delivered = await ann.events.next(MessageDelivered, lambda e: e.message_id == first.id)
    assert delivered.chat_id == first.chat_id
    await _sees_online(ann, bob)
    online = await ann.client.send("now you are here", chat_id=first.chat_id)
    assert (online.is_delivered, online.is_read) == (True, False)

    await bob.client.join(first.chat_id)  # viewing the chat on process 2
    await ann.events.next(MessagesSeen, lambda e: e.chat_id == first.chat_id)
    viewed = await ann.client.send("while you look", chat_id=first.chat_id)
    assert (viewed.is_delivered, viewed.is_read) == (True, True)

    await bob.client.leave(first.chat_id)
    after = await ann.client.send("after you looked away", chat_id=first.chat_id)
    assert (after.is_delivered, after.is_read) == (True, False)


async def test_typing_reaches_the_other_process_both_ways(on: tuple[People, People]) -> None:
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    for writer, reader in ((ann, bob), (bob, ann)):
        await writer.client.typing(chat_id)
        got = await reader.events.next(Typing, lambda e, w=writer: e.user_id == w.id)
        assert got.chat_id == chat_id and got.user_name == writer.user.full_name
        await writer.client.stop_typing(chat_id)
        await reader.events.next(StoppedTyping, lambda e, w=writer: e.user_id == w.id and e.chat_id == chat_id)


async def test_a_user_with_a_tab_on_each_process_stays_online_while_either_is_open(
    on: tuple[People, People],
) -> None:
    one, two = on
    ann = await one.register("Ann", "Lee")
    bob, cy = await one.register("Bob", "Ray"), await two.register("Cy", "Fox")  # watchers on each process
    await open_chat(ann, bob)
    await open_chat(ann, cy)
    ann_there = await two.tab(ann, "Ann on process 2")
    for watcher in (bob, cy):
        await _sees_online(watcher, ann)

    for watcher in (bob, cy):
        watcher.events.drain(OnlineUsers)
    await ann.client.disconnect()  # her tab on process 1 closes; the one on process 2 is open
    for watcher in (bob, cy):
        await watcher.events.no_event(OnlineUsers, lambda e: ann.id not in e.user_ids)
        assert ann.id in watcher.client.online

    await ann_there.client.disconnect()  # and now the last one
    for watcher in (bob, cy):
        await watcher.events.next(OnlineUsers, lambda e: ann.id not in e.user_ids)
    # Bob and Cy share no chat: across processes too, neither ever saw the other
    assert all(cy.id not in e.user_ids for e in bob.events.all(OnlineUsers))
    assert all(bob.id not in e.user_ids for e in cy.events.all(OnlineUsers))


async def test_a_block_on_one_process_holds_on_the_other(on: tuple[People, People]) -> None:
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    chat_id = await open_chat(ann, bob)
    await ann.client.block(bob.id)
    for person in (ann, bob):
        label = (await person.events.next(MessageReceived)).message
        assert (label.type, label.content, label.chat_id) == ("Label", "blocked", chat_id)
    with pytest.raises(ChatkitError) as refused:
        await bob.client.send("let me in", chat_id=chat_id)
    assert refused.value.message == Sentence.BLOCKED


async def test_a_ban_by_chatkit_admin_hangs_up_on_the_user_on_any_process(
    deployment: Deployment, on: tuple[People, People],
) -> None:
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    await open_chat(ann, bob)
    await deployment.admin("users", "ban", bob.email)
    await bob.events.next(ErrorEvent, lambda e: e.message == Sentence.ACCOUNT_BLOCKED, timeout=GUARD)
    await bob.events.next(Disconnected, timeout=GUARD)
    assert ann.client.connected  # only Bob


async def test_admin_stats_counts_who_is_online_on_every_process(
    deployment: Deployment, on: tuple[People, People],
) -> None:
    one, two = on
    ann, bob = await one.register("Ann", "Lee"), await two.register("Bob", "Ray")
    await two.tab(ann)  # one user, two processes: counted once

    async def online_now() -> object:
        return json.loads(await deployment.admin("stats", "--json", redis=True))["onlineNow"]

    await wait_until(online_now, until=lambda n: n == 2, what="two users online", timeout=10)
    named = await deployment.admin("stats", "--redis-url", deployment.redis_url)
    assert "online now\t2" in named
    assert json.loads(await deployment.admin("stats", "--json"))["onlineNow"] is None  # no Redis given
    await bob.client.disconnect()
    await wait_until(online_now, until=lambda n: n == 1, what="one user online", timeout=10)


async def _heard_again(writer: Person, reader: Person, chat_id: str) -> None:
    """Wait until an event from ``writer``'s process reaches ``reader``'s again: python-socketio's
    Redis manager resubscribes a moment after Redis returns (emits meanwhile are lost)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD
    while True:
        await writer.client.typing(chat_id)
        try:
            await reader.events.next(Typing, lambda e: e.user_id == writer.id, timeout=0.5)
            return
        except AssertionError:
            if loop.time() > deadline:
                raise


async def test_presence_is_shared_again_after_redis_restarts(mongo_url: str, tmp_path: Path) -> None:
    """Redis restarts empty: each process reads the others' presence again and writes its own."""
    from chatkit import redis_server

    local = redis_server.start(tmp_path / "redis")
    own = Deployment(mongo_url, local.url, f"t_{uuid.uuid4().hex[:12]}", tmp_path)
    servers = [own.start("one"), own.start("two")]
    pools = [People(server.url) for server in servers]
    try:
        ann, bob = await pools[0].register("Ann", "Lee"), await pools[1].register("Bob", "Ray")
        cy = await pools[1].register("Cy", "Fox", online=False)
        chat_id = await open_chat(ann, bob)
        await ann.client.send("hi", to=cy.id)
        await _sees_online(ann, bob)
        local.stop()
        local.relaunch()
        local.wait_ready()
        await _heard_again(bob, ann, chat_id)  # emits pass between the processes again
        await cy.client.connect()  # online on process 2 after the restart
        await _sees_online(ann, cy, bob)
        await bob.client.join(chat_id)  # viewing, on process 2, written to the new Redis
        await ann.events.next(MessagesSeen, lambda e: e.chat_id == chat_id)
        assert (await ann.client.send("read across a restart", chat_id=chat_id)).is_read

        async def online_now() -> object:  # what the new Redis holds: Ann and Bob written again
            return json.loads(await own.admin("stats", "--json", redis=True))["onlineNow"]

        await wait_until(online_now, until=lambda n: n == 3, what="three users online", timeout=10)
    finally:
        for pool in pools:
            await pool.close()
        for server in servers:
            server.stop()
        local.stop()
        with pymongo.MongoClient(mongo_url) as client:
            client.drop_database(own.db_name)


async def test_a_killed_process_users_return_on_another_and_nothing_is_lost_or_doubled(
    deployment: Deployment, processes: tuple[Server, Server], on: tuple[People, People],
) -> None:
    _, two = on
    doomed = deployment.start("three")
    front = Failover(doomed.url, processes[1].url)  # a load balancer: process 3, else process 2
    via_front = People(await front.start())
    on_doomed = People(doomed.url)
    try:
        ann = await via_front.register("Ann", "Lee", backoff=QUICK_RETURN)  # on process 3, through the front
        cy = await on_doomed.register("Cy", "Fox")  # on process 3 only
        bob = await two.register("Bob", "Ray")
        chat_id = await open_chat(ann, bob)
        await open_chat(cy, bob)
        await _sees_online(bob, ann, cy)

        acked: list[Message] = []

        async def send_as(person: Person, text: str) -> Message:
            message = await person.client.send(text, chat_id=chat_id)
            if person is ann:
                acked.append(message)
                if len(acked) == BURST // 3:
                    doomed.proc.kill()  # SIGKILL, with two thirds of Ann's burst in flight
            return message

        sent = await asyncio.wait_for(asyncio.gather(
            *(send_as(ann, f"a{i}") for i in range(BURST)),
            *(send_as(bob, f"b{i}") for i in range(BURST)),
        ), GUARD)
        assert doomed.proc.wait(GUARD) != 0
        expected = {"hi"} | {f"a{i}" for i in range(BURST)} | {f"b{i}" for i in range(BURST)}
        assert {m.content for m in sent} == expected - {"hi"} and len({m.id for m in sent}) == 2 * BURST

        # Ann came back on process 2 and resynced: every message of the chat, once each
        await ann.events.next(Disconnected, lambda e: e.reconnecting)
        await ann.events.next(Connected, lambda e: e.reconnected, timeout=GUARD)
        await ann.events.until(lambda r: {m.content for m in r.messages() if m.chat_id == chat_id} >= expected,
                               what="every message of the burst", timeout=GUARD)
        assert_exactly_once(ann, chat_id, expected)
        # stored once each (the clientId retries on process 2 replayed what process 3 had stored)
        history = Counter([m.content async for m in bob.client.messages(chat_id)])
        assert history == Counter(expected)
        # Bob, on process 2 all along, got nothing twice and nothing that is not stored
        bobs = [m for m in bob.events.messages() if m.chat_id == chat_id]
        assert len({m.id for m in bobs}) == len(bobs) and {m.content for m in bobs} <= expected

        # the dead process's presence expires: Cy goes offline for Bob, Ann (now on 2) stays
        await bob.events.next(OnlineUsers, lambda e: cy.id not in e.user_ids, timeout=GUARD)
        assert ann.id in bob.client.online
    finally:
        for pool in (via_front, on_doomed):
            await pool.close()
        await front.close()
        if doomed.proc.poll() is None:
            doomed.stop()
