"""``chatkit serve --workers N`` as a real process: one port, N server processes, the
owned mongod and redis-server, and a clean stop.

Which worker took a connection is read from the ``X-Chatkit-Worker`` header (its pid)
that workers put on every reply, the websocket upgrade included: the kernel spreads
connections over the workers (``SO_REUSEPORT``), so a test opens sockets until it has
one on each worker it needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from chatkit.mongod import free_port
from tests.helpers.accounts import Account, register
from tests.helpers.failures import one_error_line
from tests.helpers.processes import GUARD, Server, alive, child_env
from tests.helpers.realtime import Peer
from tests.helpers.waiting import wait_until_sync

WORKER = "X-Chatkit-Worker"
TRIES = 40  # sockets opened at most to find one on another worker (each lands on one of two at random)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Server]:
    """``chatkit serve --workers 2`` with its own data dir (mongod and redis-server owned)."""
    server = Server(tmp_path / "serve.log", ["--workers", "2", "--port", str(free_port()),
                                             "--data-dir", str(tmp_path / "data")], child_env())
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(GUARD)


class WorkerSocket:
    """A websocket-only Socket.IO client that learns which worker accepted it."""

    def __init__(self) -> None:
        self.worker: str | None = None
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._seen)
        self.http = aiohttp.ClientSession(trace_configs=[trace])
        self.peer = Peer(socketio.AsyncClient(reconnection=False, http_session=self.http), "peer")

    async def _seen(self, session: Any, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
        self.worker = params.response.headers.get(WORKER)

    @classmethod
    async def open(cls, url: str, account: Account) -> WorkerSocket:
        sock = cls()
        await sock.peer.sio.connect(url, headers={"authorization": account.token}, transports=["websocket"],
                                    wait_timeout=5)
        assert sock.worker, "the websocket upgrade named no worker"
        return sock

    async def close(self) -> None:
        await self.peer.close()
        await self.http.close()


@pytest.fixture
async def worker_sockets() -> AsyncIterator[Any]:
    opened: list[WorkerSocket] = []

    async def open_on(url: str, account: Account, *, not_on: str | None = None) -> WorkerSocket:
        """A socket for ``account``; with ``not_on``, one that another worker took."""
        for _ in range(TRIES):
            sock = await WorkerSocket.open(url, account)
            opened.append(sock)
            if sock.worker != not_on:
                return sock
            await sock.close()
        raise AssertionError(f"{TRIES} sockets all landed on worker {not_on}")

    yield open_on
    for sock in opened:
        await sock.close()


async def test_users_on_different_workers_chat_with_receipts(supervised, worker_sockets):
    async with httpx.AsyncClient(base_url=supervised.url, timeout=10) as api:
        ann = await register(api, "Ann", "Lee")
        bob = await register(api, "Bob", "Ray")
    a = await worker_sockets(supervised.url, ann)
    b = await worker_sockets(supervised.url, bob, not_on=a.worker)
    assert {a.worker, b.worker} <= _worker_pids(supervised) and a.worker != b.worker

    # A first message from worker 1 reaches Bob on worker 2; Bob is online there, so Ann
    # learns at once that it was delivered.
    sent = await a.peer.send("hello across processes", other_user_id=bob.id)
    chat_id = sent["chat"]
    for side in (a, b):
        await side.peer.next("new-chat", match=lambda e: e["_id"] == chat_id)
    delivered = await a.peer.next("message-delivered", match=lambda e: e["messageId"] == sent["_id"])
    assert delivered["chatId"] == chat_id

    # Bob views the chat on worker 2: Ann's unread message becomes read, and a message she
    # sends while he looks is stored read at once.
    await b.peer.emit("join-chat", {"chatId": chat_id})
    assert (await a.peer.next("messages-seen"))["chatId"] == chat_id
    second = await a.peer.send("while you look", chat_id=chat_id)
    got = await b.peer.next("message", match=lambda m: m["_id"] == second["_id"])
    assert got["content"] == "while you look"
    assert (await a.peer.next("messages-seen"))["chatId"] == chat_id


def _worker_pids(server: Server) -> set[str]:
    """The pids of the supervisor's children that run ``chatkit serve --worker``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server.proc.pid and b"--worker" in argv:
            found.add(entry.name)
    return found


def _workers_answering(server: Server, want: int) -> set[str]:
    """Worker pids seen on replies, asking on fresh connections until ``want`` were seen."""
    seen: set[str] = set()
    for _ in range(TRIES):
        r = httpx.get(server.url + "/healthz", timeout=10)  # a new connection each time
        assert r.status_code == 200, r.text
        seen.add(r.headers[WORKER])
        if len(seen) >= want:
            break
    return seen


def test_workers_share_one_port_restart_and_stop_with_everything_they_own(supervised, tmp_path):
    data = tmp_path / "data"
    port = supervised.url.rsplit(":", 1)[1]
    mongod_pid = json.loads((data / "mongod.json").read_text())["pid"]
    redis = json.loads((data / "redis.json").read_text())
    assert redis["ownerPid"] == supervised.proc.pid and alive(redis["pid"])
    workers = _worker_pids(supervised)
    assert len(workers) == 2
    assert _workers_answering(supervised, 2) == workers  # both serve the one port
    started = next(line for line in supervised.log().splitlines() if "with 2 workers (pids" in line)
    assert f"127.0.0.1:{port}" in started and all(pid in started for pid in workers)

    # Long-polling cannot work when each request may reach another process: refused, saying so.
    r = httpx.get(supervised.url + "/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert r.status_code == 400
    assert "websocket transport" in r.json()["message"] and r.json()["success"] is False

    # A worker that dies is replaced; the port keeps answering.
    lost = sorted(workers)[0]
    os.kill(int(lost), signal.SIGKILL)
    now = wait_until_sync(lambda: _worker_pids(supervised), until=lambda p: len(p) == 2 and lost not in p,
                          timeout=30, what="a new worker")
    assert _workers_answering(supervised, 2) == now
    assert "was killed by SIGKILL; starting it again" in supervised.log()

    # SIGTERM: every worker drains and exits, then redis and mongod stop; exit status 0.
    assert supervised.stop(signal.SIGTERM) == 0
    for pid in [*map(int, now), redis["pid"], mongod_pid]:
        wait_until_sync(lambda pid=pid: not alive(pid), what=f"pid {pid} gone")
    assert not (data / "redis.json").exists()
    assert "mongod stopped" in supervised.log()


def test_workers_without_redis_server_or_with_a_bad_count_refuse_in_one_line(tmp_path):
    data = tmp_path / "data"
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH on which there is no redis-server (nor mongod)
    no_redis = subprocess.run(
        [sys.executable, "-m", "chatkit", "serve", "--workers", "2", "--port", str(free_port()),
         "--data-dir", str(data)], env=child_env(PATH=str(empty)), capture_output=True, text=True,
        timeout=GUARD, check=False)
    assert no_redis.returncode == 2
    assert one_error_line(no_redis.stderr) == (
        "error: --workers needs Redis and no redis-server is on PATH: install it (apt install redis-server) "
        "or pass --redis-url / set CHATKIT_REDIS_URL")
    assert not (data / "db").exists()  # said before a mongod was started

    zero = subprocess.run([sys.executable, "-m", "chatkit", "serve", "--data-dir", str(data)],
                          env=child_env(CHATKIT_WORKERS="0"), capture_output=True, text=True, timeout=GUARD,
                          check=False)
    assert zero.returncode == 2
    assert one_error_line(zero.stderr) == "error: CHATKIT_WORKERS must be between 1 and 64, got 0"
