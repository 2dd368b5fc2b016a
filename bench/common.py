"""What the bench scripts share: a server to measure, /proc readings, provisioning, and
a lean Socket.IO client.

The client speaks Engine.IO 4 / Socket.IO 5 directly over an aiohttp websocket
(``40{auth}`` to connect, ``42[...]`` events, ``43<id>[...]`` acks, ``2``/``3`` ping and
pong) because thousands of python-socketio clients in one process would spend more CPU
than the server under test, and the server's figures would then measure the clients.
It never decodes an ``online-users`` frame while measuring: it counts and keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENCE_PREFIX = '42["online-users"'
PASSWORD = "bench-password-1"


# --- /proc --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident set size now, in MiB."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def own_cpu_seconds() -> float:
    """This process and its finished children (the client side of a measurement)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def raise_fd_limit(needed: int) -> None:
    """Lift the soft descriptor limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < needed:
        print(f"warning: descriptor limit {want} < {needed} needed", file=sys.stderr)


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def busy_cores(seconds: float = 3.0) -> float:
    """How many cores the machine keeps busy over ``seconds`` (while the bench rests,
    that is everyone else)."""
    before = machine_cpu_seconds()
    time.sleep(seconds)
    return (machine_cpu_seconds() - before) / seconds


async def wait_for_quiet(max_busy: float = 0.15, max_wait: float = 600.0) -> float:
    """Rest until the rest of the machine keeps less than ``max_busy`` cores busy (others'
    test runs would otherwise be measured too); gives up after ``max_wait`` seconds."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = await asyncio.to_thread(busy_cores)
        if busy < max_busy or time.monotonic() > deadline:
            return busy
        print(f"machine busy ({busy:.2f} cores): waiting", file=sys.stderr)
        await asyncio.sleep(10)


# --- the server under test ----------------------------------------------------------


@dataclass
class Target:
    """A server to measure: its URL, and the pids whose CPU and memory are read."""

    url: str
    server_pid: int | None
    mongod_pid: int | None = None
    process: subprocess.Popen[str] | None = None
    data_dir: tempfile.TemporaryDirectory[str] | None = None
    log_path: Path | None = None

    def cpu(self) -> tuple[float, float]:
        """(server, mongod) CPU seconds so far; NaN when unknown."""
        return (cpu_seconds(self.server_pid) if self.server_pid else float("nan"),
                cpu_seconds(self.mongod_pid) if self.mongod_pid else float("nan"))

    def rss(self) -> float:
        return rss_mb(self.server_pid) if self.server_pid else float("nan")

    def stop(self, keep_log: Path | None = None) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if keep_log is not None and self.log_path is not None:
            keep_log.write_text(self.log_path.read_text())
        if self.data_dir is not None:
            self.data_dir.cleanup()


def start_server(*, presence: str = "contacts", mongo_url: str | None = None,
                 env: dict[str, str] | None = None, log_level: str = "warning",
                 python: str | None = None) -> Target:
    """``python -m chatkit serve --port 0`` in a fresh data dir, its own mongod unless
    ``mongo_url`` is given; cheap bcrypt so that provisioning thousands of users is quick.
    ``python`` may be a wrapper that runs another checkout (before/after figures)."""
    data_dir = tempfile.TemporaryDirectory(prefix="chatkit-bench-")
    log_path = Path(data_dir.name) / "server.log"
    cmd = [python or sys.executable, "-m", "chatkit", "serve", "--port", "0", "--data-dir", data_dir.name,
           "--log-level", log_level]
    if mongo_url:
        cmd += ["--mongo-url", mongo_url, "--db-name", f"bench{os.getpid()}"]
    # Rate limits off: provisioning registers thousands of users from one address, and the
    # measured load sends faster than any person (bench/rate_flood.py turns them back on).
    child_env = {**os.environ, "CHATKIT_BCRYPT_ROUNDS": "4", "CHATKIT_PRESENCE": presence,
                 "CHATKIT_RATE_REGISTRATIONS": "off", "CHATKIT_RATE_MESSAGES": "off", **(env or {})}
    log = log_path.open("w")
    process = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # "chatkit serving on http://127.0.0.1:PORT"
    if "serving on" not in line:
        process.kill()
        raise SystemExit(f"server did not start: {line!r}\n{log_path.read_text()[-2000:]}")
    url = line.rsplit(" ", 1)[1].strip()
    mongod_pid = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        mongod_pid = int(json.loads((Path(data_dir.name) / "mongod.json").read_text())["pid"])
    return Target(url, process.pid, mongod_pid, process, data_dir, log_path)


def target_from_args(args: Any, presence: str, env: dict[str, str] | None = None) -> Target:
    """The server the command line names (``--url``/``--server-pid``), else one started here."""
    if args.url:
        return Target(args.url.rstrip("/"), args.server_pid)
    return start_server(presence=presence, mongo_url=args.mongo_url, env=env, python=args.server_python)


def add_target_options(parser: Any) -> None:
    parser.add_argument("--url", help="measure a running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU and RSS")
    parser.add_argument("--mongo-url", help="the started server uses this MongoDB instead of its own mongod")
    parser.add_argument("--server-python", help="interpreter (or wrapper) that runs `-m chatkit serve`")
    parser.add_argument("--keep-log", type=Path, help="copy the started server's log here")
    parser.add_argument("--max-busy", type=float, default=0.15,
                        help="wait until the rest of the machine keeps fewer cores than this busy")
    parser.add_argument("--json", type=Path, help="also write the figures here")


# --- a lean Socket.IO client ----------------------------------------------------------


class Refused(Exception):
    """The server refused the socket (``44{message}``)."""


@dataclass
class RawSocket:
    """One Socket.IO connection on the default namespace, token in the ``auth`` payload."""

    session: aiohttp.ClientSession
    url: str
    token: str
    presence_frames: int = 0
    presence_bytes: int = 0
    first_presence_at: float | None = None
    connected_at: float | None = None
    last_presence: str | None = None
    other_frames: int = 0
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task[None] | None = None
    _acks: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    _ack_ids: Iterator[int] = field(default_factory=itertools.count)
    _connected: asyncio.Future[None] | None = None
    _first_presence: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

    async def open(self) -> None:
        """Connect and pass the Socket.IO handshake; raises :class:`Refused` if refused."""
        self._connected = asyncio.get_running_loop().create_future()
        self._ws = await self.session.ws_connect(self.ws_url, autoping=True, max_msg_size=0, compress=0)
        opening = await self._ws.receive()
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opening.data!r}")
        await self._ws.send_str("40" + json.dumps({"token": self.token}))
        self._reader = asyncio.ensure_future(self._read())
        await self._connected

    async def first_presence(self) -> None:
        await self._first_presence.wait()

    async def emit(self, event: str, data: Any, timeout: float = 30.0) -> Any:
        """Send an event with an ack and return what the server acknowledged."""
        assert self._ws is not None
        ack_id = next(self._ack_ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._ws.send_str(f"42{ack_id}" + json.dumps([event, data]))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._ws is not None and self._connected is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            text: str = msg.data
            if text.startswith(PRESENCE_PREFIX):
                self.presence_frames += 1
                self.presence_bytes += len(text)
                self.last_presence = text
                if self.first_presence_at is None:
                    self.first_presence_at = time.perf_counter()
                    self._first_presence.set()
            elif text == "2":
                await self._ws.send_str("3")
            elif text.startswith("40"):
                self.connected_at = time.perf_counter()
                if not self._connected.done():
                    self._connected.set_result(None)
            elif text.startswith("44"):
                if not self._connected.done():
                    self._connected.set_exception(Refused(text[2:]))
            elif text.startswith("43"):
                digits = len(text) - len(text[2:].lstrip("0123456789"))
                future = self._acks.pop(int(text[2:digits]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(text[digits:])[0])
            else:
                self.other_frames += 1
        if not self._connected.done():
            self._connected.set_exception(ConnectionError("closed during the handshake"))


def ws_session() -> aiohttp.ClientSession:
    """One client session for thousands of websockets: no connection cap."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=60))


# --- provisioning -------------------------------------------------------------------


@dataclass(frozen=True)
class BenchUser:
    id: str
    token: str


async def bounded(coros: Iterable[Any], limit: int) -> list[Any]:
    """Run the coroutines with at most ``limit`` at a time; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def register_users(url: str, n: int, *, tag: str | None = None, limit: int = 16) -> list[BenchUser]:
    tag = tag or f"{os.getpid()}-{int(time.time())}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as http:

        async def register(i: int) -> BenchUser:
            body = {"firstName": "Bench", "lastName": f"User{i}", "email": f"bench{i}-{tag}@example.com",
                    "password": PASSWORD}
            async with http.post(url + "/api/v1/users/auth/register", json=body) as resp:
                data = await resp.json()
                if resp.status != 201:
                    raise SystemExit(f"register failed: {resp.status} {data}")
            return BenchUser(data["data"]["_id"], data["data"]["token"])

        return await bounded((register(i) for i in range(n)), limit)


def contact_graph(n: int, k: int, kind: str, seed: int = 7) -> list[set[int]]:
    """Each user's contacts: a ring (the k nearest, k/2 either side) or a random graph
    in which each user starts k/2 chats with random others (about k contacts each)."""
    contacts: list[set[int]] = [set() for _ in range(n)]
    rng = random.Random(seed)
    for i in range(n):
        if kind == "ring":
            others = [(i + d) % n for d in range(1, k // 2 + 1)]
        else:
            others = rng.sample([j for j in range(n) if j != i], k // 2) if n > k else []
        for j in others:
            if j != i:
                contacts[i].add(j)
                contacts[j].add(i)
    return contacts


async def make_contacts(url: str, users: list[BenchUser], contacts: list[set[int]], limit: int = 32) -> int:
    """Send one first message along every edge (lower index to higher), then connect every
    user once more so that nothing waits undelivered: a burst then measures presence, not
    a backlog of receipts. Returns the number of chats made."""
    edges = [[j for j in sorted(contacts[i]) if j > i] for i in range(len(users))]
    async with ws_session() as session:

        async def send_all(i: int) -> None:
            if not edges[i]:
                return
            sock = RawSocket(session, url, users[i].token)
            await sock.open()
            for j in edges[i]:
                ack = await sock.emit("new-message", {"otherUserId": users[j].id, "content": "hello"})
                if not ack.get("success"):
                    raise SystemExit(f"first message failed: {ack}")
            await sock.close()

        async def touch(i: int) -> None:
            sock = RawSocket(session, url, users[i].token)
            await sock.open()
            await sock.first_presence()
            await sock.close()

        await bounded((send_all(i) for i in range(len(users))), limit)
        await bounded((touch(i) for i in range(len(users))), limit)
    return sum(len(e) for e in edges)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def print_table(rows: list[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")

