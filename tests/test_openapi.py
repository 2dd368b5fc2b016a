"""The OpenAPI document (``docs/openapi.yaml``, served at ``/api/v1/openapi.json``) is what the
server does: schemathesis runs every operation of the document against a live
server, with its positive, negative and fuzzed cases, and finds no 5xx and no reply
that does not match its schema.

schemathesis runs as its own process (its CLI, as a client writer would run it), so the
server keeps serving on this test's event loop meanwhile. Authenticated operations get a
real token; some path ids are real (a chat, a user, an image) so that the happy paths
are reached, not only the 404s. Examples per operation are few, so the run stays short;
each run draws new ones.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from chatkit.protocol import Rest
from tests.helpers.images import png

REPO = Path(__file__).resolve().parent.parent
DOCUMENT = REPO / "docs" / "openapi.yaml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 8
RUN_TIMEOUT = 240  # seconds; the run takes well under a minute

# Checks left out, each for a reason the server cannot change:
# - positive_data_acceptance: some rules are not JSON Schema (a name needs a visible
#   character, a password at most 72 *bytes*, an upload must hold real images), so data
#   valid by the schema is rightly refused with a 400 or 415 at times.
EXCLUDED_CHECKS = "positive_data_acceptance"


def _config(ids: list[str], token: str, logout_token: str) -> str:
    """schemathesis.toml: real ids for path parameters half of the time; log-out ends a
    session of its own, so every other operation keeps a working token."""
    values = ", ".join(f'"{i}"' for i in ids)
    return f"""
[dictionaries.ids]
values = [{values}]

[parameters]
"path.id" = {{ dictionary = "ids", probability = 0.5 }}

[headers]
Authorization = "{token}"

[[operations]]
include-path = "{Rest.LOG_OUT}"
headers = {{ Authorization = "{logout_token}" }}

# The test server has no SMTP: sending a code is 503 "Email is not configured on this
# server", a documented answer of a deployment without mail, not a failure.
[[operations]]
include-path = "{Rest.SEND_OTP}"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
"""


async def _seed(api: httpx.AsyncClient, make_user) -> tuple[list[str], str, str]:
    """Ann, Bob and their chat with one image in it: the ids and two of Ann's tokens."""
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    r = await api.post(Rest.CHATS, headers=ann.headers, data={"receiverId": bob.id},
                       files={"media": ("red.png", png(), "image/png")})
    assert r.status_code == 201, r.text
    chat = r.json()["chat"]
    media_id = urlsplit(chat["messages"][0]["content"]).path.rsplit("/", 1)[-1]
    second = await api.post(Rest.LOGIN, json={"email": ann.email, "password": ann.password})
    assert second.status_code == 200, second.text
    return [chat["_id"], bob.id, media_id], ann.token, second.json()["data"]["token"]


async def test_the_served_document_is_the_one_in_the_repository_and_covers_every_route(server, api):
    r = await api.get(Rest.OPENAPI)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    served = r.json()
    assert served == yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    assert served["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, item in served["paths"].items() for method in item}
    routed = {(route.method, route.resource.canonical) for route in server.runner.app.router.routes()
              if route.resource is not None and not route.resource.canonical.startswith("/socket.io")
              and route.method not in ("HEAD", "*")}
    assert routed <= documented, f"routes the OpenAPI document lacks: {sorted(routed - documented)}"


async def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(server, api, make_user, tmp_path):
    ids, token, logout_token = await _seed(api, make_user)
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(ids, token, logout_token))
    proc = await asyncio.create_subprocess_exec(
        # the repository's file, which the first test shows is what the server serves
        str(SCHEMATHESIS), "--config-file", str(config), "--no-color", "run", str(DOCUMENT),
        "--url", server.url, "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
        "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1", "--request-timeout", "10", "--generation-database", "none",
        "--warnings", "off", "--suppress-health-check", "all",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"schemathesis did not finish within {RUN_TIMEOUT}s") from None
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-12000:]
    # every operation of the document was tested, none skipped or errored
    operations = sum(len(methods) for methods in yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))["paths"].values())
    assert f"Tested: {operations}\n" in report, report[-4000:]
