"""``chatkit serve`` and ``chatkit admin`` as real processes, each with its own data dir.

These are the only tests that start their own mongod (about two seconds each), so
each test walks through a whole story rather than checking one thing.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chatkit.mongod import free_port
from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error, one_error_line
from tests.helpers.processes import GUARD, Server, alive, child_env
from tests.helpers.waiting import wait_until_sync


def _chatkit(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatkit", *args], env=env or child_env(), input=stdin,
                          capture_output=True, text=True, timeout=GUARD, check=False)


def _mongods_on(data_dir: Path) -> list[int]:
    """Pids of live mongod processes whose files are in ``data_dir``."""
    db = str(data_dir / "db").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"mongod") and db in argv:
            found.append(int(entry.name))
    return found


def _lock_is_free(data_dir: Path) -> bool:
    with open(data_dir / "mongod.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


@pytest.fixture
def spawn(tmp_path: Path):
    """Start servers; any still running when the test ends are killed (with their mongod)."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        server = Server(tmp_path / f"serve-{len(started)}.log", list(args), env or child_env())
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(GUARD)


def _register(http: httpx.Client, email: str) -> str:
    r = http.post(AUTH + "/register", json={"firstName": "Ann", "lastName": "Lee", "email": email,
                                           "password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.json()["data"]["token"]


def test_serve_owns_its_mongod_lends_it_to_admin_and_stops_it(tmp_path, spawn):
    data = tmp_path / "data"
    server = spawn("--data-dir", str(data), "--port", str(free_port()), "--log-level", "debug")
    assert server.url.startswith("http://127.0.0.1:")

    state = json.loads((data / "mongod.json").read_text())
    assert state["owner"] == "server" and state["ownerPid"] == server.proc.pid
    mongod_pid = state["pid"]
    assert _mongods_on(data) == [mongod_pid]

    secret = data / "jwt-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    r = server.http.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    token = _register(server.http, "ann@example.com")

    # A second server on the same data dir refuses at once instead of sharing.
    second = _chatkit("serve", "--data-dir", str(data), "--port", str(free_port()))
    assert second.returncode == 1
    assert one_error_line(second.stderr) == (
        f"error: another chatkit server (pid {server.proc.pid}) is using {data}; "
        "stop it, or pass a different --data-dir"
    )

    # The admin CLI borrows the running server's mongod; its effect is live over HTTP.
    made = _chatkit("admin", "--data-dir", str(data), "users", "create", "--email", "bob@example.com",
                    "--first-name", "Bob", "--last-name", "Ng", "--json", stdin="bobs password\n")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["email"] == "bob@example.com"
    assert server.http.post(AUTH + "/login", json={"email": "bob@example.com",
                                                   "password": "bobs password"}).status_code == 200
    banned = _chatkit("admin", "--data-dir", str(data), "users", "ban", "ann@example.com")
    assert banned.returncode == 0, banned.stderr
    assert_error(server.http.get(AUTH + "/me", headers=auth_header(token)), 401, "Account blocked")
    assert _mongods_on(data) == [mongod_pid]  # borrowed, not restarted or stopped
    assert json.loads((data / "mongod.json").read_text()) == state

    # Database down: /healthz says so (503) instead of hanging; back up: 200 again.
    os.kill(mongod_pid, signal.SIGSTOP)
    try:
        assert_error(server.http.get("/healthz"), 503, "Database unavailable")
    finally:
        os.kill(mongod_pid, signal.SIGCONT)
    wait_until_sync(lambda: server.http.get("/healthz").status_code, until=lambda status: status == 200,
                    timeout=10, interval=0.1, what="/healthz answering 200 after mongod resumed")

    # SIGTERM: clean exit, and the mongod it started is gone.
    assert server.stop() == 0
    assert not alive(mongod_pid)
    assert _mongods_on(data) == []
    assert "pid" not in json.loads((data / "mongod.json").read_text())
    assert _lock_is_free(data)

    log = server.log()
    assert "chatkit serving on " + server.url in log
    assert f"new data dir: created a chatkit database in {data / 'db'}" in log  # a new data dir says so
    assert "Traceback" not in log
    for secret_text in (token, PASSWORD, "bobs password", secret.read_text().strip()):
        assert secret_text not in log


def test_restart_keeps_secret_and_data_and_admin_runs_without_server(tmp_path, spawn):
    data = tmp_path / "data"
    first = spawn("--data-dir", str(data), "--port", str(free_port()))
    token = _register(first.http, "ann@example.com")
    secret = (data / "jwt-secret").read_text()
    assert first.stop() == 0

    # No server running: the admin command starts the data dir's mongod and stops it again.
    listed = _chatkit("admin", "--data-dir", str(data), "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [u["email"] for u in json.loads(listed.stdout)["users"]] == ["ann@example.com"]
    assert _mongods_on(data) == []
    assert _lock_is_free(data)

    # Second run, configured through the environment only: the old token still works.
    second = spawn(env=child_env(CHATKIT_DATA_DIR=str(data), CHATKIT_PORT=str(free_port()),
                            CHATKIT_HOST="127.0.0.1"))
    r = second.http.get(AUTH + "/me", headers=auth_header(token))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["email"] == "ann@example.com"
    assert (data / "jwt-secret").read_text() == secret
    assert stat.S_IMODE((data / "jwt-secret").stat().st_mode) == 0o600
    assert second.stop(signal.SIGINT) == 0  # Ctrl-C stops it just as cleanly
    assert _mongods_on(data) == []


def test_unreachable_mongo_url_fails_with_one_line(tmp_path):
    """A clear line within seconds, not a hang (the guard only stops a hang).

    With CHATKIT_JWT_SECRET set, no secret file is written to the data dir.
    """
    result = _chatkit("serve", "--data-dir", str(tmp_path), "--mongo-url", "mongodb://127.0.0.1:1/",
                      "--port", str(free_port()),
                      env=child_env(CHATKIT_JWT_SECRET="configured-secret-0123456789"))
    assert result.returncode == 4  # the database is unreachable
    assert one_error_line(result.stderr) == (
        "error: cannot reach MongoDB at mongodb://127.0.0.1:1/ within 5s: connection refused"
    )
    assert not (tmp_path / "jwt-secret").exists()
    assert result.stdout == ""


def test_no_mongod_anywhere_is_one_line_and_exit_2(tmp_path):
    """A machine with no mongod on PATH and without the ``embedded`` extra."""
    shadow = tmp_path / "shadow" / "fiftyone" / "db"  # hides the installed embedded wheel
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = child_env(PATH=str(empty_bin), PYTHONPATH=str(tmp_path / "shadow"))
    expected = ("error: no mongod found: install chatkit[embedded] (pip install 'chatkit[embedded]') "
                "or pass --mongo-url / set CHATKIT_MONGO_URL")

    served = _chatkit("serve", "--data-dir", str(tmp_path / "data"), env=env)
    assert served.returncode == 2
    assert one_error_line(served.stderr) == expected

    (tmp_path / "data" / "db").mkdir(parents=True, exist_ok=True)  # a data dir a server once used
    admin = _chatkit("admin", "--data-dir", str(tmp_path / "data"), "users", "list", env=env)
    assert admin.returncode == 2
    assert one_error_line(admin.stderr) == expected


def _serve_in_process(data_dir: Path, *args: str, env: dict[str, str] | None = None):
    """``chatkit serve`` in this process, for start-ups refused before anything runs."""
    from typer.testing import CliRunner

    from chatkit.cli.main import app

    clear = {k: None for k in os.environ if k.startswith("CHATKIT_")}
    return CliRunner().invoke(app, ["serve", "--data-dir", str(data_dir), *args], env={**clear, **(env or {})})


@pytest.mark.parametrize("args, env, message", [
    (["--port", "70000"], {}, "error: port must be between 0 and 65535, got 70000"),
    ([], {"CHATKIT_PORT": "eighty"}, "error: CHATKIT_PORT: cannot use 'eighty'"),
    (["--log-level", "loud"], {}, "error: unknown log level 'loud'"),
    ([], {"CHATKIT_JWT_SECRET": "short"}, "error: CHATKIT_JWT_SECRET must be at least 16 characters"),
    ([], {"CHATKIT_BCRYPT_ROUNDS": "99"}, "error: CHATKIT_BCRYPT_ROUNDS must be between 4 and 16"),
    ([], {"CHATKIT_JWT_LIFETIME_DAYS": "nan"},
     "error: CHATKIT_JWT_LIFETIME_DAYS must be a positive number of days (at most 36500)"),
    ([], {"CHATKIT_OPEN_REGISTRATION": "perhaps"}, "error: CHATKIT_OPEN_REGISTRATION: cannot use 'perhaps'"),
    (["--db-name", "a.b"], {}, "error: db name 'a.b' is not a valid MongoDB database name"),
])
def test_bad_configuration_is_one_line_and_exit_2(tmp_path, args, env, message):
    result = _serve_in_process(tmp_path, *args, env=env)
    assert result.exit_code == 2, result.output
    assert one_error_line(result.stderr) == message
    assert not (tmp_path / "db").exists()  # refused before starting anything


def test_unusable_secret_file_is_one_line(tmp_path):
    (tmp_path / "jwt-secret").write_text("too short\n")
    result = _serve_in_process(tmp_path)
    assert result.exit_code == 2, result.output
    assert one_error_line(result.stderr) == (
        f"error: {tmp_path / 'jwt-secret'} holds no usable secret; delete it to make a new one"
    )
    assert not (tmp_path / "db").exists()
