"""``chatkit admin users ...`` against a live server's database.

The commands run in-process (typer's CliRunner, see the ``admin_cli`` fixture) with
``--mongo-url`` / ``--db-name`` pointing at the test's database; every effect is then
checked over HTTP on the very next request. The data-dir modes (borrowing a running
server's mongod, or starting one) are covered with real processes in
``test_serve_process.py``.
"""

from __future__ import annotations

import json
import re

from bson import ObjectId

from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error, one_error_line


def _ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result.stdout


def _json(result):
    return json.loads(_ok(result))


def _failed(result, message: str, code: int = 1) -> None:
    """Non-zero exit, exactly one line on stderr naming the problem, nothing else."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stdout == ""
    assert one_error_line(result.stderr) == f"error: {message}"
    assert "Traceback" not in result.output


async def _me(api, token: str):
    return await api.get(AUTH + "/me", headers=auth_header(token))


async def _login(api, email: str, password: str = PASSWORD):
    return await api.post(AUTH + "/login", json={"email": email, "password": password})


async def _create(admin_cli, email: str, first: str = "Ann", last: str = "Lee", password: str = PASSWORD):
    return await admin_cli("users", "create", "--email", email, "--first-name", first, "--last-name", last,
                           "--password", password, "--json")


async def test_create_list_show(api, admin_cli):
    created = _json(await _create(admin_cli, "Ann@Example.com"))
    assert created["email"] == "ann@example.com" and created["fullName"] == "Ann Lee"
    assert ObjectId.is_valid(created["_id"]) and "password" not in created
    assert created["isActive"] is True and created["isBlocked"] is False

    # Password from standard input, table output.
    out = _ok(await admin_cli("users", "create", "--email", "bob@example.com", "--first-name", "Bob",
                              "--last-name", "Ng", input="bobs password\n"))
    bob_id = re.search(r"\b[0-9a-f]{24}\b", out).group(0)
    assert "created bob@example.com" in out

    # Both can log in over HTTP straight away.
    assert (await _login(api, "ann@example.com")).status_code == 200
    assert (await _login(api, "bob@example.com", "bobs password")).json()["data"]["_id"] == bob_id

    listed = _json(await admin_cli("users", "list", "--json"))
    assert listed["total"] == 2
    assert {u["_id"] for u in listed["users"]} == {created["_id"], bob_id}
    assert all("password" not in u for u in listed["users"])

    # The table shows every id in full, on one line, so it can be pasted into a command.
    table = _ok(await admin_cli("users", "list"))
    assert created["_id"] in table and bob_id in table
    assert "…" not in table

    searched = _json(await admin_cli("users", "list", "--search", "NG", "--json"))
    assert [u["_id"] for u in searched["users"]] == [bob_id]

    paged = _json(await admin_cli("users", "list", "--limit", "1", "--page", "2", "--json"))
    assert paged["total"] == 2 and len(paged["users"]) == 1

    by_email = _json(await admin_cli("users", "show", "ANN@example.com", "--json"))
    by_id = _json(await admin_cli("users", "show", created["_id"], "--json"))
    assert by_email["_id"] == by_id["_id"] == created["_id"]
    assert len(by_id["sessions"]) == 1  # the login above
    assert by_id["sessions"][0]["hasPushToken"] is False

    shown = _ok(await admin_cli("users", "show", bob_id))
    assert bob_id in shown and "bob@example.com" in shown


async def test_names_are_shown_literally(admin_cli):
    """Rich markup in a user's name neither vanishes nor crashes the table."""
    odd = _json(await _create(admin_cli, "odd@example.com", first="[bold]Ann[/]", last=":smile: [/red]"))
    assert odd["_id"] in _ok(await admin_cli("users", "list"))
    assert "[bold]Ann[/] :smile: [/red]" in _ok(await admin_cli("users", "show", "odd@example.com"))


async def test_ban_takes_effect_on_the_next_request(api, admin_cli, make_user):
    ann = await make_user("Ann")
    banned = _json(await admin_cli("users", "ban", ann.email, "--json"))
    assert banned["isBlocked"] is True

    assert_error(await _me(api, ann.token), 401, "Account blocked")
    assert_error(await _login(api, ann.email), 401, "Account blocked")

    assert _json(await admin_cli("users", "unban", ann.id, "--json"))["isBlocked"] is False
    assert_error(await _me(api, ann.token), 401, "Session ended, please login again")  # the ban ended it
    assert (await _login(api, ann.email)).status_code == 200


async def test_deactivate_takes_effect_on_the_next_request(api, admin_cli, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    out = _ok(await admin_cli("users", "deactivate", ann.id))
    assert out.strip() == f"deactivated {ann.email}"

    assert_error(await _me(api, ann.token), 401, "Account deactivated")
    assert_error(await _login(api, ann.email), 401, "Account deactivated")
    assert (await _me(api, bob.token)).status_code == 200  # nobody else affected

    assert _json(await admin_cli("users", "activate", ann.email, "--json"))["isActive"] is True
    assert_error(await _me(api, ann.token), 401, "Session ended, please login again")
    assert (await _login(api, ann.email)).status_code == 200


async def test_set_password_ends_every_session(api, admin_cli, make_user):
    ann = await make_user("Ann")
    second = (await _login(api, ann.email)).json()["data"]["token"]

    updated = _json(await admin_cli("users", "set-password", ann.email, "--password", "set by admin", "--json"))
    assert updated["passwordChangedAt"] is not None

    for token in (ann.token, second):
        assert_error(await _me(api, token), 401, "Password changed, please login again")
    assert_error(await _login(api, ann.email, PASSWORD), 401, "Incorrect email or password")
    assert (await _login(api, ann.email, "set by admin")).status_code == 200

    # From standard input too.
    _ok(await admin_cli("users", "set-password", ann.id, input="from stdin 123\n"))
    assert (await _login(api, ann.email, "from stdin 123")).status_code == 200


async def test_logout_ends_every_session_but_not_the_account(api, admin_cli, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    second = (await _login(api, ann.email)).json()["data"]["token"]

    result = _json(await admin_cli("users", "logout", ann.email, "--yes", "--json"))
    assert result["sessionsEnded"] == 2 and result["_id"] == ann.id

    for token in (ann.token, second):
        assert_error(await _me(api, token), 401, "Session ended, please login again")
    assert (await _me(api, bob.token)).status_code == 200
    assert _json(await admin_cli("users", "show", ann.id, "--json"))["sessions"] == []

    fresh = (await _login(api, ann.email)).json()["data"]["token"]
    assert (await _me(api, fresh)).status_code == 200
    assert _ok(await admin_cli("users", "logout", ann.id, "--yes")).strip() == f"ended 1 session(s) of {ann.email}"


async def test_errors_are_one_line_and_change_nothing(api, admin_cli, make_user):
    ann = await make_user("Ann")
    nobody_id = str(ObjectId())
    before = _json(await admin_cli("users", "list", "--json"))

    for command in ("show", "ban", "unban", "deactivate", "activate", "logout", "delete", "unlock"):
        _failed(await admin_cli("users", command, "nobody@example.com"), "No user 'nobody@example.com'", 3)
        as_json = await admin_cli("users", command, nobody_id, "--json")  # errors are JSON with --json
        assert as_json.exit_code == 3 and as_json.stdout == ""
        assert json.loads(as_json.stderr) == {"error": f"No user '{nobody_id}'", "exitCode": 3}
    _failed(await admin_cli("users", "set-password", "ghost", "--password", "long enough"), "No user 'ghost'", 3)

    taken = await _create(admin_cli, ann.email.upper())  # --json: the error is JSON too, exit 5 (conflict)
    assert taken.exit_code == 5 and json.loads(taken.stderr)["error"] == "Email is already registered"
    for bad, message in ((dict(email="new@example.com", password="short"), "password must be at least 8 characters"),
                         (dict(email="not-an-email"), "email is not a valid email address"),
                         (dict(email="new@example.com", first="  "), "firstName must not be empty")):
        refused = await _create(admin_cli, **bad)
        assert refused.exit_code == 1 and json.loads(refused.stderr)["error"] == message
    _failed(await admin_cli("users", "create", "--email", "new@example.com", "--first-name", "A",
                            "--last-name", "B", input=""),
            "no password given: pass --password or type it on standard input", 2)
    _failed(await admin_cli("users", "set-password", ann.email, "--password", "short"),
            "password must be at least 8 characters")

    # Nothing changed: same users, Ann still logged in with her password and session.
    assert _json(await admin_cli("users", "list", "--json")) == before
    assert (await _me(api, ann.token)).status_code == 200
    assert (await _login(api, ann.email)).status_code == 200


def test_unusable_mongo_url_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from chatkit.cli.main import app

    result = CliRunner().invoke(app, ["admin", "--mongo-url", "http://example.com", "--data-dir", str(tmp_path),
                                      "users", "list"])
    assert result.exit_code == 2, result.output  # refused at once, as a usage error
    assert isinstance(result.exception, SystemExit)
    line = one_error_line(result.stderr)
    assert line.startswith("error: invalid MongoDB URL"), result.stderr
    assert "mongodb://" in line  # says what a URL should look like


def test_admin_with_a_mongo_url_writes_no_secret(tmp_path, settings, server):
    """Operator commands issue no tokens, so they neither read nor create the JWT secret."""
    from typer.testing import CliRunner

    from chatkit.cli.main import app

    data_dir = tmp_path / "untouched"
    result = CliRunner().invoke(app, ["admin", "--mongo-url", settings.mongo_url, "--db-name", settings.db_name,
                                      "--data-dir", str(data_dir), "users", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert not (data_dir / "jwt-secret").exists()
