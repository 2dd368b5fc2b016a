"""``chatkit`` as an operator used to mmctl or synadm expects it (issue 12, points 2 to 7).

In-process through typer's runner (the ``admin_cli`` fixture, or ``CliRunner`` with the
options placed elsewhere) against the test's real database and server, and as child
processes where a terminal-less process, a signal or a data dir of its own matters.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit.cli.main import app
from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error, one_error_line
from tests.helpers.images import png
from tests.helpers.processes import GUARD, child_env
from tests.helpers.waiting import wait_until, wait_until_sync


def _ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result.stdout


def _refused(result, code: int) -> str:
    """Exit ``code``, one ``error:`` line on stderr, nothing on stdout; returns the line."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    return one_error_line(result.stderr)


def _json_error(result, code: int) -> dict:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    error = json.loads(lines[0])
    assert error["exitCode"] == code and error["error"]
    return error


def _invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input, env={"CHATKIT_BCRYPT_ROUNDS": "4"})


def _chatkit(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatkit", *args], env=child_env(), capture_output=True,
                          text=True, timeout=GUARD, check=False, **kw)


async def _me(api, token: str):
    return await api.get(AUTH + "/me", headers=auth_header(token))


# --- 2: global options anywhere, version, -h, a light import ------------------------


async def test_global_options_work_before_and_after_the_subcommand(settings, make_user, admin_cli):
    ann = await make_user("Ann")
    db = ["--mongo-url", settings.mongo_url, "--db-name", settings.db_name]
    before = await asyncio.to_thread(_invoke, "admin", *db, "--json", "users", "list")
    after = await asyncio.to_thread(_invoke, "admin", "users", "list", *db, "--json")
    middle = await asyncio.to_thread(_invoke, "admin", "--mongo-url", settings.mongo_url, "users",
                                     "--db-name", settings.db_name, "list", "--json")
    listed = json.loads(_ok(before))
    assert [u["email"] for u in listed["users"]] == [ann.email]
    assert json.loads(_ok(after)) == json.loads(_ok(middle)) == listed
    # A value after the subcommand wins over one before it.
    wrong_first = await asyncio.to_thread(_invoke, "admin", "--db-name", "typo_db", "--mongo-url",
                                          settings.mongo_url, "users", "show", ann.email,
                                          "--db-name", settings.db_name, "--json")
    assert json.loads(_ok(wrong_first))["email"] == ann.email


def test_version_help_and_completion():
    version = _invoke("--version")
    assert _ok(version).startswith("chatkit ") and version.stdout.split()[1][0].isdigit()
    short, long = _invoke("-h"), _invoke("--help")
    assert _ok(short) == _ok(long) and "--install-completion" in short.stdout
    helped = _ok(_invoke("admin", "users", "ban", "-h"))
    for text in ("USER", "--data-dir", "CHATKIT_DATA_DIR", "--mongo-url", "CHATKIT_MONGO_URL", "CHATKIT_DB_NAME",
                 "--json"):
        assert text in helped, text
    serve = _ok(_invoke("serve", "-h"))
    assert "CHATKIT_PORT" in serve and "8080" in serve and "CHATKIT_HOST" in serve
    assert "CHAT" in _ok(_invoke("admin", "clear", "-h"))


def test_importing_the_cli_loads_neither_pymongo_nor_the_server():
    code = ("import sys\n"
            "import chatkit.cli.main\n"
            "assert 'pymongo' not in sys.modules and 'chatkit.server' not in sys.modules, 'eager import'\n"
            "from typer.testing import CliRunner\n"
            "r = CliRunner().invoke(chatkit.cli.main.app, ['smoke', '--help'])\n"
            "assert r.exit_code == 0, r.output\n"
            "assert 'pymongo' not in sys.modules, 'smoke --help loaded pymongo'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=GUARD, check=False)
    assert done.returncode == 0, done.stderr


# --- 3: no silent wrong database --------------------------------------------------


async def test_a_mistyped_data_dir_or_db_name_is_refused_and_nothing_is_created(settings, server, tmp_path):
    typo = tmp_path / "chatkti"
    line = _refused(await asyncio.to_thread(_invoke, "admin", "users", "list", "--data-dir", str(typo)), 3)
    assert line.startswith(f"error: no chatkit data in {typo}") and "--data-dir" in line
    assert not typo.exists()

    client = server.services.storage.client
    result = await asyncio.to_thread(_invoke, "admin", "users", "list", "--mongo-url", settings.mongo_url,
                                     "--db-name", "chatkti", "--data-dir", str(typo))
    assert "chatkit database 'chatkti'" in _refused(result, 3)
    assert "chatkti" not in await client.list_database_names()
    assert not typo.exists()


# --- 4: destructive commands confirm ----------------------------------------------


async def test_destructive_commands_need_yes_without_a_terminal(api, make_user, sockets, admin_cli, db):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    chat_id = (await (await sockets.connect(ann)).send("hello", other_user_id=bob.id))["chat"]

    for args in (("users", "logout", ann.email), ("users", "delete", ann.email), ("clear", chat_id, "--all")):
        line = _refused(await admin_cli(*args), 2)
        assert "--yes" in line, line
    assert (await _me(api, ann.token)).status_code == 200  # nothing changed
    assert await db["messages"].count_documents({}) == 1

    dry = _ok(await admin_cli("users", "delete", ann.email, "--dry-run"))
    assert dry.startswith(f"dry run: would erase {ann.email}: 1 chat(s) with 1 message(s)") and "nothing changed" in dry
    planned = json.loads(_ok(await admin_cli("clear", chat_id, "--all", "--dry-run", "--json")))
    assert planned == {"dryRun": True, "chat": chat_id, "messages": 1, "images": 0}
    assert (await _me(api, ann.token)).status_code == 200
    assert await db["chats"].count_documents({}) == 1

    assert _ok(await admin_cli("users", "logout", ann.email, "--yes")).strip() == f"ended 1 session(s) of {ann.email}"
    assert_error(await _me(api, ann.token), 401)


# --- 5: delete, several users, unlock, --all, stats ---------------------------------


async def test_delete_erases_the_user_and_their_token_dies_at_once(api, make_user, sockets, admin_cli, db):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    cat = await make_user("Cat")
    ann_socket = await sockets.connect(ann)
    chat_id = (await ann_socket.send("hi bob", other_user_id=bob.id))["chat"]
    await (await sockets.connect(cat)).send("bob and cat", other_user_id=bob.id)
    _ok(await admin_cli("block", bob.email, ann.email))

    erased = json.loads(_ok(await admin_cli("users", "delete", ann.email, "--yes", "--json")))
    assert erased["email"] == ann.email
    assert erased["erased"]["chats"] == 1 and erased["erased"]["messages"] >= 1 and erased["erased"]["sessions"] == 1

    await ann_socket.wait_disconnected(timeout=3)
    assert_error(await _me(api, ann.token), 401)
    r = await api.post(AUTH + "/login", json={"email": ann.email, "password": PASSWORD})
    assert r.status_code == 401
    assert await db["users"].count_documents({"email": ann.email}) == 0
    assert await db["messages"].count_documents({"chat": chat_id}) == 0
    assert await db["chats"].count_documents({"participants": {"$size": 2}}) == 1  # Bob and Cat's chat stays
    assert await db["users"].count_documents({"blockedUsers": {"$ne": []}}) == 0  # Bob's block of Ann is gone
    assert (await _me(api, bob.token)).status_code == 200
    line = _refused(await admin_cli("users", "show", ann.email), 3)
    assert ann.email in line


async def test_several_users_per_command_and_a_typo_changes_nothing(api, make_user, admin_cli):
    ann, bob, cat = await make_user("Ann"), await make_user("Bob"), await make_user("Cat")
    _refused(await admin_cli("users", "ban", ann.email, "nobody@example.com", bob.email), 3)
    for person in (ann, bob, cat):
        assert (await _me(api, person.token)).status_code == 200

    out = _ok(await admin_cli("users", "ban", ann.email, bob.id))
    assert out.splitlines() == [f"banned {ann.email}", f"banned {bob.email}"]
    for person in (ann, bob):
        assert_error(await _me(api, person.token), 401, "Account blocked")
    assert (await _me(api, cat.token)).status_code == 200
    unbanned = json.loads(_ok(await admin_cli("users", "unban", ann.email, bob.email, "--json")))
    assert [u["isBlocked"] for u in unbanned] == [False, False]


async def test_unlock_lifts_the_login_throttle_of_the_running_server(api, make_user, admin_cli):
    ann = await make_user("Ann")
    statuses = [(await api.post(AUTH + "/login", json={"email": ann.email, "password": "wrong password"}))
                .status_code for _ in range(6)]
    assert statuses[-1] == 429, statuses

    assert _ok(await admin_cli("users", "unlock", ann.email)).strip() == (
        f"unlocked logins of {ann.email} on every running server")

    async def login():
        return (await api.post(AUTH + "/login", json={"email": ann.email, "password": PASSWORD})).status_code

    await wait_until(login, until=lambda status: status == 200, timeout=5, what="login after unlock")


async def test_listings_all_and_stats(make_user, sockets, admin_cli):
    people = [await make_user(f"P{i}") for i in range(3)]
    await (await sockets.connect(people[0])).send("one", other_user_id=people[1].id)

    page = json.loads(_ok(await admin_cli("users", "list", "--limit", "2", "--json")))
    assert page["total"] == 3 and len(page["users"]) == 2
    every = json.loads(_ok(await admin_cli("users", "list", "--limit", "2", "--all", "--json")))
    assert len(every["users"]) == 3
    assert len(json.loads(_ok(await admin_cli("chats", "list", "--all", "--json")))["chats"]) == 1

    stats = json.loads(_ok(await admin_cli("stats", "--json")))
    assert (stats["users"], stats["chats"], stats["messages"]) == (3, 1, 1)
    assert stats["onlineNow"] is None and stats["storageBytes"] > 0
    human = _ok(await admin_cli("stats"))
    assert "users\t3" in human and "online now\tunknown" in human


# --- 6: output for pipes and people -----------------------------------------------


async def test_piped_output_is_tab_separated_with_human_values(make_user, admin_cli):
    ann = await make_user("Ann", "Lee")
    _ok(await admin_cli("users", "deactivate", ann.email))
    lines = _ok(await admin_cli("users", "list")).splitlines()
    assert lines[0].split("\t") == ["email", "name", "status", "created", "id"]
    email, name, status, created, user_id = lines[1].split("\t")
    assert (email, name, status, user_id) == (ann.email, "Ann Lee", "deactivated", ann.id)

    shown = dict(line.split("\t", 1) for line in _ok(await admin_cli("users", "show", ann.email)).splitlines())
    assert shown["active"] == "no" and shown["banned"] == "no" and shown["blocks"] == ""
    assert "None" not in shown.values() and "True" not in shown.values()


# --- 7: errors and exit codes -----------------------------------------------------


async def test_json_errors_and_exit_codes(make_user, admin_cli):
    ann = await make_user("Ann")
    missing = _json_error(await admin_cli("users", "show", "nobody@example.com", "--json"), 3)
    assert "nobody@example.com" in missing["error"]
    taken = _json_error(await admin_cli("users", "create", "--email", ann.email, "--first-name", "A",
                                        "--last-name", "B", "--password", PASSWORD, "--json"), 5)
    assert taken["error"] == "Email is already registered"
    assert _refused(await admin_cli("users", "list", "--page", "0"), 2)
    bob = await make_user("Bob")
    assert _ok(await admin_cli("block", ann.email, bob.email)).strip() == f"{ann.email} blocks {bob.email}"
    again = await admin_cli("block", ann.email, bob.email)  # already so: exit 0 with a note
    assert again.exit_code == 0 and again.stdout == ""
    assert again.stderr.strip() == f"{ann.email} already blocks {bob.email}: nothing to do"
    # A usage error (from the option parser) is JSON too with --json, and exits 2.
    _json_error(await asyncio.to_thread(_invoke, "admin", "users", "list", "--page", "zero", "--json"), 2)


def test_usage_error_with_json_in_a_process_is_one_json_line(tmp_path):
    done = _chatkit("admin", "users", "list", "--page", "zero", "--json", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    error = json.loads(done.stderr.strip())
    assert error["exitCode"] == 2 and "--page" in error["error"]


def test_a_mongo_url_that_is_not_a_url_is_refused_at_once(tmp_path):
    for url in ("localhost:27017", "http://example.com"):
        line = _refused(_invoke("admin", "users", "list", "--mongo-url", url, "--data-dir", str(tmp_path)), 2)
        assert line.startswith("error: invalid MongoDB URL: it must start with mongodb://"), line
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_exits_4(tmp_path):
    result = _invoke("admin", "users", "list", "--mongo-url", "mongodb://127.0.0.1:1/", "--data-dir", str(tmp_path))
    line = _refused(result, 4)
    assert line == "error: cannot reach MongoDB at mongodb://127.0.0.1:1/ within 5s: connection refused"
    assert "Error" not in line  # no exception class names


def test_a_busy_port_names_the_port_and_how_to_change_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _invoke("serve", "--data-dir", str(tmp_path / "data"), "--port", str(port))
    line = _refused(result, 1)
    assert f"port {port}" in line and "--port" in line and "CHATKIT_PORT" in line
    assert not (tmp_path / "data" / "db").exists()  # said before any mongod started


def _blocked_on_stdin(pid: int) -> bool:
    try:
        return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def test_ctrl_c_exits_130(tmp_path):
    """Interrupted while waiting for a password on standard input."""
    proc = subprocess.Popen([sys.executable, "-m", "chatkit", "admin", "--data-dir", str(tmp_path), "users",
                             "create", "--email", "a@example.com", "--first-name", "A", "--last-name", "B"],
                            env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until_sync(lambda: _blocked_on_stdin(proc.pid), timeout=GUARD, interval=0.05,
                        what="the command waiting on standard input")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


# --- 5: backup and restore --------------------------------------------------------


@pytest.mark.usefixtures("server")
async def test_backup_then_restore_into_a_fresh_data_dir_gives_the_same_data(api, pair, admin_cli, db, tmp_path):
    ann, bob, a, b = pair
    await a.send("hello bob", other_user_id=bob.id)
    r = await api.post("/api/v1/chats", headers=ann.headers, data={"receiverId": bob.id},
                       files=[("media", ("img.png", png(seed=7), "image/png"))])
    assert r.status_code in (200, 201), r.text

    backup_dir = tmp_path / "backup"
    made = json.loads(_ok(await admin_cli("backup", str(backup_dir), "--json")))
    assert made["collections"]["users"] == 2 and made["collections"]["media.files"] == 1
    assert made["pointInTime"] is True

    fresh = tmp_path / "fresh"
    restored = await asyncio.to_thread(_chatkit, "admin", "--data-dir", str(fresh), "restore", str(backup_dir),
                                       "--json")
    assert restored.returncode == 0, restored.stderr
    again = await asyncio.to_thread(_chatkit, "admin", "--data-dir", str(fresh), "restore", str(backup_dir))
    assert again.returncode == 5 and "--yes" in one_error_line(again.stderr)

    listed = await asyncio.to_thread(_chatkit, "admin", "--data-dir", str(fresh), "users", "list", "--json")
    assert sorted(u["_id"] for u in json.loads(listed.stdout)["users"]) == sorted([ann.id, bob.id])
    chats = await asyncio.to_thread(_chatkit, "admin", "--data-dir", str(fresh), "chats", "list", "--json")
    assert [c["_id"] for c in json.loads(chats.stdout)["chats"]] == [str(c["_id"]) async for c in db["chats"].find()]
    stats = json.loads((await asyncio.to_thread(_chatkit, "admin", "stats", "--json", "--data-dir", str(fresh)))
                       .stdout)
    assert (stats["users"], stats["chats"], stats["messages"], stats["mediaFiles"]) == (
        2, 1, await db["messages"].count_documents({}), 1)
    # the image bytes came along: a media check reports the same total
    media = json.loads((await asyncio.to_thread(_chatkit, "admin", "media", "--json", "--data-dir", str(fresh)))
                       .stdout)
    here = json.loads(_ok(await admin_cli("media", "--json")))
    assert (media["files"], media["bytes"]) == (here["files"], here["bytes"])
