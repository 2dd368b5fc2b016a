"""One bench run from start to report: check the options, provision, split the pairs over
the worker processes, start them together, watch the server, merge what they counted."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.bench.load import Plan
from chatkit.bench.measure import Watch, own_cpu_seconds, summary_ms
from chatkit.bench.provision import (
    Account,
    PairSpec,
    direct_accounts,
    pair_up,
    register_accounts,
    relay_accounts,
    run_tag,
)
from chatkit.bench.workers import Fleet
from chatkit.errors import UsageError

MODES = ("pairs", "rate", "connections")
TARGETS = ("chatkit", "relay")
PROVISIONS = ("api", "direct")


@dataclass(frozen=True)
class Options:
    url: str
    mode: str = "pairs"
    target: str = "chatkit"
    pairs: int = 20
    messages: int = 500
    window: int = 10
    rate: float = 0.0
    duration: float = 10.0
    connections: int = 0
    join: bool = False
    processes: int = 1
    provision: str = "api"
    mongo_url: str | None = None
    db_name: str = "chatkit"
    secret: str | None = None
    server_pids: list[int] = field(default_factory=list)
    msg_timeout: float = 10.0
    drain: float = 10.0
    settle: float = 0.5

    def validate(self) -> None:
        """One line naming the option, for anything unusable (exit 2)."""
        if not self.url.startswith(("http://", "https://")):
            raise UsageError(f"--server must be an http:// or https:// URL, got {self.url!r}")
        checks = [
            (self.mode in MODES, f"mode must be one of {', '.join(MODES)}"),
            (self.target in TARGETS, f"--target must be one of {', '.join(TARGETS)}"),
            (self.provision in PROVISIONS, f"--provision must be one of {', '.join(PROVISIONS)}"),
            (self.pairs > 0, "--pairs must be at least 1"),
            (self.messages > 0, "--messages must be at least 1"),
            (self.window > 0, "--window must be at least 1"),
            (self.mode != "rate" or self.rate > 0, "--rate must be above 0"),
            (self.mode != "rate" or self.duration > 0, "--duration must be above 0"),
            (self.mode != "connections" or self.connections > 0, "--connections must be at least 1"),
            (self.processes > 0, "--processes must be at least 1"),
            (self.msg_timeout > 0 and self.drain >= 0 and self.settle >= 0,
             "--msg-timeout must be above 0, --drain and --settle at least 0"),
            (self.target == "chatkit" or self.provision == "api",
             "--provision direct is for a chatkit server; the relay needs only --secret"),
            (self.target == "chatkit" or self.secret, "--target relay needs --secret (the relay's JWT_SECRET)"),
            (self.provision != "direct" or (self.mongo_url and self.secret),
             "--provision direct needs --mongo-url and --secret (the server's JWT secret)"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        if self.mode != "connections" and self.processes > self.pairs:
            raise UsageError(f"--processes ({self.processes}) must not exceed --pairs ({self.pairs})")

    @property
    def users(self) -> int:
        return self.connections if self.mode == "connections" else 2 * self.pairs


class Display(Protocol):
    """What the run tells whoever shows its progress (``report.LiveDisplay``)."""

    def phase(self, text: str) -> None: ...

    def update(self, sent: int, received: int, lost: int) -> None: ...


async def provision(options: Options, tag: str) -> tuple[list[PairSpec], list[Account]]:
    """The pairs (or, for ``connections``, the idle accounts) of the run."""
    count = options.users
    chat_ids: list[str] | None = None
    if options.target == "relay":
        assert options.secret is not None
        accounts = relay_accounts(options.secret, count)
        chat_ids = [secrets.token_hex(12) for _ in range(count // 2)]  # the relay takes any id
    elif options.provision == "direct":
        assert options.mongo_url is not None and options.secret is not None
        pairs = 0 if options.mode == "connections" else options.pairs
        accounts, chat_ids = await direct_accounts(options.mongo_url, options.db_name, options.secret,
                                                   count, pairs, tag)
    else:
        accounts = await register_accounts(options.url, count, tag)
    if options.mode == "connections":
        return [], accounts
    return pair_up(accounts, chat_ids), []


def plans(options: Options, tag: str, pairs: list[PairSpec], idle: list[Account]) -> list[Plan]:
    """The work split as evenly as it goes over the processes (a pair never split)."""
    k = options.processes
    total = max(len(pairs), 1)
    return [
        Plan(mode=options.mode, url=options.url, target=options.target, tag=tag,
             pairs=pairs[i::k], idle=idle[i::k], messages=options.messages, window=options.window,
             rate=options.rate * len(pairs[i::k]) / total, duration=options.duration, join=options.join,
             msg_timeout=options.msg_timeout, drain=options.drain, settle=options.settle)
        for i in range(k)
    ]


def run(options: Options, display: Display) -> dict[str, Any]:
    """The whole run; returns the report (see ``report.KEYS``)."""
    options.validate()
    tag = run_tag()
    load_before = os.getloadavg()[0]
    display.phase(f"creating {options.users} users ({options.provision if options.target == 'chatkit' else 'relay'})")
    started = time.perf_counter()
    pairs, idle = asyncio.run(provision(options, tag))
    provision_s = time.perf_counter() - started
    setup_watch, run_watch = Watch(options.server_pids), Watch(options.server_pids)
    fleet = Fleet(plans(options, tag, pairs, idle))
    failed = True
    try:
        display.phase(f"connecting {options.users} sockets in {options.processes} process(es)")
        setup_watch.start()
        fleet.start()
        setups = fleet.collect("ready", setup_watch.tick)
        setup_watch.stop()
        display.phase({"pairs": "sending", "rate": "sending at a fixed rate",
                       "connections": "holding the connections"}[options.mode])
        run_watch.start()
        cpu_before = own_cpu_seconds()
        fleet.go.set()

        def tick() -> None:
            run_watch.tick()
            display.update(*fleet.totals())

        results = fleet.collect("done", tick)
        run_watch.stop()
        coordinator_cpu = own_cpu_seconds() - cpu_before
        failed = False
    finally:
        fleet.stop(failed)
    report = assemble(options, provision_s, setups, results, coordinator_cpu,
                      setup_watch if options.mode == "connections" else run_watch)
    # a shared machine's other work shows here: figures taken under load are not comparable
    report["host"] = {"cpus": os.cpu_count(), "load_1m_start": round(load_before, 2),
                      "load_1m_end": round(os.getloadavg()[0], 2)}
    return report


def assemble(options: Options, provision_s: float, setups: list[dict[str, Any]], results: list[dict[str, Any]],
             coordinator_cpu: float, watch: Watch) -> dict[str, Any]:
    """Every worker's counts merged into the report."""
    def total(key: str) -> int:
        return sum(int(r[key]) for r in results)

    latencies = [x for r in results for x in r["latencies"]]
    connect_times = [x for s in setups for x in s["connect_times"]]
    received = total("received")
    if options.mode == "connections":
        wall = 0.0
    else:
        wall = max(r["last_receive"] for r in results) - min(r["first_send"] for r in results)
    workers_cpu = [round(float(r["cpu_s"]), 3) for r in results]
    generator_cpu = sum(workers_cpu) + coordinator_cpu
    other_events: dict[str, int] = {}
    for r in results:
        for name, n in r["other_events"].items():
            other_events[name] = other_events.get(name, 0) + n
    units = options.connections if options.mode == "connections" else received
    return {
        "mode": options.mode,
        "target": options.target,
        "url": options.url,
        "params": {
            "pairs": options.pairs if options.mode != "connections" else 0,
            "messages": options.messages if options.mode == "pairs" else None,
            "window": options.window if options.mode == "pairs" else None,
            "rate": options.rate if options.mode == "rate" else None,
            "duration_s": options.duration if options.mode == "rate" else None,
            "connections": options.connections if options.mode == "connections" else None,
            "join": options.join, "processes": options.processes,
            "provision": options.provision if options.target == "chatkit" else "relay",
            "msg_timeout_s": options.msg_timeout,
        },
        "setup": {
            "users": options.users, "provision_s": round(provision_s, 3),
            "sockets": sum(int(s["sockets"]) for s in setups),
            "connect_s": round(max(float(s["connect_phase_s"]) for s in setups), 3),
            "connect_ms": summary_ms(connect_times),
        },
        "messages": {
            "sent": total("sent"), "received": received, "lost": total("lost"), "late": total("late"),
            "duplicates": total("duplicates"), "out_of_order": total("out_of_order"),
            "errors": total("errors"), "error_samples": [x for r in results for x in r["error_samples"]][:5],
            "self_copies": total("self_copies"), "foreign": total("foreign"),
            "disconnects": total("disconnects"),
        },
        "throughput": {"wall_s": round(wall, 3), "msgs_per_s": round(received / wall, 1) if wall > 0 else None},
        "latency_ms": summary_ms(latencies),
        "generator": {
            "processes": options.processes, "cpu_s": round(generator_cpu, 3),
            "cpu_util": round(generator_cpu / wall, 3) if wall > 0 else None,
            "cpu_ms_per_msg": round(generator_cpu * 1000 / received, 4) if received else None,
            "workers_cpu_s": workers_cpu,
            "setup_cpu_s": round(sum(float(s["cpu_s"]) for s in setups), 3),
        },
        "server": watch.report(units, "connection" if options.mode == "connections" else "msg", wall),
        "events": other_events,
    }


def rate_total(options: Options) -> int | None:
    """How many messages the run is meant to send (for a progress bar)."""
    if options.mode == "pairs":
        return options.pairs * options.messages
    if options.mode == "rate":
        return math.floor(options.rate * options.duration)
    return None
