"""The modes, as one worker process runs them over its share of the sockets.

* ``pairs``: each sender keeps at most ``window`` messages un-received by its receiver,
  until it has sent ``messages`` (throughput at saturation).
* ``rate``: the senders together offer a fixed rate for ``duration`` seconds (latency
  under a given load, not limited by the round trip).
* ``connections``: sockets held open doing nothing (connect time, memory per socket).

A message's content names the run, the pair and a sequence number, so the receiver
finds the send time (same process, same clock), and duplicates, reordering and loss
are counted per pair. A message not received within ``msg_timeout`` counts as lost
and frees its window slot; one that arrives after all is counted ``late`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from chatkit.bench.measure import own_cpu_seconds
from chatkit.bench.provision import Account, BenchError, PairSpec
from chatkit.bench.wire import LeanSocket, Refused, decode
from chatkit.protocol import Event, Sentence

CONNECT_CONCURRENCY = 50
CHECK_EVERY = 0.1  # seconds between loss checks
RATE_TICK = 0.005  # seconds between the rate mode's send bursts
ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Plan:
    """What one worker does (pickled to it: plain values only)."""

    mode: str  # "pairs" | "rate" | "connections"
    url: str
    target: str  # "chatkit" | "relay"
    tag: str
    pairs: list[PairSpec]
    idle: list[Account]
    messages: int = 0
    window: int = 1
    rate: float = 0.0  # this worker's share, messages per second
    duration: float = 0.0
    join: bool = False
    msg_timeout: float = 10.0
    drain: float = 10.0
    settle: float = 0.5


class Progress:
    """Counts the coordinator reads while the run goes on: [sent, received, lost]
    (a shared array in a worker process, a plain list elsewhere)."""

    def __init__(self, cells: Any) -> None:
        self.cells = cells


@dataclass
class Tally:
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    foreign: int = 0
    self_copies: int = 0
    disconnects: int = 0
    other_events: Counter[str] = field(default_factory=Counter)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(text[:200])


class PairRun:
    """One pair's sequence numbers: when each was sent, whether and how it arrived."""

    def __init__(self, spec: PairSpec, slot: int) -> None:
        self.spec = spec
        self.slot = slot  # its place in the worker's list (its sender's socket is 2 * slot)
        self.sent_at: list[float] = []
        self.got = bytearray()
        self.expired = bytearray()
        self.inflight = 0
        self.lo = 0  # every sequence number below is settled (received or expired)
        self.received = 0
        self.duplicates = 0
        self.reordered = 0
        self.late = 0
        self.max_seq = -1

    @property
    def sent(self) -> int:
        return len(self.sent_at)


class Worker:
    """Sockets, counters and the event handlers of one worker's share of the run."""

    def __init__(self, plan: Plan, progress: Progress) -> None:
        self.plan = plan
        self.cells = progress.cells
        self.runs = [PairRun(spec, slot) for slot, spec in enumerate(plan.pairs)]
        self.tally = Tally()
        self.latencies: list[float] = []
        self.sockets: list[LeanSocket] = []
        self.connect_times: list[float] = []
        self.connect_phase_s = 0.0
        self.prefix = f"bench {plan.tag} "
        self.running = False
        self.expected = 0  # messages in total (pairs mode), for the early finish
        self.all_in = asyncio.Event()
        self.first_send = 0.0
        self.last_receive = 0.0
        self.session: aiohttp.ClientSession | None = None

    # --- setup ------------------------------------------------------------------------

    async def setup(self) -> dict[str, Any]:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
        started, cpu_before = time.perf_counter(), own_cpu_seconds()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        jobs: list[tuple[Account, Callable[[str, str], None]]] = []
        for run in self.runs:
            jobs.append((run.spec.sender, self._sender_listener(run)))
            jobs.append((run.spec.receiver, self._receiver_listener(run)))
        jobs += [(account, self._idle_listener) for account in self.plan.idle]
        self.sockets = list(await asyncio.gather(*(self._connect(gate, a, f) for a, f in jobs)))
        self.connect_phase_s = time.perf_counter() - started
        self.connect_times = [s.connect_s or 0.0 for s in self.sockets]
        if self.plan.target == "chatkit":
            await asyncio.gather(*(self._open_chat(i) for i, run in enumerate(self.runs) if run.spec.chat_id is None))
        if self.plan.join:
            for i, run in enumerate(self.runs):
                for sock in self.sockets[2 * i: 2 * i + 2]:
                    sock.emit(Event.JOIN_CHAT, {"chatId": run.spec.chat_id})
        await asyncio.sleep(self.plan.settle)
        self.tally = Tally()  # what setup caused (presence, warm-up copies) is not the run's
        return {"connect_times": self.connect_times, "connect_phase_s": self.connect_phase_s,
                "sockets": len(self.sockets), "cpu_s": own_cpu_seconds() - cpu_before}

    async def _connect(self, gate: asyncio.Semaphore, account: Account,
                       listener: Callable[[str, str], None]) -> LeanSocket:
        assert self.session is not None
        async with gate:
            sock = LeanSocket(self.session, self.plan.url, account.token, listener)
            try:
                await sock.open()
            except Refused as exc:
                hint = " (is --secret the server's JWT secret?)" if str(exc) == Sentence.INVALID_TOKEN else ""
                raise BenchError(f"socket refused by {self.plan.url}: {exc}{hint}") from None
            return sock

    async def _open_chat(self, i: int) -> None:
        """A first message opens the pair's chat (the only way a client can)."""
        run = self.runs[i]
        ack = await self.sockets[2 * i].call(
            Event.NEW_MESSAGE, {"otherUserId": run.spec.receiver.user_id, "content": "bench warm-up"})
        if not (isinstance(ack, dict) and ack.get("success") is True and isinstance(ack.get("message"), dict)):
            raise BenchError(f"opening a bench chat failed: {str(ack)[:200]}")
        chat_id = ack["message"].get("chat")
        if not isinstance(chat_id, str):
            raise BenchError(f"the warm-up message's ack names no chat: {str(ack)[:200]}")
        run.spec = PairSpec(run.spec.index, run.spec.sender, run.spec.receiver, chat_id)

    # --- events -----------------------------------------------------------------------

    def _receiver_listener(self, run: PairRun) -> Callable[[str, str], None]:
        def listener(name: str, frame: str) -> None:
            if name == Event.MESSAGE:
                data = decode(frame)
                self._arrived(run, data.get("content") if isinstance(data, dict) else None)
            elif name == Event.NEW_CHAT:
                data = decode(frame)
                first = (data.get("messages") or [None])[0] if isinstance(data, dict) else None
                self._arrived(run, first.get("content") if isinstance(first, dict) else None)
            else:
                self._other(name, frame)
        return listener

    def _sender_listener(self, run: PairRun) -> Callable[[str, str], None]:
        def listener(name: str, frame: str) -> None:
            if name in (Event.MESSAGE, Event.NEW_CHAT):
                if self.running and self.prefix in frame:
                    self.tally.self_copies += 1  # chatkit echoes a message to its sender's sockets
            else:
                self._other(name, frame)
        return listener

    def _idle_listener(self, name: str, frame: str) -> None:
        self._other(name, frame)

    def _other(self, name: str, frame: str) -> None:
        if name == Event.ERROR:
            self.tally.error(str(decode(frame)))
        else:
            self.tally.other_events[name] += 1

    def _arrived(self, run: PairRun, content: Any) -> None:
        now = time.perf_counter()
        if not (isinstance(content, str) and content.startswith(self.prefix)):
            self.tally.foreign += 1
            return
        try:
            index, seq = (int(part) for part in content[len(self.prefix):].split(" ", 2)[:2])
        except ValueError:
            self.tally.foreign += 1
            return
        if index != run.spec.index or not 0 <= seq < run.sent:
            self.tally.foreign += 1
            return
        if run.got[seq]:
            run.duplicates += 1
            return
        run.got[seq] = 1
        run.received += 1
        self.cells[1] += 1
        self.last_receive = time.time()
        if seq < run.max_seq:
            run.reordered += 1
        else:
            run.max_seq = seq
        if run.expired[seq]:
            run.late += 1  # already counted lost, its window slot already freed
            return
        self.latencies.append(now - run.sent_at[seq])
        run.inflight -= 1
        if self.plan.mode == "pairs":
            self._fill_window(run)
            if self.cells[1] >= self.expected:
                self.all_in.set()

    # --- sending ----------------------------------------------------------------------

    def _send(self, i: int) -> None:
        run = self.runs[i]
        seq = run.sent
        content = f"{self.prefix}{run.spec.index} {seq}"
        if self.plan.target == "chatkit" or self.plan.join:
            body = {"chatId": run.spec.chat_id, "content": content}
        else:  # the relay knows a chat only once both sides joined it
            body = {"otherUserId": run.spec.receiver.user_id, "content": content}
        run.sent_at.append(time.perf_counter())
        run.got.append(0)
        run.expired.append(0)
        run.inflight += 1
        self.cells[0] += 1
        self.sockets[2 * i].emit(Event.NEW_MESSAGE, body)

    def _fill_window(self, run: PairRun) -> None:
        while self.running and run.sent < self.plan.messages and run.inflight < self.plan.window:
            self._send(run.slot)

    def _expire(self) -> int:
        """Count as lost what waited longer than ``msg_timeout``; returns the settled count."""
        now = time.perf_counter()
        settled = 0
        for run in self.runs:
            while run.lo < run.sent and (run.got[run.lo] or run.expired[run.lo]):
                run.lo += 1
            for seq in range(run.lo, run.sent):
                if not run.got[seq] and not run.expired[seq] and now - run.sent_at[seq] > self.plan.msg_timeout:
                    run.expired[seq] = 1
                    run.inflight -= 1
                    self.cells[2] += 1
            settled += run.lo + sum(1 for s in range(run.lo, run.sent) if run.got[s] or run.expired[s])
        return settled

    async def run_pairs(self) -> None:
        self.expected = self.plan.messages * len(self.runs)
        self.running = True
        self.first_send = time.time()
        for run in self.runs:
            self._fill_window(run)
        last_send: float | None = None
        while not self.all_in.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_in.wait(), CHECK_EVERY)
            settled = self._expire()
            for run in self.runs:
                self._fill_window(run)
            if all(run.sent >= self.plan.messages for run in self.runs):
                last_send = last_send or time.perf_counter()
                if settled >= self.expected or time.perf_counter() - last_send > self.plan.drain:
                    break
        self.running = False

    async def run_rate(self) -> None:
        self.running = True
        started = time.perf_counter()
        self.first_send = time.time()
        sent = 0
        turn = 0
        next_check = started + CHECK_EVERY
        while (now := time.perf_counter()) - started < self.plan.duration:
            due = int((now - started) * self.plan.rate)
            while sent < due and self.runs:
                self._send(turn)
                turn = (turn + 1) % len(self.runs)
                sent += 1
            if now >= next_check:
                self._expire()
                next_check = now + CHECK_EVERY
            await asyncio.sleep(RATE_TICK)
        while sent < int(self.plan.duration * self.plan.rate) and self.runs:  # the last tick's share
            self._send(turn)
            turn = (turn + 1) % len(self.runs)
            sent += 1
        drain_end = time.perf_counter() + self.plan.drain
        while self._expire() < sent and time.perf_counter() < drain_end:
            await asyncio.sleep(CHECK_EVERY / 4)
        self.running = False

    # --- results ----------------------------------------------------------------------

    def results(self, cpu_s: float) -> dict[str, Any]:
        sent = sum(run.sent for run in self.runs)
        received = sum(run.received for run in self.runs)
        disconnects = sum(1 for sock in self.sockets if sock.closed_by_server)
        return {
            "sent": sent, "received": received, "lost": sent - received,
            "late": sum(run.late for run in self.runs),
            "duplicates": sum(run.duplicates for run in self.runs),
            "out_of_order": sum(run.reordered for run in self.runs),
            "errors": self.tally.errors, "error_samples": self.tally.error_samples,
            "foreign": self.tally.foreign, "self_copies": self.tally.self_copies,
            "disconnects": disconnects, "other_events": dict(self.tally.other_events),
            "latencies": self.latencies, "first_send": self.first_send,
            "last_receive": self.last_receive or time.time(), "cpu_s": cpu_s,
        }

    async def close(self) -> None:
        await asyncio.gather(*(sock.close() for sock in self.sockets), return_exceptions=True)
        if self.session is not None:
            await self.session.close()


async def run_plan(plan: Plan, progress: Progress, ready: Callable[[dict[str, Any]], None],
                   go: Callable[[], Any]) -> dict[str, Any]:
    """Set up, tell the coordinator (``ready``), wait for ``go`` (awaitable), run, report."""
    worker = Worker(plan, progress)
    try:
        ready(await worker.setup())
        await go()
        cpu_before = own_cpu_seconds()
        if plan.mode == "pairs":
            await worker.run_pairs()
        elif plan.mode == "rate":
            await worker.run_rate()
        return worker.results(own_cpu_seconds() - cpu_before)
    finally:
        await worker.close()
