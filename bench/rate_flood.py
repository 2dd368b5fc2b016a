"""One socket floods ``new-message`` while another pair chats: what the flood costs them.

    flock -x /tmp/machine.lock .venv/bin/python bench/rate_flood.py            # 10,000 events
    .venv/bin/python bench/rate_flood.py --flood 50000 --json /tmp/flood.json

A fresh ``chatkit serve`` with its default rate limits (``CHATKIT_RATE_MESSAGES``).
Bob sends Cat a message every ``--interval`` seconds and the time until Cat's socket
gets it is Bob's latency: first ``--before`` messages with nothing else going on, then
while Ann's one socket sends ``--flood`` ``new-message`` events to Dan as fast as it
can write them (without waiting for acks), from a process of its own (so that writing
the flood does not hold up Bob's and Cat's clients). Every flood event is answered: admitted
(stored, within the limit's burst and rate) or refused (failed ack and ``error``
event). Printed: refused and admitted counts, how long the flood took to be answered,
the server's CPU per refused event, Bob's latency before and during.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (  # a script beside its helper module
    RawSocket,
    Target,
    add_target_options,
    percentile,
    print_table,
    register_users,
    target_from_args,
    wait_for_quiet,
    ws_session,
)

from chatkit.protocol import Sentence
from chatkit.settings import Settings


class Receiver:
    """Cat: a python-socketio client that notes when each of Bob's messages arrives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.arrived: dict[str, float] = {}
        self.sio.on("message", self._message)

    async def _message(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            self.arrived.setdefault(data["content"], time.perf_counter())


async def chat(sender: RawSocket, cat: Receiver, chat_id: str, tag: str, interval: float,
               count: int | None, stop: asyncio.Event | None) -> list[float]:
    """Bob's messages to Cat, one per ``interval``, until ``count`` or ``stop``; latencies in ms."""
    sent: dict[str, float] = {}
    i = 0
    while (count is None or i < count) and (stop is None or not stop.is_set()):
        content = f"{tag}{i:05d}"
        sent[content] = time.perf_counter()
        ack = await sender.emit("new-message", {"chatId": chat_id, "content": content})
        if not ack.get("success"):
            raise SystemExit(f"Bob's message refused: {ack}")
        i += 1
        await asyncio.sleep(interval)
    deadline = time.perf_counter() + 10
    while any(c not in cat.arrived for c in sent) and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    lost = [c for c in sent if c not in cat.arrived]
    if lost:
        raise SystemExit(f"{len(lost)} of Bob's messages never reached Cat")
    return [(cat.arrived[c] - t) * 1000 for c, t in sent.items()]


async def flood(url: str, token: str, chat_id: str, n: int) -> dict[str, Any]:
    """``n`` new-message events written back to back on one socket (in the flooder process);
    admitted, refused, and the seconds until all were answered."""
    async with ws_session() as session:
        ann = RawSocket(session, url, token)
        await ann.open()
        t0 = time.perf_counter()
        acks = await asyncio.gather(*(ann.emit("new-message", {"chatId": chat_id, "content": f"flood {i}"},
                                               timeout=300) for i in range(n)))
        took = time.perf_counter() - t0
        await ann.close()
    admitted = sum(1 for a in acks if a.get("success") is True)
    refused = sum(1 for a in acks if a.get("success") is False and a.get("message") == Sentence.RATE_LIMITED)
    if admitted + refused != n:
        odd = [a for a in acks if a.get("success") is not True and a.get("message") != Sentence.RATE_LIMITED]
        raise SystemExit(f"unexpected acks: {odd[:3]}")
    return {"admitted": admitted, "refused": refused, "took": took}


async def flood_elsewhere(url: str, token: str, chat_id: str, n: int) -> dict[str, Any]:
    """:func:`flood` in a child process (``--flooder``); its figures."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--flooder", url, token, chat_id, str(n), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the flooder failed ({child.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


async def run(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    ann, bob, cat, dan = await register_users(target.url, 4)
    async with ws_session() as session:
        b = RawSocket(session, target.url, bob.token)
        await b.open()
        receiver = Receiver()
        await receiver.sio.connect(target.url, auth={"token": cat.token}, transports=["websocket"])
        bob_chat = (await b.emit("new-message", {"otherUserId": cat.id, "content": "hello"}))["message"]["chat"]
        a = RawSocket(session, target.url, ann.token)
        await a.open()
        ann_chat = (await a.emit("new-message", {"otherUserId": dan.id, "content": "hello"}))["message"]["chat"]
        await a.close()
        busy = await wait_for_quiet(args.max_busy)
        before = await chat(b, receiver, bob_chat, "before ", args.interval, args.before, None)

        stop = asyncio.Event()
        talking = asyncio.ensure_future(chat(b, receiver, bob_chat, "during ", args.interval, None, stop))
        cpu0 = target.cpu()[0]
        flooded = await flood_elsewhere(target.url, ann.token, ann_chat, args.flood)
        cpu = target.cpu()[0] - cpu0
        stop.set()
        during = await talking
        await receiver.sio.disconnect()
        await b.close()
    return {
        "others_busy_cores_before": busy, "limit": args.limit, "flood_events": args.flood,
        "admitted": flooded["admitted"],
        "refused": flooded["refused"], "flood_answered_s": flooded["took"], "server_cpu_s_during_flood": cpu,
        "server_cpu_us_per_flood_event": cpu / args.flood * 1e6,
        "bob_before_n": len(before), "bob_before_p50_ms": percentile(before, 50),
        "bob_before_p99_ms": percentile(before, 99), "bob_before_max_ms": max(before),
        "bob_during_n": len(during), "bob_during_p50_ms": percentile(during, 50),
        "bob_during_p99_ms": percentile(during, 99), "bob_during_max_ms": max(during),
        "bob_during_each_ms": [round(x, 1) for x in during],
    }


def main() -> None:
    if sys.argv[1:2] == ["--flooder"]:  # the child process of flood_elsewhere
        url, token, chat_id, n = sys.argv[2:6]
        print(json.dumps(asyncio.run(flood(url, token, chat_id, int(n)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_target_options(parser)
    parser.add_argument("--flood", type=int, default=10_000, help="new-message events from Ann's socket")
    parser.add_argument("--before", type=int, default=100, help="Bob's messages before the flood")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between Bob's messages")
    parser.add_argument("--limit", default=Settings().rate_messages,
                        help="CHATKIT_RATE_MESSAGES of the server (default: the deployment default)")
    args = parser.parse_args()
    # The limit as a deployment has it by default (common.start_server turns limits off).
    target = target_from_args(args, "contacts", env={"CHATKIT_RATE_MESSAGES": args.limit})
    try:
        result = asyncio.run(run(target, args))
    finally:
        target.stop()
    print_table(list(result.items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
