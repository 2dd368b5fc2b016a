"""``chatkit bench``: tiny load runs against a real server (and the bare relay), each
giving a well-formed report in which every message sent arrived exactly once.

The command runs as a child process, the way an operator runs it, against this test's
server on loopback; the server keeps serving on the test's event loop meanwhile. No
figure of speed is asserted: only counts, which a run of any speed must get right,
and what the server stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatkit.bench.report import KEYS
from chatkit.cli.main import app as cli_app
from chatkit.server.runner import RunningServer
from chatkit.settings import Settings
from tests.helpers.constants import TEST_SECRET
from tests.helpers.processes import GUARD, child_env

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--settle", "0.2", "--drain", "10"]  # less idle time; loss is still waited for


async def bench(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    """Run ``chatkit bench ... --json``; (exit code, report or None, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatkit", "bench", *args, *FAST, "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
    out, err = await asyncio.wait_for(proc.communicate(), GUARD)
    report = json.loads(out) if out.strip() else None
    return proc.returncode or 0, report, err.decode()


async def bench_ok(*args: str) -> dict[str, Any]:
    code, report, err = await bench(*args)
    assert code == 0, err
    assert report is not None
    assert set(KEYS) <= report.keys()
    return report


def assert_all_arrived(report: dict[str, Any], sent: int) -> None:
    """Every message sent arrived once, in order, and was timed."""
    m = report["messages"]
    assert m["sent"] == sent
    assert m["sent"] == m["received"] + m["lost"]
    assert (m["lost"], m["duplicates"], m["out_of_order"], m["late"], m["errors"], m["foreign"]) == (0,) * 6, m
    latency = report["latency_ms"]
    assert latency["n"] == m["received"]
    assert 0 <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["throughput"]["msgs_per_s"] > 0
    assert report["generator"]["cpu_s"] >= 0


async def bench_messages(db: Any) -> list[dict[str, Any]]:
    return await db["messages"].find({"content": {"$regex": "^bench "}}).to_list(None)


async def test_pairs_run_delivers_every_message_once(server: RunningServer, db: Any) -> None:
    report = await bench_ok("--server", server.url, "--pairs", "2", "--messages", "20", "--window", "5",
                            "--server-pid", str(os.getpid()))
    assert report["mode"] == "pairs"
    assert report["setup"]["users"] == 4 and report["setup"]["sockets"] == 4
    assert report["setup"]["connect_ms"]["n"] == 4
    assert_all_arrived(report, sent=40)
    assert report["messages"]["self_copies"] == 40  # chatkit echoes each message to its sender
    [row] = report["server"]  # the test server runs in this process
    assert row["pid"] == os.getpid() and row["cpu_ms_per_msg"] >= 0 and row["peak_rss_mb"] > 0
    # the server stored them all: 20 per pair, plus the first message that opened each chat
    stored = await bench_messages(db)
    assert len(stored) == 42
    assert len({m["chat"] for m in stored}) == 2


async def test_rate_run_sends_rate_times_duration(server: RunningServer) -> None:
    report = await bench_ok("--server", server.url, "--rate", "50", "--duration", "2", "--pairs", "2")
    assert report["mode"] == "rate"
    assert report["params"]["rate"] == 50 and report["params"]["duration_s"] == 2
    assert_all_arrived(report, sent=100)


async def test_connections_run_holds_idle_sockets(server: RunningServer) -> None:
    report = await bench_ok("--server", server.url, "--connections", "20", "--server-pid", str(os.getpid()))
    assert report["mode"] == "connections"
    assert report["setup"]["sockets"] == 20 and report["setup"]["connect_ms"]["n"] == 20
    assert report["messages"]["sent"] == report["messages"]["received"] == report["messages"]["lost"] == 0
    assert report["messages"]["disconnects"] == 0
    [row] = report["server"]
    assert "kb_per_connection" in row and "cpu_ms_per_connection" in row


async def test_two_processes_share_the_pairs(server: RunningServer) -> None:
    report = await bench_ok("--server", server.url, "--pairs", "2", "--messages", "20", "--processes", "2",
                            "--join")
    assert len(report["generator"]["workers_cpu_s"]) == 2
    assert_all_arrived(report, sent=40)


async def test_direct_provisioning_writes_accounts_the_server_accepts(
        server: RunningServer, settings: Settings, db: Any) -> None:
    report = await bench_ok("--server", server.url, "--provision", "direct", "--mongo-url", settings.mongo_url or "",
                            "--db-name", settings.db_name, "--secret", TEST_SECRET, "--pairs", "2",
                            "--messages", "20", "--join")
    assert report["params"]["provision"] == "direct"
    assert_all_arrived(report, sent=40)
    assert await db["users"].count_documents({"firstName": {"$regex": "^Bench"}}) == 4
    stored = await bench_messages(db)
    assert len(stored) == 40  # the chats were written with the users: no opening message
    assert all(m["isRead"] for m in stored)  # each receiver was viewing the chat (--join)


async def test_tokens_signed_with_another_secret_stop_the_run_with_one_line(
        server: RunningServer, settings: Settings) -> None:
    code, report, err = await bench("--server", server.url, "--provision", "direct", "--mongo-url",
                                    settings.mongo_url or "", "--db-name", settings.db_name,
                                    "--secret", "not-the-server-secret-0123456789", "--pairs", "1")
    assert code == 1 and report is None
    assert len(err.strip().splitlines()) == 1, err
    assert "Invalid token" in err and "--secret" in err


@pytest.mark.parametrize("settings", [{"open_registration": False}], indirect=True)
async def test_closed_registration_points_to_direct_provisioning(server: RunningServer, db: Any) -> None:
    code, report, err = await bench("--server", server.url, "--pairs", "1", "--messages", "1")
    assert code == 2 and report is None
    assert err.startswith("error: ") and "--provision direct" in err and len(err.strip().splitlines()) == 1
    assert await db["users"].count_documents({}) == 0


@pytest.mark.parametrize("settings", [{"rate_messages": "5/s burst 5"}], indirect=True)
async def test_a_run_the_rate_limits_refuse_says_how_to_measure_instead(server: RunningServer) -> None:
    code, report, err = await bench("--server", server.url, "--pairs", "1", "--messages", "20", "--window", "20")
    assert report is not None and report["messages"]["errors"] > 0
    assert any("Too many requests" in sample for sample in report["messages"]["error_samples"])
    assert "CHATKIT_RATE_MESSAGES=off" in err


@pytest.fixture
def relay(tmp_path: Path) -> Any:
    """bench/relay.py (the bare python-socketio relay, no database) on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "relay.log").open("w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay.py")], stdout=subprocess.PIPE,
                            stderr=log, text=True, env={**child_env(), "PORT": str(port), "JWT_SECRET": TEST_SECRET})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line, (line, (tmp_path / "relay.log").read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(GUARD)
        log.close()


async def test_relay_run_delivers_every_message_once(relay: str) -> None:
    report = await bench_ok("--server", relay, "--target", "relay", "--secret", TEST_SECRET, "--pairs", "2",
                            "--messages", "20", "--join")
    assert report["target"] == "relay" and report["params"]["provision"] == "relay"
    assert_all_arrived(report, sent=40)
    assert report["messages"]["self_copies"] == 0  # the relay sends to the receiver only


@pytest.mark.parametrize(("args", "names"), [
    (["--rate", "5", "--connections", "3"], "--rate"),
    (["--target", "relay"], "--secret"),
    (["--provision", "direct"], "--mongo-url"),
    (["--pairs", "0"], "--pairs"),
    (["--server-pid", "abc"], "--server-pid"),
    (["--processes", "3", "--pairs", "2"], "--processes"),
])
def test_unusable_options_exit_2_with_one_line(args: list[str], names: str) -> None:
    result = CliRunner().invoke(cli_app, ["bench", "--server", "http://127.0.0.1:9", *args],
                                env={"CHATKIT_JWT_SECRET": ""})
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], result.output
