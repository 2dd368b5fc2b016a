"""N sockets connecting at once: how long until all are in, and what presence costs.

    .venv/bin/python bench/presence_burst.py                      # 2,000 users, ring of 6 contacts
    .venv/bin/python bench/presence_burst.py --presence all       # the global list, for comparison
    .venv/bin/python bench/presence_burst.py --url http://host:port --server-pid PID

Users are provisioned through the REST API (register) and given contacts by a first
message along each edge of a ring or random graph; every user then connects once so no
receipt backlog is left for the burst. The burst opens every socket at the same moment
and keeps them open until presence has gone quiet (``--settle`` seconds without an
``online-users`` frame). Figures: time until every socket is connected and has its
first ``online-users``, connect latency percentiles, ``online-users`` frames and bytes
(total, per connect, worst socket), and the CPU seconds of the server, its mongod and
this client process over the burst, with the server's RSS before, after, and after
every socket has closed. The last list each socket received is checked: with contacts
scope it must be exactly the user and their contacts (all online by then).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import signal
import subprocess
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
    contact_graph,
    machine_cpu_seconds,
    make_contacts,
    own_cpu_seconds,
    percentile,
    print_table,
    raise_fd_limit,
    register_users,
    target_from_args,
    wait_for_quiet,
    ws_session,
)


async def bursts(target: Target, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Provision once, then ``--repeat`` bursts, each after every socket of the last has gone."""
    t = time.perf_counter()
    users = await register_users(target.url, args.users)
    contacts = contact_graph(args.users, args.contacts, args.graph)
    chats = await make_contacts(target.url, users, contacts)
    setup = {"chats": chats, "setup_s": time.perf_counter() - t}
    return [{**setup, **await burst(target, args, users, contacts)} for _ in range(args.repeat)]


async def burst(target: Target, args: argparse.Namespace, users: list[BenchUser],
                contacts: list[set[int]]) -> dict[str, Any]:
    n = args.users
    await asyncio.sleep(args.pause)
    busy = await wait_for_quiet(args.max_busy)
    rss_before = target.rss()
    server_cpu0, mongod_cpu0 = target.cpu()
    client_cpu0 = own_cpu_seconds()
    machine_cpu0 = machine_cpu_seconds()

    profiler = _start_profiler(args.py_spy, target.server_pid)
    async with ws_session() as session:
        sockets = [RawSocket(session, target.url, u.token) for u in users]
        t0 = time.perf_counter()

        async def one(sock: RawSocket) -> None:
            await sock.open()
            await sock.first_presence()

        tasks = [asyncio.ensure_future(one(s)) for s in sockets]
        _, late = await asyncio.wait(tasks, timeout=args.timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        ready = [s for s, task in zip(sockets, tasks, strict=True) if task not in late and not task.exception()]
        all_in = max(_in_at(s, t0) for s in ready) - t0 if ready else float("nan")
        errors = [repr(task.exception())[:120] for task in tasks if task not in late and task.exception()]
        errors += [f"not in after {args.timeout:.0f}s"] * len(late)
        # Let the announcements the burst caused arrive: quiet for ``settle`` seconds.
        frames, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - quiet_since < args.settle:
            await asyncio.sleep(0.25)
            now = sum(s.presence_frames for s in sockets)
            if now != frames:
                frames, quiet_since = now, time.perf_counter()
        server_cpu1, mongod_cpu1 = target.cpu()
        _stop_profiler(profiler)
        client_cpu1 = own_cpu_seconds()
        machine_cpu1 = machine_cpu_seconds()
        window = time.perf_counter() - t0
        rss_open = target.rss()
        wrong = _check_lists(users, contacts, sockets, args.presence)
        closing_cpu0 = target.cpu()[0]
        await asyncio.gather(*(s.close() for s in sockets))
    await asyncio.sleep(args.pause)
    rss_closed = target.rss()
    closing_cpu = target.cpu()[0] - closing_cpu0

    connect = [s.connected_at - t0 for s in ready if s.connected_at]
    first = [_in_at(s, t0) - t0 for s in ready]
    total_frames = sum(s.presence_frames for s in sockets)
    total_bytes = sum(s.presence_bytes for s in sockets)
    return {
        "users": n, "contacts": args.contacts, "graph": args.graph,
        "presence": args.presence, "others_busy_cores_before": busy,
        "connected": len(ready), "failed": len(errors), "errors": dict(collections.Counter(errors)),
        "all_in_s": all_in,
        "connect_p50_s": percentile(connect, 50), "connect_p95_s": percentile(connect, 95),
        "connect_p99_s": percentile(connect, 99), "connect_max_s": max(connect, default=float("nan")),
        "first_presence_p50_s": percentile(first, 50), "first_presence_max_s": max(first, default=float("nan")),
        "presence_frames": total_frames, "presence_bytes": total_bytes,
        "frames_per_connect": total_frames / n, "bytes_per_connect": total_bytes / n,
        "max_bytes_one_socket": max(s.presence_bytes for s in sockets),
        "max_frames_one_socket": max(s.presence_frames for s in sockets),
        "server_cpu_s": server_cpu1 - server_cpu0, "mongod_cpu_s": mongod_cpu1 - mongod_cpu0,
        "client_cpu_s": client_cpu1 - client_cpu0,
        "window_s": window,
        "others_cpu_s": (machine_cpu1 - machine_cpu0) - (server_cpu1 - server_cpu0)
        - (mongod_cpu1 - mongod_cpu0) - (client_cpu1 - client_cpu0),
        "server_cpu_closing_s": closing_cpu,
        "server_rss_before_mb": rss_before, "server_rss_open_mb": rss_open, "server_rss_closed_mb": rss_closed,
        "wrong_lists": wrong,
    }


def _in_at(sock: RawSocket, t0: float) -> float:
    """When the socket was in: connected and holding its first ``online-users`` (a list
    broadcast to everyone may reach a socket before its connect is acknowledged)."""
    return max(sock.connected_at or t0, sock.first_presence_at or t0)


def _start_profiler(out: Path | None, pid: int | None) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server during the burst (raw collapsed stacks), if asked."""
    if out is None or pid is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
                             "--gil", "-o", str(out)], stdout=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(30)


def _check_lists(users: list[Any], contacts: list[set[int]], sockets: list[RawSocket], scope: str) -> int:
    """How many sockets' last ``online-users`` differ from what they should show now."""
    everyone = {u.id for u in users}
    wrong = 0
    for i, sock in enumerate(sockets):
        if sock.last_presence is None:
            wrong += 1
            continue
        shown = set(json.loads(sock.last_presence[2:])[1])
        expected = everyone if scope == "all" else {users[i].id} | {users[j].id for j in contacts[i]}
        wrong += shown != expected
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=6, help="contacts per user (even)")
    parser.add_argument("--graph", choices=("ring", "random"), default="ring")
    parser.add_argument("--presence", choices=("contacts", "all"), default="contacts",
                        help="CHATKIT_PRESENCE of the server started here (say which a --url server uses)")
    parser.add_argument("--timeout", type=float, default=150.0, help="give up on the burst after this")
    parser.add_argument("--settle", type=float, default=2.0, help="quiet seconds that end the burst")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds of rest before and after")
    parser.add_argument("--repeat", type=int, default=1, help="bursts on the same server and users")
    add_target_options(parser)
    parser.add_argument("--py-spy", type=Path, help="profile the server during the burst into this file")
    args = parser.parse_args()
    raise_fd_limit(2 * args.users + 1000)
    target = target_from_args(args, args.presence)
    try:
        figures = asyncio.run(bursts(target, args))
    finally:
        target.stop(args.keep_log)
    for i, run in enumerate(figures, 1):
        print(f"--- burst {i} of {len(figures)}")
        print_table(list(run.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
