"""``chatkit bench``: load-test a running server (or the bare relay) over the wire.

Thin: options in, ``chatkit.bench.run`` does the run, the report goes out as a table or
JSON. The mode follows from the options given: ``--connections`` holds idle sockets,
``--rate`` offers a fixed rate, otherwise pairs exchange ``--messages`` each.
"""

from __future__ import annotations

from typing import Optional

import typer

from chatkit.cli.common import reported_errors
from chatkit.cli.output import console
from chatkit.errors import UsageError
from chatkit.protocol import Sentence


def bench(
    server: str = typer.Option(..., "--server", help="Base URL of the server under test, e.g. http://127.0.0.1:8080"),
    target: str = typer.Option("chatkit", help="chatkit, or relay: the bare relay in bench/relay.py (needs --secret)"),
    pairs: int = typer.Option(20, help="Sender/receiver pairs"),
    messages: int = typer.Option(500, help="Messages per sender (pairs mode)"),
    window: int = typer.Option(10, help="Most messages a sender keeps un-received (pairs mode)"),
    rate: Optional[float] = typer.Option(None, help="Offer this many messages/s in total, for --duration"),
    duration: float = typer.Option(10.0, help="Seconds of --rate"),
    connections: Optional[int] = typer.Option(None, help="Hold this many idle sockets (connect time, memory)"),
    join: bool = typer.Option(False, "--join", help="Both sides view their chat (join-chat) first"),
    server_pid: Optional[str] = typer.Option(
        None, "--server-pid", help="PID[,PID] of the server (and its mongod): CPU per message, peak memory"),
    processes: int = typer.Option(1, help="Spread the clients over this many processes"),
    provision: str = typer.Option("api", help="api: register over REST; direct: write users into MongoDB"),
    mongo_url: Optional[str] = typer.Option(None, help="MongoDB URL of the server's data (--provision direct)"),
    db_name: str = typer.Option("chatkit", help="Database name (--provision direct)"),
    secret: Optional[str] = typer.Option(
        None, envvar="CHATKIT_JWT_SECRET", help="JWT secret of the server (--provision direct) or of the relay"),
    msg_timeout: float = typer.Option(10.0, help="Seconds after which an un-received message counts as lost"),
    drain: float = typer.Option(10.0, help="Seconds to wait for stragglers after the last send"),
    settle: float = typer.Option(0.5, help="Seconds between connecting and sending"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Load-test a running server: throughput, latency, loss, connect time, server CPU and memory.

    Exits 1 if a message was lost or duplicated (the report is printed all the same).
    """
    from chatkit.bench import report  # the load machinery only when a bench runs
    from chatkit.bench.run import Options, rate_total, run

    with reported_errors():
        if rate is not None and connections is not None:
            raise UsageError("give at most one of --rate and --connections")
        mode = "connections" if connections is not None else "rate" if rate is not None else "pairs"
        options = Options(
            url=server.rstrip("/"), mode=mode, target=target, pairs=pairs, messages=messages, window=window,
            rate=rate or 0.0, duration=duration, connections=connections or 0, join=join, processes=processes,
            provision=provision, mongo_url=mongo_url, db_name=db_name, secret=secret,
            server_pids=_pids(server_pid), msg_timeout=msg_timeout, drain=drain, settle=settle)
        with report.LiveDisplay(rate_total(options)) as display:
            result = run(options, display)
    if as_json:
        typer.echo(report.to_json(result))
    else:
        console.print(report.table(result))
    if any(Sentence.RATE_LIMITED in sample for sample in result["messages"]["error_samples"]):
        typer.echo("note: the server's rate limits refused some of the load; measure a server started with "
                   "CHATKIT_RATE_MESSAGES=off (and CHATKIT_RATE_REGISTRATIONS=off when the bench registers "
                   "its users)", err=True)
    if result["messages"]["lost"] or result["messages"]["duplicates"]:
        raise typer.Exit(1)


def _pids(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        pids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--server-pid takes PID[,PID], got {text!r}") from None
    if any(pid <= 0 for pid in pids):
        raise UsageError(f"--server-pid takes positive process ids, got {text!r}")
    return pids
