"""Rounds of socket connect/disconnect cycles against one server, sampling its memory.

    .venv/bin/python bench/churn_soak.py                               # 20 rounds x 200 cycles
    .venv/bin/python bench/churn_soak.py --arena-max 2                 # glibc arenas capped
    .venv/bin/python bench/churn_soak.py --debug --tracemalloc 25      # where memory goes
    .venv/bin/python bench/churn_soak.py --users 2000 --cycles 2000 --concurrency 2000 --rounds 5

A cycle connects one user's socket, waits for its first ``online-users``, optionally
sends one message to a contact, and closes it; ``--concurrency`` cycles run at a time
(equal to ``--cycles``: every round is a burst). After each round, once the server has
had ``--gap`` seconds to see the sockets go, its RSS is sampled; at the end, again after
``--idle`` seconds with no socket open. RSS that climbs round after round and stays is
what the issue calls memory that does not come back.

``--debug`` starts the server with ``CHATKIT_DEBUG_MEMORY=1`` (chatkit/server/debug.py)
and asks for a report (SIGUSR1) after each round: the per-socket maps, which must be
empty, and the object types that grew; with ``--tracemalloc N`` also the allocation
sites that grew. At the end it asks for a collection and ``malloc_trim(0)`` (SIGUSR2):
memory that comes back then was free and only retained by the allocator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # a script beside its helper module
    BenchUser,
    RawSocket,
    Target,
    add_target_options,
    bounded,
    contact_graph,
    make_contacts,
    raise_fd_limit,
    register_users,
    target_from_args,
    wait_for_quiet,
    ws_session,
)


class DebugLog:
    """The server's ``memory:`` report lines, read as they are written."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.offset = target.log_path.stat().st_size if target.log_path else 0

    async def ask(self, sig: signal.Signals) -> list[str]:
        if self.target.server_pid is None or self.target.log_path is None:
            return []
        os.kill(self.target.server_pid, sig)
        end = "memory: end of report" if sig == signal.SIGUSR1 else "malloc_trim"
        text = ""
        for _ in range(600):  # a report with tracemalloc on may take a while
            await asyncio.sleep(0.1)
            with self.target.log_path.open() as fh:
                fh.seek(self.offset)
                text = fh.read()
            if end in text:
                break
        self.offset += len(text.encode())
        return [line.split("memory: ", 1)[1] for line in text.splitlines()
                if "memory: " in line and "end of report" not in line]


async def soak(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    users = await register_users(target.url, args.users)
    contacts = contact_graph(args.users, args.contacts, "ring")
    await make_contacts(target.url, users, contacts)
    await asyncio.sleep(args.gap)
    busy = await wait_for_quiet(args.max_busy)
    debug = DebugLog(target) if args.debug else None
    samples: list[dict[str, Any]] = []
    reports: list[list[str]] = []

    def sample(label: str) -> None:
        cpu = target.cpu()[0]
        samples.append({"round": label, "rss_mb": round(target.rss(), 1), "server_cpu_s": round(cpu, 2)})
        print(f"{label:>6}  rss {samples[-1]['rss_mb']:7.1f} MB  cpu {cpu:7.2f} s", flush=True)

    sample("start")
    if debug:
        reports.append(await debug.ask(signal.SIGUSR1))
    failures = 0
    started = time.perf_counter()
    async with ws_session() as session:
        for r in range(1, args.rounds + 1):
            firsts = [(r - 1) * args.cycles + c for c in range(args.cycles)]
            results = await bounded((_cycle(session, target.url, users, contacts, i % args.users, args.send)
                                     for i in firsts), args.concurrency)
            failures += sum(1 for ok in results if not ok)
            await asyncio.sleep(args.gap)
            sample(str(r))
            if debug:
                reports.append(await debug.ask(signal.SIGUSR1))
    soak_seconds = time.perf_counter() - started
    await asyncio.sleep(args.idle)
    sample("idle")
    trim: list[str] = []
    if debug:
        reports.append(await debug.ask(signal.SIGUSR1))
        trim = await debug.ask(signal.SIGUSR2)
        sample("trim")
    for i, lines in enumerate(reports):
        print(f"--- report {i}", *lines, sep="\n  ")
    if trim:
        print("--- gc + malloc_trim", *trim, sep="\n  ")
    return {"users": args.users, "rounds": args.rounds, "cycles": args.cycles, "concurrency": args.concurrency,
            "arena_max": args.arena_max, "failed_cycles": failures, "soak_s": soak_seconds,
            "others_busy_cores_before": busy, "samples": samples, "reports": reports, "trim": trim}


async def _cycle(session: Any, url: str, users: list[BenchUser], contacts: list[set[int]], i: int,
                 send: bool) -> bool:
    sock = RawSocket(session, url, users[i].token)
    try:
        await sock.open()
        await asyncio.wait_for(sock.first_presence(), 30)
        if send and contacts[i]:
            to = users[min(contacts[i])].id
            ack = await sock.emit("new-message", {"otherUserId": to, "content": "churn"})
            return bool(ack.get("success"))
        return True
    except Exception:
        return False
    finally:
        await sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=200, help="connect/disconnect cycles per round")
    parser.add_argument("--concurrency", type=int, default=20, help="cycles at a time")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=6)
    parser.add_argument("--send", action="store_true", help="each cycle also sends a message to a contact")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds after a round before sampling")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds with no socket before the last sample")
    parser.add_argument("--arena-max", type=int, help="MALLOC_ARENA_MAX for the started server")
    parser.add_argument("--debug", action="store_true", help="CHATKIT_DEBUG_MEMORY=1: reports after each round")
    parser.add_argument("--tracemalloc", type=int, metavar="FRAMES", help="PYTHONTRACEMALLOC for the server")
    add_target_options(parser)
    args = parser.parse_args()
    env: dict[str, str] = {}
    if args.arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.arena_max)
    if args.debug or args.tracemalloc:
        args.debug = True
        env["CHATKIT_DEBUG_MEMORY"] = "1"
    if args.tracemalloc:
        env["PYTHONTRACEMALLOC"] = str(args.tracemalloc)
    raise_fd_limit(2 * args.concurrency + 1000)
    target = target_from_args(args, "contacts", env)
    try:
        figures = asyncio.run(soak(target, args))
    finally:
        target.stop(args.keep_log)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
