"""Property-based fuzzing of every REST endpoint and every Socket.IO event (issue 7).

Hypothesis generates bodies, query strings, path ids, ``Authorization`` headers and
content types for each endpoint, and payloads (and names) for each event. Whatever it
sends, over the real wire to a real server on a real MongoDB, the server must:

- answer, never with a 5xx: a success in the contract's shape, or a JSON
  ``{success:false, message}`` with a 4xx status (for a socket: a success ack, or a
  failed ack plus an ``error`` event; never a hang, never a dropped connection);
- log no error and no traceback (an unhandled exception is logged before the 500);
- change nothing in the database when it refuses.

One server, one set of users and one event loop serve all the examples of a test
function (pytest-asyncio runs each async Hypothesis example on the test's loop), and
example counts are bounded, so the file stays a few seconds per test. Examples are
random on every run; a failure prints the reproducing example (``print_blob``). Set
``FUZZ_SCALE=20`` to run twenty times as many examples (a longer hunt, not for CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import string
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import jwt
import pytest
import socketio
from bson import ObjectId
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from chatkit.server.runner import RunningServer
from tests.helpers.accounts import Account, sign_token, token_claims
from tests.helpers.constants import AUTH, OID, PASSWORD, UNKNOWN_ID
from tests.helpers.failures import assert_error, is_error_event
from tests.helpers.fuzzing import (
    NON_STRING_NAMES,
    ODD_EVENT_NAMES,
    Auth,
    Body,
    Cast,
    Encoding,
    Form,
    auths,
    bodies,
    content_types,
    encodings,
    event_args,
    json_values,
    objects,
    path_ids,
    query_strings,
    socket_values,
)
from tests.helpers.realtime import Peer, PeerPool
from tests.helpers.waiting import wait_until

# Example counts keep the file to seconds; FUZZ_SCALE=20 (say) fuzzes 20 times longer.
SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
FUZZ = settings(
    max_examples=60 * SCALE, deadline=None, database=None, print_blob=True,
    # No shrinking: examples share one server whose state moves on, so a shrunk replay
    # would not see the world the failure saw, and each replay is a real round trip.
    # The failing example is printed as generated, with the request it sent.
    phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
    # The server and users are fixtures of the test function on purpose: one per
    # example would cost a second each. Examples do share state, which is the point:
    # a success (a block, a clear) is the next example's starting point.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
ACK_TIMEOUT = 5.0
# Each example is a short session of requests or events, so that valid ones recur after
# different predecessors (Hypothesis never repeats an example it has already run).
STEPS = st.integers(min_value=1, max_value=4)

T = TypeVar("T")


async def session(data: st.DataObject, draw: Callable[[], T], run: Callable[[T], Awaitable[None]]) -> None:
    """Draw and run one example's steps (1 to 4), each drawn after the previous one ran.

    After a failed step the remaining steps are still drawn, not run. Hypothesis replays
    a failing example to report it, and the server's state has moved on by then: the
    replay may fail at another step (or pass, reported as flaky with the first error),
    but it must draw as much as the first run did, or Hypothesis reports only that the
    drawing was inconsistent and hides the error.
    """
    failure: Exception | None = None
    for _ in range(data.draw(STEPS, label="steps")):
        step = draw()
        if failure is None:
            try:
                await run(step)
            except Exception as exc:
                failure = exc
    if failure is not None:
        raise failure


# --- the oracles: log, database, reply ------------------------------------------------------


class LogWatch(logging.Handler):
    """Collects every record that means "the server hit something it did not expect":
    ERROR and above, anything carrying an exception, any text with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.levelno >= logging.ERROR or record.exc_info or "Traceback" in text:
            self.bad.append(f"{record.name} {record.levelname}: {text[:300]}"
                            + (f" ({record.exc_info[1]!r})" if record.exc_info else ""))

    def check(self, label: str) -> None:
        bad, self.bad = self.bad, []
        assert not bad, f"{label}: the server logged\n" + "\n".join(bad)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """One request or event: anything logged meanwhile fails it, and is shown along
        with any other failure of it (a 500 or a missing ack says more with its log)."""
        try:
            yield
        except AssertionError as exc:
            bad, self.bad = self.bad, []
            if not bad:
                raise
            raise AssertionError(f"{exc}\nthe server logged meanwhile:\n" + "\n".join(bad)) from None
        self.check(label)


@pytest.fixture
def server_log() -> Iterator[LogWatch]:
    """Every log record of this process (the server runs in it) while the test runs."""
    watch = LogWatch()
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield watch
    finally:
        root.removeHandler(watch)


Snapshot = dict[str, list[dict[str, Any]]]


async def snapshot(db: Any) -> Snapshot:
    """Every document of every collection. Nothing is excluded: the server keeps no
    "last seen" or "last tried" field that a refused request may legitimately touch (the
    login throttle counts failures in memory), so a refusal must leave all of it as is."""
    names = sorted(await db.list_collection_names())
    return {name: await db[name].find({}).sort("_id", 1).to_list(None) for name in names}


def assert_unchanged(before: Snapshot, after: Snapshot, label: str) -> None:
    if before == after:
        return
    for name in sorted(set(before) | set(after)):
        old = {d["_id"]: d for d in before.get(name, [])}
        new = {d["_id"]: d for d in after.get(name, [])}
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                raise AssertionError(f"{label}: refused, yet {name} changed:\n  before {old.get(key)!r}"
                                     f"\n  after  {new.get(key)!r}")
    raise AssertionError(f"{label}: refused, yet the database changed")


async def settled(db: Any) -> Snapshot:
    """The database once writes that follow a connect (pending deliveries) are done."""
    last: list[Snapshot] = []

    async def probe() -> bool:
        last.append(await snapshot(db))
        return len(last) > 1 and last[-1] == last[-2]

    await wait_until(probe, interval=0.1, what="database quiet")
    return last[-1]


def check_reply(r: httpx.Response, label: str) -> dict[str, Any] | None:
    """A JSON success (returned) or a JSON 4xx refusal (None); never a 5xx."""
    assert r.status_code < 500, f"{label}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        assert_error(r, r.status_code, label=label)
        return None
    assert r.status_code in (200, 201), f"{label}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), f"{label}: {r.headers!r}"
    body = r.json()
    assert isinstance(body, dict) and body.get("success") is True, f"{label}: {body!r}"
    return body


# --- the cast: three users, two chats, tokens of every kind ----------------------------------


class World:
    """Ann (who calls), Bob (who shares a chat with her) and Cat (who shares one with Bob
    only): ids to aim at, tokens to call with, and sockets for Ann and Bob."""

    def __init__(self, api: httpx.AsyncClient, ann: Account, bob: Account, cat: Account,
                 sockets: tuple[Peer, Peer], cast: Cast) -> None:
        self.api = api
        self.ann, self.bob, self.cat = ann, bob, cat
        self.ann_socket, self.bob_socket = sockets
        self.cast = cast
        self.password = PASSWORD  # Ann's, as long as no fuzzed change-password succeeded
        self.client_ids: dict[str, str] = {}  # clientId -> id of the message Ann sent with it

    def __repr__(self) -> str:  # Hypothesis prints the fixtures of a failing example
        return f"World(ann={self.ann.id}, bob={self.bob.id}, cat={self.cat.id}, ids={self.cast.ids})"

    @property
    def our_chat(self) -> str:
        """Ann and Bob's chat (a new one once a fuzzed clear deleted it)."""
        return self.cast.ids["chat"][0]

    def user_ids(self) -> set[str]:
        return {self.ann.id, self.bob.id, self.cat.id}


def _forged_tokens(ann: Account) -> dict[str, str]:
    """Tokens the server never issued: each must be refused with 401, never a 500."""
    claims = token_claims(ann.id)
    now = claims["iat"]
    return {
        "forged": sign_token(claims, secret="not-the-secret-" + "y" * 32),
        "unsessioned": sign_token(claims),
        "expired": sign_token(token_claims(ann.id, iat=now - 7200, exp=now - 3600)),
        "alg-none": jwt.encode(claims, key=None, algorithm="none"),
        "unknown-user": sign_token(token_claims(UNKNOWN_ID)),
        "operator-user-id": sign_token(token_claims({"$gt": ""})),
        "numeric-user-id": sign_token(token_claims(12345)),
        "no-exp": sign_token({k: v for k, v in claims.items() if k != "exp"}),
        "admin-role": sign_token(token_claims(ann.id, role="admin")),
        "tampered": ann.token[:-4] + ("AAAA" if not ann.token.endswith("AAAA") else "BBBB"),
    }


@pytest.fixture
async def world(api: httpx.AsyncClient, make_user: Callable[..., Awaitable[Account]], sockets: PeerPool,
                db: Any) -> World:
    ann, bob, cat = await make_user("Ann", "Lee"), await make_user("Bob", "Ray"), await make_user("Cat", "Fox")
    a, b = await sockets.connect(ann), await sockets.connect(bob)
    ann_first = await a.send("hello bob", other_user_id=bob.id)
    bob_reply = await b.send("hello ann", chat_id=ann_first["chat"])
    their_first = await b.send("hello cat", other_user_id=cat.id)
    r = await api.post(AUTH + "/login", json={"email": ann.email, "password": PASSWORD})
    ended = r.json()["data"]["token"]
    assert (await api.post(AUTH + "/log-out", headers={"Authorization": ended})).status_code == 200
    tokens = {
        "ann": ann.token, "ann-bearer": "Bearer " + ann.token, "ann-bearer-lower": "bearer   " + ann.token,
        "bob": bob.token, "cat": cat.token, "logged-out": ended, **_forged_tokens(ann),
    }
    ids = {
        "chat": [ann_first["chat"], their_first["chat"]],
        "user": [ann.id, bob.id, cat.id],
        "message": [ann_first["_id"], bob_reply["_id"], their_first["_id"]],
    }
    await settled(db)
    for peer in (a, b):
        peer.drain()
    return World(api, ann, bob, cat, (a, b), Cast(ids, tokens))


def _headers(world: World, auth: Auth, self_token: str, content_type: str | None) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if auth.label == "self":
        headers["Authorization"] = self_token
    elif auth.label in world.cast.tokens:
        headers["Authorization"] = world.cast.tokens[auth.label]
    elif auth.label != "missing":
        headers["Authorization"] = auth.value
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


# --- REST ----------------------------------------------------------------------------------

NO_FIELDS = Form({})


@dataclass(frozen=True)
class Endpoint:
    """One REST route as the fuzzer sees it: where an id goes, and the query parameters
    and body it takes (``body=None``: it reads no body, so any body is a stray one)."""

    method: str
    path: str  # with "{id}" where an id goes
    id_kind: str | None = None
    query: Form = NO_FIELDS
    body: Form | Sequence[Form] | None = None


@dataclass(frozen=True)
class Request:
    endpoint: Endpoint
    path: str
    query: str
    auth: Auth
    body: Body | None
    content_type: str | None
    encoding: Encoding

    @property
    def label(self) -> str:
        return (f"{self.endpoint.method} {self.path}?{self.query[:200]} auth={self.auth.label}:"
                f"{str(self.auth.value)[:60]} type={self.content_type} {self.encoding} body={self.body!r}")


def requests(world: World, endpoint: Endpoint) -> st.SearchStrategy[Request]:
    ids = path_ids(world.cast, endpoint.id_kind) if endpoint.id_kind else st.just("")
    if endpoint.body is None:
        body = st.one_of(st.none(), st.none(), st.none(), bodies(json_values))
    else:
        body = bodies(objects(endpoint.body))
    return st.builds(
        lambda i, q, a, b, c, e: Request(endpoint, endpoint.path.replace("{id}", i), q, a, b, c, e),
        ids, query_strings(endpoint.query), auths(world.cast), body, content_types, encodings,
    )


async def send(world: World, req: Request, self_token: str) -> httpx.Response:
    url = req.path + (f"?{req.query}" if req.query else "")
    headers = _headers(world, req.auth, self_token, req.content_type)
    if req.encoding.header is not None:
        headers["Content-Encoding"] = req.encoding.header
    return await world.api.request(req.endpoint.method, url, headers=headers,
                                   content=req.encoding.encode(req.body.content if req.body else None))


def is_self(req: Request) -> bool:
    return req.auth.label in ("self", "ann", "ann-bearer", "ann-bearer-lower")


async def fuzz_once(world: World, db: Any, log: LogWatch, req: Request, self_token: str) -> dict[str, Any] | None:
    """Send one request and apply the three oracles; the success body, or None if refused."""
    with log.step(req.label):
        before = await snapshot(db)
        r = await send(world, req, self_token)
        event(f"{req.endpoint.method} {req.endpoint.path} -> {r.status_code}")  # --hypothesis-show-statistics
        body = check_reply(r, req.label)
        if body is None:
            assert_unchanged(before, await snapshot(db), req.label)
    return body


def _check_user(data: Any, label: str) -> None:
    assert isinstance(data, dict) and OID.match(data.get("_id", "")), f"{label}: {data!r}"
    assert "password" not in data and "tokenHash" not in data, f"{label}: secrets in {data!r}"


def _check_issued(data: Any, label: str) -> None:
    _check_user(data, label)
    assert isinstance(data.get("token"), str) and data["token"], f"{label}: {data!r}"
    assert isinstance(data.get("tokenExpDate"), str), f"{label}: {data!r}"


def _check_page(body: dict[str, Any], label: str) -> None:
    page = body.get("pagination")
    assert isinstance(body.get("data"), list), f"{label}: {body!r}"
    assert isinstance(page, dict) and set(page) == {"totalResults", "totalPages", "page", "limit"}, label
    assert all(isinstance(v, int) and v >= 0 for v in page.values()), f"{label}: {page!r}"
    assert len(body["data"]) <= page["limit"], f"{label}: {len(body['data'])} > {page!r}"


NAMES = st.sampled_from(["Zed", " Amy ", "O'Neil", "Ünal", "李"]) | st.text(string.ascii_letters, min_size=1,
                                                                            max_size=20)
PASSWORDS = st.sampled_from([PASSWORD, "12345678", "x" * 72, "pässwörd!"])
PUSH_TOKENS = st.sampled_from([None, "", "device-1"])
ACCOUNT_TRICKS = ["", " ", "x" * 101, "a\x00b", "\ud800", "short", "é" * 40, "x" * 73, "x" * 1025, "x" * 4097,
                  "a@b", "x" * 250 + "@example.com", "ann@example.com\n", "@", "null"]


def fresh_emails() -> st.SearchStrategy[str]:
    return st.uuids().map(lambda u: f"z{u.hex[:10]}@example.com")


def auth_endpoints(world: World) -> list[Endpoint]:
    """Register, change-password, log-out and me; ``self`` is a fresh session of Ann per
    example (a log-out or a password change ends sessions; each example can still succeed)."""
    emails = [world.ann.email, world.ann.email.upper(), f" {world.bob.email} "]
    return [
        Endpoint("POST", AUTH + "/register", body=Form(
            required={"firstName": NAMES, "lastName": NAMES, "email": fresh_emails(), "password": PASSWORDS},
            optional={"notificationToken": PUSH_TOKENS}, tricky=ACCOUNT_TRICKS + emails)),
        Endpoint("PATCH", AUTH + "/change-password", body=Form(
            required={"currentPassword": st.just(world.password), "newPassword": PASSWORDS},
            tricky=ACCOUNT_TRICKS + [PASSWORD, "wrong password"])),
        Endpoint("POST", AUTH + "/log-out"),
        Endpoint("GET", AUTH + "/me"),
    ]


async def _login(world: World, email: str, password: str) -> str:
    r = await world.api.post(AUTH + "/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["data"]["token"]
    return token


@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
async def test_auth_endpoints_answer_every_request(world: World, db: Any, server_log: LogWatch,
                                                   data: st.DataObject) -> None:
    def draw() -> Request:
        endpoint = data.draw(st.sampled_from(auth_endpoints(world)), label="endpoint")
        return data.draw(requests(world, endpoint), label="request")

    async def run(req: Request) -> None:
        fresh = await _login(world, world.ann.email, world.password)
        body = await fuzz_once(world, db, server_log, req, fresh)
        if body is not None:
            _check_auth_success(world, req, body)

    await session(data, draw, run)


def _check_auth_success(world: World, req: Request, body: dict[str, Any]) -> None:
    label, path = req.label, req.endpoint.path
    sent = req.body.value if req.body else None
    if path.endswith("/register"):
        _check_issued(body["data"], label)
        assert isinstance(sent, dict) and body["data"]["email"] == sent["email"].strip().lower(), label
    elif path.endswith("/change-password"):
        _check_issued(body["data"], label)
        if is_self(req):  # Ann's password now
            assert isinstance(sent, dict), label
            world.password = sent["newPassword"]
    elif path.endswith("/log-out"):
        assert body == {"success": True, "message": "Logged out"}, label
    else:
        _check_user(body["data"], label)
        if is_self(req):
            assert body["data"]["_id"] == world.ann.id, label


@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
async def test_login_answers_every_request(world: World, db: Any, server_log: LogWatch,
                                           data: st.DataObject) -> None:
    """Login on its own server: its throttle (429 after repeated failures) is meant to
    lock the fuzzer out, which would starve the other auth endpoints of fresh sessions."""
    emails = [world.ann.email, world.bob.email, world.cat.email]
    endpoint = Endpoint("POST", AUTH + "/login", body=Form(
        required={"email": st.sampled_from(emails), "password": st.just(PASSWORD)},
        optional={"notificationToken": PUSH_TOKENS},
        tricky=ACCOUNT_TRICKS + ["wrong password", "nobody@example.com", world.ann.email.upper(),
                                 f"  {world.bob.email}  "]))
    async def run(req: Request) -> None:
        body = await fuzz_once(world, db, server_log, req, world.ann.token)
        if body is not None:
            sent = req.body.value if req.body else None
            _check_issued(body["data"], req.label)
            assert body["data"]["_id"] in world.user_ids(), req.label
            assert isinstance(sent, dict) and body["data"]["email"] == sent["email"].strip().lower(), req.label

    await session(data, lambda: data.draw(requests(world, endpoint), label="request"), run)


def _strings(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


PAGE, LIMIT = _strings("1", "2", "3"), _strings("1", "5", "20", "100")
SEARCH = _strings("", "ann", "Bob", "hello", "o", "a b", "LEE")
N_MESSAGES = _strings("0", "1", "5", "100")
DATE = _strings("2020-01-01", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00.000Z", "2024-06-01T12:00:00+02:00")
CHAT_ENDPOINTS = [
    Endpoint("GET", "/api/v1/chats", query=Form({}, {"page": PAGE, "limit": LIMIT, "search": SEARCH,
                                                     "noOfMessages": N_MESSAGES})),
    Endpoint("GET", "/api/v1/chats/{id}", id_kind="chat", query=Form({}, {"noOfMessages": N_MESSAGES})),
    Endpoint("GET", "/api/v1/chats/{id}/messages", id_kind="chat", query=Form({}, {
        "page": PAGE, "limit": LIMIT, "search": SEARCH, "startDate": DATE, "endDate": DATE})),
    Endpoint("GET", "/api/v1/chats/users", query=Form({}, {"page": PAGE, "limit": LIMIT, "search": SEARCH})),
    Endpoint("PATCH", "/api/v1/chats/clear/{id}", id_kind="chat"),
    Endpoint("POST", "/api/v1/actions/{id}/block", id_kind="user"),
    Endpoint("POST", "/api/v1/actions/{id}/unblock", id_kind="user"),
    Endpoint("GET", "/healthz"),
]


async def keep_our_chat(world: World, db: Any) -> None:
    """Give Ann and Bob a chat again once a fuzzed clear deleted theirs for good (both
    cleared it), so that later examples still reach a chat with messages."""
    if await db["chats"].find_one({"_id": ObjectId(world.our_chat)}) is not None:
        return
    for account, other in ((world.ann, world.bob), (world.bob, world.ann)):  # blocks stop messages
        r = await world.api.post(f"/api/v1/actions/{other.id}/unblock", headers=account.headers)
        assert r.status_code == 200, r.text
    sent = await world.bob_socket.send("hello again", other_user_id=world.ann.id)
    world.cast.ids["chat"][0] = sent["chat"]
    world.cast.ids["message"][:0] = [sent["_id"]]


@FUZZ
@given(data=st.data())
async def test_chat_endpoints_answer_every_request(world: World, db: Any, server_log: LogWatch,
                                                   data: st.DataObject) -> None:
    def draw() -> Request:
        endpoint = data.draw(st.sampled_from(CHAT_ENDPOINTS), label="endpoint")
        return data.draw(requests(world, endpoint), label="request")

    async def run(req: Request) -> None:
        body = await fuzz_once(world, db, server_log, req, world.ann.token)
        for peer in (world.ann_socket, world.bob_socket):
            peer.drain()
        if body is not None:
            _check_chat_success(req, body)
        await keep_our_chat(world, db)  # before the next step is drawn

    await keep_our_chat(world, db)
    await session(data, draw, run)


def _check_chat_success(req: Request, body: dict[str, Any]) -> None:
    label, path = req.label, req.endpoint.path
    if path in ("/api/v1/chats", "/api/v1/chats/users", "/api/v1/chats/{id}/messages"):
        _check_page(body, label)
    elif path == "/api/v1/chats/{id}":
        chat = body["data"]
        assert chat["_id"] == req.path.rsplit("/", 1)[1].lower(), label
        assert isinstance(chat["messages"], list) and isinstance(chat["to"], dict), label
    elif path.startswith("/api/v1/chats/clear"):
        assert body == {"success": True, "message": "Chat cleared", "data": {"deleted": body["data"]["deleted"]}}
        assert isinstance(body["data"]["deleted"], bool), label
    elif path.startswith("/api/v1/actions"):
        assert isinstance(body["data"], dict) and all(isinstance(v, bool) for v in body["data"].values()), label
        assert body["message"] in ("User blocked", "User unblocked"), label
    else:
        assert body == {"success": True, "status": "ok", "database": "ok"}, label


ALL_PATHS = [e.path for e in CHAT_ENDPOINTS] + [
    AUTH + "/register", AUTH + "/login", AUTH + "/change-password", AUTH + "/log-out", AUTH + "/me",
    "/", "/api", "/api/v1", "/api/v1/chats/{id}/messages/{id}", "/api/v1/actions/{id}", "/api/v1/media/{id}",
    "/api/v1/users/auth/", "/API/V1/CHATS", "/api/v1/chats/%2e%2e/users",
]


@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
async def test_any_method_on_any_path_gets_a_json_answer(world: World, db: Any, server_log: LogWatch,
                                                         data: st.DataObject) -> None:
    """Wrong methods (405), unknown paths (404) and stray segments answer like the API does."""
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]))
    path = data.draw(st.sampled_from(ALL_PATHS), label="path")
    endpoint = Endpoint(method, path, id_kind="chat" if "{id}" in path else None,
                        query=Form({}, {"page": PAGE, "search": SEARCH}))
    req = data.draw(requests(world, endpoint), label="request")
    await fuzz_once(world, db, server_log, req, world.ann.token)


# --- Socket.IO -----------------------------------------------------------------------------


def event_forms(world: World) -> dict[str, list[Form]]:
    """What each client event takes: valid payloads, and tricky values that pass the type
    check (someone else's chat, an unknown id, my own id, limits plus one)."""
    ids = world.cast.ids
    tricky = [ids["chat"][1], UNKNOWN_ID, world.ann.id, world.bob.id, ids["message"][0], "bad", "", " ",
              "x" * 4097, "x" * 129, "Label", "image", "video", "\x00", "\ud800"]
    content = st.sampled_from(["hi", " padded ", "😀", "x" * 4096]) | st.text(min_size=1, max_size=30).filter(
        str.strip)
    send = {"type": st.just("text"), "clientId": st.uuids().map(str) | st.just("same-retry")}
    chat_only = [Form({"chatId": st.just(world.our_chat)}, tricky=tricky)]
    return {
        "new-message": [
            Form({"content": content, "chatId": st.just(world.our_chat)}, send, tricky),
            Form({"content": content, "otherUserId": st.sampled_from([world.bob.id, world.cat.id])}, send,
                 tricky),
        ],
        "typing": chat_only, "stop-typing": chat_only, "join-chat": chat_only, "leave-chat": chat_only,
        # Bob's reply to Ann (hers to mark delivered), and Ann's own first message
        "message-delivered": [Form({"messageId": st.sampled_from(ids["message"][:2])}, tricky=tricky)],
    }


@dataclass(frozen=True)
class Emit:
    name: Any
    args: Any

    def __repr__(self) -> str:
        return f"emit {self.name!r:.80} {self.args!r:.300}"


def emits(world: World) -> st.SearchStrategy[Emit]:
    forms = event_forms(world)
    known = st.sampled_from(sorted(forms)).flatmap(
        lambda name: event_args(objects(forms[name], socket_values)).map(lambda args: Emit(name, args)))
    odd = st.builds(Emit, st.sampled_from([*ODD_EVENT_NAMES, *NON_STRING_NAMES]) | st.text(max_size=20),
                    event_args(socket_values))
    return st.one_of(known, known, known, odd)


def _check_ack(world: World, emit: Emit, ack: Any, label: str) -> bool:
    """True for a success ack (in the contract's shape), False for a failed one."""
    assert isinstance(ack, dict) and isinstance(ack.get("success"), bool), f"{label}: ack {ack!r}"
    if ack["success"] is False:
        assert set(ack) == {"success", "message"}, f"{label}: ack {ack!r}"
        assert isinstance(ack["message"], str) and ack["message"].strip(), f"{label}: ack {ack!r}"
        return False
    if emit.name == "new-message":
        message = ack.get("message")
        assert set(ack) == {"success", "message"} and isinstance(message, dict), f"{label}: ack {ack!r}"
        sent = emit.args[0] if isinstance(emit.args, tuple) else emit.args  # extra arguments are ignored
        assert OID.match(message["_id"]) and message["isMyMsg"] is True, f"{label}: ack {ack!r}"
        retried = world.client_ids.get(sent.get("clientId", ""))
        if retried is not None:  # a retry: the ack returns the message stored the first time
            assert message["_id"] == retried, f"{label}: a retry stored a second message: {ack!r}"
        else:
            assert message["content"] == sent["content"], f"{label}: ack {ack!r}"
            if "clientId" in sent:
                world.client_ids[sent["clientId"]] = message["_id"]
    else:
        assert ack == {"success": True}, f"{label}: ack {ack!r}"
    return True


def _stat(text: str) -> str:
    """An event label for ``--hypothesis-show-statistics``, which must encode as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode()[:60]


@FUZZ
@given(data=st.data())
async def test_socket_events_are_all_answered(world: World, db: Any, server_log: LogWatch,
                                              data: st.DataObject) -> None:
    await session(data, lambda: data.draw(emits(world), label="emit"),
                  lambda emit: emit_once(world, db, server_log, emit))


async def emit_once(world: World, db: Any, log: LogWatch, emit: Emit) -> None:
    """Emit as Ann with an ack and apply the oracles: answered, shaped, nothing dropped,
    nothing changed by a refusal, nothing logged."""
    label = repr(emit)
    peer = world.ann_socket
    with log.step(label):
        before = await snapshot(db)
        try:
            ack = await peer.sio.call(emit.name, emit.args, timeout=ACK_TIMEOUT)
        except Exception as exc:  # the client's TimeoutError, or a dropped connection
            raise AssertionError(f"{label}: no ack within {ACK_TIMEOUT}s ({exc!r})") from None
        ok = _check_ack(world, emit, ack, label)
        event(_stat(f"{emit.name!r:.30} -> {'ok' if ok else ack['message'][:40]}"))
        if ok:
            assert not peer.pending("error"), f"{label}: succeeded, yet error events {peer.pending('error')!r}"
        else:
            error = await peer.next("error", timeout=3, match=lambda e: e.get("message") == ack["message"])
            assert is_error_event(error) and set(error) == {"message"}, f"{label}: error event {error!r}"
            assert_unchanged(before, await snapshot(db), label)
        assert peer.connected and world.bob_socket.connected, f"{label}: a connection dropped"
    for p in (peer, world.bob_socket):
        p.drain()


@settings(FUZZ, max_examples=25 * SCALE)
@given(data=st.data())
async def test_socket_handshakes_are_accepted_or_refused_with_a_reason(
        world: World, db: Any, server_log: LogWatch, server: RunningServer, data: st.DataObject) -> None:
    """Any ``authorization`` header and any ``auth`` payload: the socket connects (a good
    token) or is refused with a ``connect_error`` reason; never a hang, never a 5xx."""
    auth = data.draw(auths(world.cast, raw_bytes=False), label="header")
    header = _headers(world, auth, world.ann.token, None).get("Authorization")
    payload = data.draw(st.one_of(
        st.none(), socket_values, socket_values.map(lambda v: {"token": v}),
        st.sampled_from(sorted(world.cast.tokens.values())).map(lambda t: {"token": t})), label="auth payload")
    transport = data.draw(st.sampled_from(["websocket", "websocket", "websocket", "polling"]), label="transport")
    label = f"connect header={header!r:.100} auth={payload!r:.200} via {transport}"
    with server_log.step(label):
        before = await snapshot(db)
        accepted, reason = await handshake(server.url, header, payload, transport, label)
        event(f"{transport} {'accepted' if accepted else 'refused'}")
        if not accepted:
            assert isinstance(reason, dict) and isinstance(reason.get("message"), str), f"{label}: {reason!r}"
            assert reason["message"].strip(), f"{label}: refused without a reason"
            assert_unchanged(before, await snapshot(db), label)


async def handshake(url: str, header: Any, auth: Any, transport: str, label: str) -> tuple[bool, Any]:
    """``(True, None)`` if the server accepted the socket, ``(False, connect_error data)``
    if it refused it.

    This waits for the server's answer, not for the client to finish: python-socketio's
    client, refused over long-polling, only gives up after its pending poll times out
    (~30 s, the same against a bare python-socketio server), although the refusal itself
    arrives at once.
    """
    peer = Peer(socketio.AsyncClient(reconnection=False), "handshake")
    refusals: list[Any] = []
    refused = asyncio.Event()

    def on_refusal(data: Any = None) -> None:
        refusals.append(data)
        refused.set()

    peer.sio.on("connect_error", on_refusal)
    connecting = asyncio.ensure_future(peer.sio.connect(
        url, headers={"authorization": header} if header is not None else {}, auth=auth,
        transports=[transport], wait_timeout=5))
    waiting = asyncio.ensure_future(refused.wait())
    try:
        done, _ = await asyncio.wait({connecting, waiting}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert done, f"{label}: neither accepted nor refused within 10s"
        if refused.is_set():
            return False, refusals[0]
        connecting.result()  # a failure other than a refusal surfaces here
        return True, None
    finally:
        waiting.cancel()
        if not connecting.done():  # refused over polling: the client still waits on its poll
            connecting.cancel()
            http = getattr(peer.sio.eio, "http", None)
            if http is not None and not http.closed:
                await http.close()  # ends that poll, so the cancelled connect can finish
            await asyncio.wait({connecting}, timeout=5)
        if connecting.done() and not connecting.cancelled():
            connecting.exception()  # retrieved: a refusal is an answer here, not an error
        await asyncio.wait_for(peer.close(), 5)


# --- regressions the fuzzing found ------------------------------------------------------------


async def test_a_body_that_is_not_in_its_content_encoding_is_a_400(api: httpx.AsyncClient, make_user: Any,
                                                                    db: Any, server_log: LogWatch) -> None:
    """``Content-Encoding: gzip`` on bytes that are not gzip: a 400 (it was a 500 with a
    traceback), the connection closed after it, and nothing logged as an error, whether
    the route reads the body or not."""
    ann = await make_user()
    before = await snapshot(db)
    for encoding in ("gzip", "deflate"):
        r = await api.post(AUTH + "/login", content=b'{"email": "x"}', headers={"Content-Encoding": encoding})
        assert_error(r, 400, "Request body could not be decoded (check its Content-Encoding)")
        assert r.headers.get("Connection") == "close"
    r = await api.patch(AUTH + "/change-password", content=b"\x00" * 100,
                        headers={"Content-Encoding": "gzip", **ann.headers})
    assert_error(r, 400, "Request body could not be decoded (check its Content-Encoding)")
    assert_unchanged(before, await snapshot(db), "undecodable bodies")
    # a route that never reads its body answers as usual
    r = await api.get(AUTH + "/me", headers={"Content-Encoding": "gzip", **ann.headers})
    assert r.status_code == 200 and r.json()["data"]["_id"] == ann.id
    r = await api.post("/api/v1/actions/" + UNKNOWN_ID + "/block", content=b"not gzip",
                       headers={"Content-Encoding": "gzip", **ann.headers})
    assert_error(r, 404)
    r = await api.get("/healthz")
    assert r.status_code == 200
    server_log.check("undecodable bodies")


async def test_an_event_named_star_is_refused_like_any_unknown_event(pair: Any, server_log: LogWatch) -> None:
    """python-socketio hands an event literally named ``*`` to the catch-all handler as
    if it were that event's own handler, without the name: the payload became the sid,
    so ``*`` with Bob's user id sent Bob an ``error`` (and Ann's ack named her sid), and
    ``*`` with an object left Ann's ack hanging while the server logged a traceback."""
    ann, bob, a, b = pair
    ack = await a.emit_ack("*", bob.id)
    assert ack == {"success": False, "message": "Unknown event: *"}
    assert (await a.next("error")) == {"message": "Unknown event: *"}
    ack = await a.emit_ack("*", {"chatId": UNKNOWN_ID})
    assert ack == {"success": False, "message": "Unknown event: *"}
    await b.no_event("error")
    assert a.connected
    server_log.check("event named *")


async def test_an_event_named_by_a_lone_surrogate_is_answered(pair: Any, server_log: LogWatch) -> None:
    """Found by the fuzzing: a name like ``"\\ud800"`` (valid JSON, not valid UTF-8) was
    quoted back in the refusal, which the packet encoder could not write, so the ack
    never came. The refusal now goes out with the surrogate escaped."""
    ann, bob, a, b = pair
    ack = await a.emit_ack("\ud800", {"chatId": UNKNOWN_ID})
    assert ack == {"success": False, "message": "Unknown event: \ud800"}
    assert a.connected
    server_log.check("event named by a lone surrogate")
