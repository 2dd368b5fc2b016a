"""Losing the database: requests fail fast with a retryable answer, and everything
comes back by itself; an owned mongod that dies is started again, or the server exits
clearly; SIGTERM always ends the server within its shutdown timeout.

Tests that take the database away have their own mongod (the session-wide one is never
paused or stopped) and a one-second database time limit, so an outage costs a request
one second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from chatkit import mongod
from chatkit.server.runner import RunningServer, start_server
from chatkit.server.shutdown import MARGIN
from chatkit.settings import Settings
from tests.helpers.accounts import Account, register
from tests.helpers.constants import AUTH
from tests.helpers.failures import assert_error
from tests.helpers.processes import GUARD, Server, alive, child_env
from tests.helpers.realtime import ConnectRefused, Peer, connect
from tests.helpers.rest import contents
from tests.helpers.waiting import wait_until, wait_until_sync

DB_TIMEOUT = 1  # seconds: the server's database time limit in these tests
RETRY = "Database unavailable, please retry"
RETRYABLE_ACK = {"success": False, "message": RETRY, "retryable": True}
ACK_WAIT = 20  # seconds an ack may take while the database is away (many times DB_TIMEOUT)
RECOVERY = 20  # seconds the database may take to be back (a restarted mongod elects itself)


class LoneMongo:
    """A mongod for one test, to pause, stop and start again at will."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.local = mongod.acquire(data_dir, "test")
        self.url = self.local.url

    @property
    def pid(self) -> int:
        assert self.local.process is not None
        return self.local.process.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.local.stop()

    def start_again(self) -> None:
        self.local = mongod.acquire(self.data_dir, "test")
        assert self.local.url == self.url, "the mongod came back on another port"


@pytest.fixture
def lone_mongo(tmp_path: Path) -> Iterator[LoneMongo]:
    lone = LoneMongo(tmp_path / "mongo")
    try:
        yield lone
    finally:
        lone.resume()
        lone.stop()


@pytest.fixture
async def lone_server(settings: Settings, lone_mongo: LoneMongo) -> AsyncIterator[RunningServer]:
    """The real server (in this process) over ``lone_mongo``, with a 1 s database limit."""
    ours = dataclasses.replace(settings, mongo_url=lone_mongo.url, db_timeout=DB_TIMEOUT)
    running = await start_server(ours, lone_mongo.url)
    try:
        yield running
    finally:
        await running.stop()


async def _open_chat(url: str, api: httpx.AsyncClient) -> tuple[Account, Account, Peer, Peer, str]:
    """Ann and Bob registered and connected; Ann has written Bob once. Returns the chat id last."""
    ann, bob = await register(api, "Ann"), await register(api, "Bob")
    ann_socket = await connect(url, ann.token, label="ann")
    bob_socket = await connect(url, bob.token, label="bob")
    chat_id = (await ann_socket.send("before", other_user_id=bob.id))["chat"]
    await bob_socket.next("new-chat")
    return ann, bob, ann_socket, bob_socket, chat_id


async def _refused_while_down(url: str, api: httpx.AsyncClient, ann: Account, bob: Account,
                              ann_socket: Peer, chat_id: str) -> None:
    """What users see while the database is away: every door answers, none hangs.
    (All at once: each answer costs the one-second limit.)"""

    async def rest() -> None:
        me, history, login, health = await asyncio.gather(
            api.get(AUTH + "/me", headers=ann.headers),
            api.get(f"/api/v1/chats/{chat_id}/messages", headers=ann.headers),
            api.post(AUTH + "/login", json={"email": bob.email, "password": bob.password}),
            api.get("/healthz"),
        )
        for r in (me, history, login):
            assert_error(r, 503, RETRY, label=r.request.url.path)
        assert_error(health, 503, "Database unavailable")

    async def send() -> None:
        ack = await ann_socket.emit_ack("new-message", {"content": "during", "chatId": chat_id,
                                                        "clientId": "c-during"}, timeout=ACK_WAIT)
        assert ack == RETRYABLE_ACK
        assert await ann_socket.next("error") == {"message": RETRY, "retryable": True}

    async def new_socket() -> None:
        with pytest.raises(ConnectRefused) as refused:  # refused with the reason, not left waiting
            await connect(url, bob.token, label="bob-2")
        assert refused.value.reason == RETRY

    await asyncio.gather(rest(), send(), new_socket())


async def _works_again(api: httpx.AsyncClient, ann: Account, bob: Account, ann_socket: Peer,
                       bob_socket: Peer, chat_id: str) -> None:
    """Back to normal without anyone doing anything: REST, sends, retries, the change stream."""
    await wait_until(lambda: api.get(AUTH + "/me", headers=ann.headers), until=lambda r: r.status_code == 200,
                     timeout=RECOVERY, interval=0.1, what="GET /me answering 200 once the database is back")
    # The send that failed, sent again with its clientId, is stored once (the paused
    # mongod may well have carried out the first attempt after all).
    again = await ann_socket.emit_ack("new-message", {"content": "during", "chatId": chat_id,
                                                      "clientId": "c-during"}, timeout=ACK_WAIT)
    assert again["success"] is True, again
    await ann_socket.send("after", chat_id=chat_id)
    await bob_socket.next("message", match=lambda m: m["content"] == "after")
    assert await contents(api, bob, chat_id) == ["before", "during", "after"]

    # Operator actions reach open sockets again: the change stream resumed by itself.
    r = await api.post(AUTH + "/log-out", headers=bob.headers)
    assert r.status_code == 200, r.text
    await bob_socket.wait_disconnected(timeout=RECOVERY)


async def test_paused_database_answers_503_and_retryable_acks_then_recovers(lone_mongo, lone_server):
    url = lone_server.url
    async with httpx.AsyncClient(base_url=url, timeout=GUARD) as api:
        ann, bob, ann_socket, bob_socket, chat_id = await _open_chat(url, api)
        lone_mongo.pause()  # longer than the time limit: until every answer below has come
        try:
            await _refused_while_down(url, api, ann, bob, ann_socket, chat_id)
        finally:
            lone_mongo.resume()
        await _works_again(api, ann, bob, ann_socket, bob_socket, chat_id)
        await ann_socket.close()


async def test_external_database_gone_then_back(lone_mongo, lone_server):
    url = lone_server.url
    async with httpx.AsyncClient(base_url=url, timeout=GUARD) as api:
        ann, bob, ann_socket, bob_socket, chat_id = await _open_chat(url, api)
        lone_mongo.stop()  # the server was given a URL: it does not own this mongod
        await _refused_while_down(url, api, ann, bob, ann_socket, chat_id)
        lone_mongo.start_again()
        await _works_again(api, ann, bob, ann_socket, bob_socket, chat_id)
        await ann_socket.close()


# --- chatkit serve with its own mongod ------------------------------------------------


def _serve(tmp_path: Path, *args: str, **env: str) -> Server:
    data = tmp_path / "data"
    return Server(tmp_path / "serve.log", ["--data-dir", str(data), "--port", str(mongod.free_port()), *args],
                  child_env(CHATKIT_DB_TIMEOUT=str(DB_TIMEOUT), **env))


def _mongod_state(tmp_path: Path) -> dict[str, Any]:
    state = json.loads((tmp_path / "data" / "mongod.json").read_text())
    assert isinstance(state, dict)
    return state


def _stop(server: Server, sig: int = signal.SIGTERM) -> int:
    server.http.close()
    server.proc.send_signal(sig)
    return server.proc.wait(GUARD)


@pytest.fixture
def owned(tmp_path: Path) -> Iterator[list[Server]]:
    """``chatkit serve`` processes of a test; any still running at its end are killed."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(GUARD)


async def test_owned_mongod_killed_mid_burst_is_restarted_and_nothing_acked_is_lost(tmp_path, owned):
    server = _serve(tmp_path)
    owned.append(server)
    first_mongod = _mongod_state(tmp_path)["pid"]
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as api:
        ann, bob = await register(api, "Ann"), await register(api, "Bob")
        sender = socketio.AsyncClient(reconnection=False)
        await sender.connect(server.url, headers={"authorization": ann.token}, transports=["websocket"])
        receiver = await connect(server.url, bob.token, label="bob")
        opened = await sender.call("new-message", {"content": "m-start", "otherUserId": bob.id}, timeout=ACK_WAIT)
        chat_id = opened["message"]["chat"]

        def payload(i: int) -> dict[str, str]:
            return {"content": f"m{i}", "chatId": chat_id, "clientId": f"c{i}"}

        burst = [asyncio.create_task(sender.call("new-message", payload(i), timeout=ACK_WAIT)) for i in range(100)]
        await receiver.next("message")  # the burst is being stored and delivered: now kill
        os.kill(first_mongod, signal.SIGKILL)
        acks: list[dict[str, Any]] = await asyncio.gather(*burst)

        failed = [i for i, ack in enumerate(acks) if not ack.get("success")]
        assert failed, "the mongod died before the burst was over"
        for i in failed:
            assert acks[i] == RETRYABLE_ACK, acks[i]

        # The server started its mongod again, by itself, on the same port and files.
        await wait_until(lambda: api.get("/healthz"), until=lambda r: r.status_code == 200, timeout=RECOVERY,
                         interval=0.1, what="/healthz answering 200 after the mongod was killed")
        state = _mongod_state(tmp_path)
        assert state["pid"] != first_mongod and alive(state["pid"]) and not alive(first_mongod)
        assert state["ownerPid"] == server.proc.pid

        # The client retries what failed, with the same clientId: each stored once.
        for i in failed:
            again = await sender.call("new-message", payload(i), timeout=ACK_WAIT)
            assert again["success"] is True, again
        stored = Counter(await _all_contents(api, bob, chat_id))
        assert set(stored) == {"m-start"} | {f"m{i}" for i in range(100)}
        assert max(stored.values()) == 1, [c for c, n in stored.items() if n > 1]
        await sender.disconnect()
        await receiver.close()

    # The database answered before the watcher's own readiness poll saw it: let it say so.
    wait_until_sync(server.log, until=lambda text: "mongod is back on port" in text, timeout=RECOVERY,
                    what="the server saying that its mongod is back")
    assert _stop(server) == 0
    assert not alive(state["pid"])
    log = server.log()
    assert "was killed by SIGKILL; starting it again" in log
    assert "Traceback" not in log


async def _all_contents(api: httpx.AsyncClient, account: Account, chat_id: str) -> list[str]:
    found: list[str] = []
    for page in range(1, 10):
        batch = await contents(api, account, chat_id, page=page, limit=100)
        found += batch
        if len(batch) < 100:
            return found
    raise AssertionError("more messages than expected")


async def test_owned_mongod_that_cannot_be_restarted_ends_the_server_with_one_clear_line(tmp_path, owned):
    server = _serve(tmp_path)
    owned.append(server)
    # Kill the mongod, and each one the server starts in its place, until it gives up.
    while server.proc.poll() is None:
        pid = _mongod_state(tmp_path).get("pid")
        if isinstance(pid, int) and alive(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.05)
    assert server.proc.wait(GUARD) == 4  # the database is unreachable
    errors = [line for line in server.log().splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: the local mongod died and could not be kept running (3 starts; last: mongod exited with code -9; "
        f"see {tmp_path / 'data' / 'mongod.log'}); exiting so that a supervisor can restart chatkit"
    ], server.log()
    assert server.log().count("starting mongod again") == 3
    assert "Traceback" not in server.log()
    assert "pid" not in _mongod_state(tmp_path)  # stopped and released: the next start is clean


def _abandoned_long_poll(url: str, token: str) -> None:
    """A Socket.IO client over long-polling that connects, then vanishes without a word."""
    with httpx.Client(base_url=url, timeout=GUARD, headers={"Authorization": token}) as http:
        r = http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        sid = json.loads(r.text[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert http.post("/socket.io/", params=params, content="40").status_code == 200
        assert http.get("/socket.io/", params=params).text.startswith("40")  # connected


async def test_a_long_poll_client_that_vanished_does_not_hold_up_shutdown(server, make_user):
    """engine.io's own disconnect waits for each socket's queue to drain, which for a
    long-poll client that has gone away never happens: SIGTERM used to hang for good."""
    ann = await make_user("Ann")
    await asyncio.to_thread(_abandoned_long_poll, server.url, ann.token)
    await asyncio.wait_for(server.runner.cleanup(), GUARD)  # the guard only stops a hang


async def test_sigterm_exits_within_the_shutdown_timeout_whatever_is_stuck(tmp_path, owned):
    shutdown_timeout = 1
    server = _serve(tmp_path, CHATKIT_SHUTDOWN_TIMEOUT=str(shutdown_timeout))
    owned.append(server)
    mongod_pid = _mongod_state(tmp_path)["pid"]
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as api:
        ann = await register(api, "Ann")
    _abandoned_long_poll(server.url, ann.token)
    # A websocket whose client will not answer the closing handshake: this test's event
    # loop is blocked below, waiting for the server to exit.
    websocket = await connect(server.url, ann.token, label="ann")
    os.kill(mongod_pid, signal.SIGSTOP)  # and the database does not answer either
    try:
        server.http.close()
        server.proc.send_signal(signal.SIGTERM)
        # The promise is shutdown_timeout + MARGIN; the extra seconds only absorb a busy machine.
        code = server.proc.wait(shutdown_timeout + MARGIN + 3)
    finally:
        with suppress(ProcessLookupError):
            os.kill(mongod_pid, signal.SIGCONT)
        await websocket.close()
    log = server.log()
    assert code == 0, log  # each step ended by its own deadline: the watchdog was not needed
    assert "shutdown: stop listening, drain sockets and requests did not finish within 2.5s" in log
    assert "Stack for <Task" in log  # what it was waiting on, for whoever reads the log
    assert "exiting now" not in log
    assert not alive(mongod_pid)  # the paused mongod was stopped all the same
    assert "pid" not in _mongod_state(tmp_path)
