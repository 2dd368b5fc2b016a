"""Hypothesis strategies for fuzzing the wire: JSON values, bodies, query strings, path ids,
``Authorization`` headers and Socket.IO payloads.

The strategies know nothing about a running server. Values that only exist at run time
(ids of this test's users and chats, their tokens) come in through a :class:`Cast`, so a
test draws them with ``data.draw(strategy(cast))`` once its server is up.

Generated requests are always valid HTTP (httpx builds them): raw-protocol garbage is
the HTTP parser's business, not the application's, and is tested elsewhere.
"""

from __future__ import annotations

import gzip
import json
import string
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_from_bytes

from hypothesis import strategies as st

from tests.helpers.constants import UNKNOWN_ID

MB = 1024 * 1024

# --- JSON values -----------------------------------------------------------------------

# Strings a validator has to think about: empty, blank, control characters, NUL, RTL and
# zero-width characters, astral emoji, regex and MongoDB operator syntax, lone surrogates
# (valid JSON as "\ud800", invalid UTF-8 once written as raw bytes), and too long.
ODD_STRINGS: tuple[str, ...] = (
    "", " ", "\t\n", "\x00", "a\x00b", "\u202eevil", "\u200b", "😀" * 3, "İ", "ß" * 10,
    ".*", "^$", "(", "[", "\\", "a|b", "$gt", "$where", "{}", "null", "true", "0", "-1",
    "\ud800", "ok\udfffok", "x" * 4097, "é" * 201,
)
# Built lazily (never drawn byte by byte): a strategy that *generates* 100 000 characters
# would trip Hypothesis' data-size health check and be slow to shrink.
HUGE_STRINGS = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "é", "😀", "\ud800"]),
                         st.sampled_from([4097, 20_000, 100_000]))
OPERATOR_DICTS: tuple[dict[str, Any], ...] = (
    {"$gt": ""}, {"$ne": None}, {"$regex": ".*"}, {"$where": "1"}, {"$in": [UNKNOWN_ID]},
    {"$oid": UNKNOWN_ID}, {"$date": 0},
)

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from([0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(ODD_STRINGS), HUGE_STRINGS,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars | st.sampled_from(OPERATOR_DICTS),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10) | st.sampled_from(["$gt", "__proto__", "constructor", "_id", "\ud800"]),
        children, max_size=4),
    max_leaves=8,
)
# For Socket.IO: the same, kept well under the 1 MB packet limit (a larger packet is
# refused as too large, or past 4 MB the connection closed: transport guards with their
# own tests, see tests/test_packet_limits.py).
socket_values: st.SearchStrategy[Any] = json_values.filter(
    lambda v: len(json.dumps(v)) < 300_000)


@dataclass(frozen=True)
class Form:
    """The object a handler expects: for each field, values that pass; and ``tricky``
    values that a type check alone lets through (an unknown id, an over-long text)."""

    required: Mapping[str, st.SearchStrategy[Any]]
    optional: Mapping[str, st.SearchStrategy[Any]] = field(default_factory=dict)
    tricky: Sequence[Any] = ()

    def valid(self) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(dict(self.required), optional=dict(self.optional))

    def near_misses(self, anything: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[dict[str, Any]]:
        """A valid object with one change: a field dropped, a field given a tricky or an
        arbitrary value, or a stranger key added. Most bugs hide one step from the path."""
        keys = sorted({*self.required, *self.optional})
        bad = st.one_of(anything, st.sampled_from(list(self.tricky))) if self.tricky else anything
        strangers = st.text(max_size=12) | st.sampled_from(["isAdmin", "_id", "$set", "__proto__"])

        def one_change(d: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
            if not keys:
                return st.tuples(strangers, anything).map(lambda kv: {**d, kv[0]: kv[1]})
            changed = st.tuples(st.sampled_from(keys), bad).map(lambda kv: {**d, kv[0]: kv[1]})
            return st.one_of(
                changed, changed,
                st.sampled_from(keys).map(lambda k: {x: v for x, v in d.items() if x != k}),
                st.tuples(strangers, anything).map(lambda kv: {**d, kv[0]: kv[1]}),
            )

        return self.valid().flatmap(one_change)


def objects(forms: Form | Sequence[Form], anything: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[Any]:
    """What a client sends where one of ``forms`` is expected: valid (a success keeps the
    fuzz going somewhere), one step off (most examples), or anything at all."""
    forms = [forms] if isinstance(forms, Form) else list(forms)
    valid = st.one_of([f.valid() for f in forms])
    near = st.one_of([f.near_misses(anything) for f in forms])
    return st.one_of(valid, valid, near, near, near, anything)


# --- request bodies ----------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """A request body as bytes, with what it is (for the failure report) and, when it is
    a JSON encoding of a Python value, that value (to learn what a success changed)."""

    kind: str
    content: bytes | None
    value: Any = None

    def __repr__(self) -> str:
        shown = repr(self.value if self.kind.startswith("json") else self.content)
        return f"Body({self.kind}, {shown[:200]}{'...' if len(shown) > 200 else ''})"


def _json_bytes(value: Any, ascii_only: bool) -> bytes:
    # allow_nan: Python writes NaN/Infinity, which is not JSON but which Python's own
    # parser (the server's) accepts; "surrogatepass" writes a lone surrogate as the raw
    # (invalid UTF-8) bytes \xed\xa0\x80.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def bodies(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Body]:
    """Mostly ``value`` as a JSON body (escaped, or raw UTF-8); else no body, random bytes,
    JSON nested too deeply to parse, or a body over the 2 MiB limit."""
    as_json = value.map(lambda v: Body("json", _json_bytes(v, True), v))
    odd = st.one_of(
        value.map(lambda v: Body("json-raw-utf8", _json_bytes(v, False), v)),
        st.just(Body("none", None)),
        st.sampled_from([b"", b"  \n", b"{", b'{"a":1,}', b"\xff\xfe{}", b"\xef\xbb\xbf{}", b"{'a': 1}",
                         b"NaN", b"[" * 5000, b"[" * 100_000, b'{"a":' * 50_000]).map(lambda b: Body("raw", b)),
        st.binary(max_size=64).map(lambda b: Body("raw", b)),
        st.just(Body("too-large", b'{"a": "' + b"x" * (2 * MB + 10) + b'"}')),
    )
    return st.one_of(as_json, as_json, as_json, odd)


CONTENT_TYPES: tuple[str | None, ...] = (
    None, "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
    "application/octet-stream", "garbage", "*/*",
)
content_types = st.sampled_from(CONTENT_TYPES)


@dataclass(frozen=True)
class Encoding:
    """A ``Content-Encoding`` header, and whether the body really is encoded that way."""

    header: str | None
    applied: bool = False

    def encode(self, content: bytes | None) -> bytes | None:
        if content is None or not self.applied:
            return content
        if self.header in ("gzip", "x-gzip"):
            return gzip.compress(content)
        if self.header == "deflate":
            return zlib.compress(content)
        return content


# Mostly none; else one that matches the body, one that lies about it (bytes that are not
# gzip under "gzip"), or one aiohttp does not know.
encodings = st.one_of(
    st.just(Encoding(None)), st.just(Encoding(None)), st.just(Encoding(None)),
    st.builds(Encoding, st.sampled_from(["gzip", "x-gzip", "deflate", "identity", "br", "zstd", "gzip, deflate",
                                         "bogus"]), st.booleans()),
)


# --- query strings and path segments -------------------------------------------------------

NUMBERS: tuple[str, ...] = (
    "1", "2", "20", "100", "101", "0", "-1", "1000001", "1.5", "1e3", " 3 ", "+4", "0x10", "1_0", "٣",
    "9" * 30, "9" * 1000, "NaN", "inf", "", "abc", "%", "1,2",
)
DATES: tuple[str, ...] = (
    "2024-01-01", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123+05:30", "2099-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01",
    "2024-13-01", "2024-02-30", "yesterday", "1700000000", "2024-01-01T25:00", "2024-01-01T00:00:00+24:00",
    "2024-W01", "", " ", "Z",
)


def _quoted(value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return quote_from_bytes(raw, safe="")


# Query values stay short enough for the request line (aiohttp's parser stops at 8 KiB,
# with its own error: a protocol matter, not the API's): the long ones just pass the limits.
query_values: st.SearchStrategy[str | bytes] = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(DATES), st.text(max_size=20),
    st.sampled_from([s for s in ODD_STRINGS if len(s) < 100] + ["x" * 201, "é" * 201, "(" * 150]),
    st.sampled_from([b"\xed\xa0\x80", b"\xff", b"%", b"%zz", b"a\x00b"]),
)


def _encode_query(pairs: Sequence[tuple[str, str | bytes]]) -> str:
    return "&".join(f"{quote(k, safe='')}={_quoted(v)}" for k, v in pairs)


def query_strings(form: Form) -> st.SearchStrategy[str]:
    """A raw query string for an endpoint taking ``form``'s parameters (string values):
    valid, one parameter off, or random pairs (repeated keys, strangers, empty values,
    percent-encoded bytes that are not UTF-8); at most a few KiB."""
    names = sorted({*form.required, *form.optional})
    as_pairs = lambda d: _encode_query(sorted(d.items()))  # noqa: E731
    valid = form.valid().map(as_pairs)
    near = form.near_misses(query_values).map(as_pairs)
    pair = st.tuples(st.sampled_from([*names, *names, "foo", "$where", "page[$gt]", ""]), query_values)
    return st.one_of(valid, valid, near, near, st.lists(pair, max_size=4).map(_encode_query))


def bad_ids() -> st.SearchStrategy[str]:
    """Path segments that are not ids (percent-encoded, so they stay one segment)."""
    return st.one_of(
        st.sampled_from([
            UNKNOWN_ID, UNKNOWN_ID.upper(), UNKNOWN_ID[:-1], UNKNOWN_ID + "0", "g" * 24, "0" * 24, "f" * 24,
            "null", "undefined", "%00", "%24gt", "%ED%A0%80", "%FF", "..", "me", "%20" + UNKNOWN_ID, "x" * 1000,
        ]),
        st.text(min_size=1, max_size=30).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")),
    )


# --- who is calling -------------------------------------------------------------------------


@dataclass
class Cast:
    """This test's people and things, as the strategies refer to them.

    ``ids`` groups ids by what they name (``"chat"``, ``"user"``, ``"message"``) so that a
    path draws mostly from the right kind and sometimes from the wrong one. ``tokens``
    maps a label to a ready ``Authorization`` value; the label ``"self"`` is resolved by
    the test itself (it may need a fresh session per example).
    """

    ids: dict[str, list[str]]
    tokens: dict[str, str] = field(default_factory=dict)

    def all_ids(self) -> list[str]:
        return [i for group in self.ids.values() for i in group]


def path_ids(cast: Cast, kind: str) -> st.SearchStrategy[str]:
    """Mostly an id of the right kind (``cast.ids[kind][0]`` first), else another kind's, or no id."""
    right = st.sampled_from(cast.ids[kind])
    return st.one_of(st.just(cast.ids[kind][0]), right, right, st.sampled_from(cast.all_ids()), bad_ids())


def _header_safe(raw: bytes) -> bytes:
    # h11 (under httpx) refuses control characters and outer whitespace in a value:
    # those are protocol errors, not requests the application sees.
    return bytes(b for b in raw if b >= 0x20 and b != 0x7F).strip(b" ")


@dataclass(frozen=True)
class Auth:
    """An ``Authorization`` choice: a label of the cast's tokens, a literal value, or none."""

    label: str
    value: str | bytes | None = None


def auths(cast: Cast, *, raw_bytes: bool = True) -> st.SearchStrategy[Auth]:
    """Mostly ``self`` (the caller the test is about), then every other kind of token:
    another user's, forged, expired, logged out, garbage, bytes that are not text, none."""
    labels = ["self", *cast.tokens]
    printable = st.text(string.ascii_letters + string.digits + string.punctuation + " ", max_size=40)
    others = [
        st.sampled_from(labels).map(Auth),
        st.sampled_from(["", "Bearer", "bearer", "Bearer  a.b.c", "Basic YWxhZGRpbjpvcGVu", "null", "undefined",
                         "x" * 5000, "a.b.c", "Bearer a.b.c", "eyJhbGciOiJub25lIn0.e30."]).map(
            lambda v: Auth("literal", v)),
        printable.map(lambda t: Auth("literal", t.strip())),
        st.just(Auth("missing")),
    ]
    if raw_bytes:
        others.append(st.binary(max_size=40).map(lambda b: Auth("literal-bytes", _header_safe(b))))
    return st.one_of(st.just(Auth("self")), st.just(Auth("self")), st.one_of(others))


# --- Socket.IO -------------------------------------------------------------------------------

# Names the server must refuse without dispatching: python-socketio's lifecycle names,
# plus the client-side ones, names of server->client events, and strangers.
ODD_EVENT_NAMES: tuple[str, ...] = (
    "connect", "disconnect", "connect_error", "disconnecting", "message", "error", "new-chat",
    "online-users", "messages-seen", "*", "", " ", "NEW-MESSAGE", "new_message", "\ud800", "x" * 5000,
)
NON_STRING_NAMES: tuple[Any, ...] = (None, 0, 7, True, 1.5, [], ["new-message"], {}, {"a": 1}, b"new-message")


def event_args(payload: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An event's arguments as ``AsyncClient.call`` takes them: mostly one value; else
    none (``None``), several (a tuple), or binary data (an attachment packet)."""
    odd = st.one_of(
        st.none(),
        st.tuples(payload, payload),
        st.binary(max_size=16),
        payload.map(lambda p: {**p, "blob": b"\x00\x01"} if isinstance(p, dict) else p),
    )
    return st.one_of(payload, payload, payload, odd)
