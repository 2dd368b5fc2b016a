"""``chatkit smoke`` against a real server: it passes when the server keeps the contract,
fails naming the step and the server's answer when it does not, and leaves no
throwaway user able to log in either way.

The command runs in-process (typer's runner, in a worker thread: it calls
``asyncio.run`` itself) while the test's server serves on the main loop. The one test
that changes the database between two steps calls ``run_smoke`` with its progress hook,
which the command uses to print each step as it finishes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

import httpx
import pytest
from bson import ObjectId
from typer.testing import CliRunner, Result

from chatkit.cli.main import app as cli_app
from chatkit.server.runner import RunningServer
from chatkit.smoke import Credentials, SmokeOptions, StepResult, run_smoke
from chatkit.smoke.image import tiny_png
from tests.helpers.constants import AUTH, PASSWORD

THROWAWAY_STEPS = [
    "server", "register", "connect", "first-message", "message", "delivered", "join-chat", "typing",
    "leave-chat", "image", "block", "unblock", "listings", "clear", "retire", "log-out",
]
GIVEN_STEPS = [
    "server", "login", "reset", "connect", "first-message", "message", "delivered", "join-chat", "typing",
    "leave-chat", "image", "block", "unblock", "listings", "clear", "log-out",
]
BLOCKED = "You can't send a message to a blocked user"


async def smoke_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli_app, ["smoke", *args], env=env, catch_exceptions=False)


def report_of(result: Result) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)
    return report


async def login_status(api: httpx.AsyncClient, email: str, password: str) -> int:
    return (await api.post(AUTH + "/login", json={"email": email, "password": password})).status_code


async def test_smoke_passes_against_a_fresh_server(server: RunningServer, db: Any) -> None:
    result = await smoke_cli("--server", server.url, "--json")

    assert result.exit_code == 0, result.output
    assert "eyJ" not in result.output  # no token (a JWT starts so) in the report
    report = report_of(result)
    assert report["ok"] is True and report["failedStep"] is None and report["server"] == server.url
    assert [s["name"] for s in report["steps"]] == THROWAWAY_STEPS
    assert all(s["ok"] and s["status"] == "ok" and s["ms"] >= 0 for s in report["steps"]), report["steps"]
    users = report["users"]
    assert [u["role"] for u in users] == ["A", "B"] and all(u["throwaway"] for u in users)
    assert all(u["email"].startswith("smoke+") and u["email"].endswith("@example.invalid") for u in users)
    # What stays behind: two "Smoke Test A/B" users with a password nobody knows, no session
    # left open, and not their chat (both cleared it).
    ids = [ObjectId(u["id"]) for u in users]
    for user_id, role in zip(ids, "AB", strict=True):
        doc = await db.users.find_one({"_id": user_id})
        assert (doc["firstName"], doc["lastName"]) == ("Smoke", f"Test {role}")
        assert doc["passwordChangedAt"] is not None and doc["passwordChangedAt"] >= doc["createdAt"]
        assert await db.sessions.count_documents({"userId": user_id, "revokedAt": None}) == 0
    assert await db.chats.count_documents({"participants": {"$all": ids}}) == 0
    assert await db.messages.count_documents({}) == 0


async def test_given_accounts_are_checked_and_stay_usable(server: RunningServer, make_user, api) -> None:
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    args = ["--server", server.url, "--email", ann.email, "--password", ann.password, "--email2", bob.email]

    first = await smoke_cli(*args, env={"CHATKIT_SMOKE_PASSWORD2": bob.password})

    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert ann.email in lines[0] and bob.email in lines[0]
    for name in GIVEN_STEPS:  # one check-list line per step, each passed
        assert any(line.split()[:2] == ["ok", name] for line in lines), (name, first.stdout)
    assert "all 16 steps passed" in lines[-1]
    assert ann.password not in first.output and "eyJ" not in first.output
    # A second run finds them as the first one did: nothing of the first run is in its way.
    second = await smoke_cli(*args, "--password2", bob.password, "--json")
    assert second.exit_code == 0, second.output
    assert report_of(second)["ok"] is True
    assert [u["throwaway"] for u in report_of(second)["users"]] == [False, False]
    for account in (ann, bob):
        assert await login_status(api, account.email, account.password) == 200


async def test_reset_undoes_what_an_interrupted_run_left(server: RunningServer, make_user, api) -> None:
    """A run killed between `block` and `clear` leaves a block and a chat behind; the next
    run with the same accounts starts from a clean slate all the same."""
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    auth = {"Authorization": ann.token}
    opened = await api.post("/api/v1/chats", headers=auth, data={"receiverId": bob.id},
                            files={"media": ("x.png", tiny_png(), "image/png")})
    assert opened.status_code == 201, opened.text
    assert (await api.post(f"/api/v1/actions/{bob.id}/block", headers=auth)).status_code == 200

    result = await smoke_cli("--server", server.url, "--email", ann.email, "--password", ann.password,
                             "--email2", bob.email, "--password2", bob.password, "--json")

    assert result.exit_code == 0, result.output
    reset = next(s for s in report_of(result)["steps"] if s["name"] == "reset")
    assert reset["detail"] == "A unblocked B; deleted their chat"


@pytest.mark.parametrize("settings", [{"open_registration": False}], indirect=True)
async def test_closed_registration_fails_the_register_step(server: RunningServer) -> None:
    result = await smoke_cli("--server", server.url, "--json")

    assert result.exit_code == 1
    report = report_of(result)
    assert report["ok"] is False and report["failedStep"] == "register"
    register = report["steps"][1]
    assert register["status"] == "failed"
    assert register["detail"].startswith("403 Registration is closed")
    assert "--email" in register["detail"]
    assert [s["status"] for s in report["steps"][2:]] == ["skipped"] * (len(THROWAWAY_STEPS) - 2)
    assert "register" in result.stderr and "Registration is closed" in result.stderr


async def test_users_blocked_in_the_database_mid_run_fail_the_next_step(
        server: RunningServer, db: Any, api: httpx.AsyncClient) -> None:
    """After the first message an operator makes A and B block each other, straight in the
    database: B's reply is refused, and the report says so at the `message` step. The
    throwaway users are retired all the same."""
    accounts = (Credentials("smoke+x-a@example.invalid", PASSWORD), Credentials("smoke+x-b@example.invalid", PASSWORD))
    seen: list[StepResult] = []

    async def operator(step: StepResult) -> None:
        seen.append(step)
        if step.name == "first-message" and step.ok:
            a = await db.users.find_one({"email": accounts[0].email})
            b = await db.users.find_one({"email": accounts[1].email})
            await db.users.update_one({"_id": a["_id"]}, {"$set": {"blockedUsers": [b["_id"]]}})
            await db.users.update_one({"_id": b["_id"]}, {"$set": {"blockedUsers": [a["_id"]]}})

    report = await run_smoke(SmokeOptions(server.url, accounts, throwaway=True, timeout=10), on_step=operator)

    assert not report.ok
    assert list(report.steps) == seen
    failed = report.failed
    assert failed is not None and failed.name == "message"
    assert failed.detail == f"403 {BLOCKED}"
    statuses = {s.name: s.status for s in report.steps}
    assert [statuses[n] for n in ["server", "register", "connect", "first-message"]] == ["ok"] * 4
    assert all(statuses[n] == "skipped" for n in THROWAWAY_STEPS[5:-2])
    assert statuses["retire"] == statuses["log-out"] == "ok"
    for credentials in accounts:
        assert await login_status(api, credentials.email, credentials.password) == 401


async def test_an_unreachable_server_fails_the_first_step() -> None:
    """As a process (``python -m chatkit smoke``), against a port where nothing listens."""
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatkit", "smoke", "--server", url, "--json", "--timeout", "5",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 1, err.decode()
    report = json.loads(out)
    assert report["ok"] is False and report["failedStep"] == "server"
    assert report["steps"][0]["detail"].startswith(f"Cannot reach {url}")
    assert {s["status"] for s in report["steps"][1:]} == {"skipped"}
    assert err.decode().startswith("error: smoke step 'server' failed: Cannot reach")


@pytest.mark.parametrize("args, complaint", [
    (["--email", "a@example.com", "--password", "x" * 8], "--email and --email2 go together"),
    (["--email", "a@example.com", "--email2", "A@example.com", "--password", "p", "--password2", "q"],
     "two different accounts"),
    (["--email", "a@example.com", "--email2", "b@example.com", "--password", "p"], "--password2"),
    (["--password", "p"], "go with --email"),
    (["--server", "ftp://example.com"], "http:// or https://"),
])
async def test_bad_usage_exits_2_naming_the_problem(args: list[str], complaint: str) -> None:
    result = await smoke_cli(*args)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and complaint in result.stderr, result.stderr
