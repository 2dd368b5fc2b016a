"""The JSON codec of Socket.IO packets: orjson, speaking the contract's wire conventions.

python-socketio encodes every packet with a ``json``-like module (``dumps(data,
separators=...)``, ``loads(text)``). The standard library's encoder is a good share of
the CPU a message costs at full rate; orjson does the same work several times faster
and also spares the ``jsonable`` walk: ObjectIds and datetimes in a payload are turned
into the contract's strings here (``wire.iso``), as the encoder meets them.

Decoding keeps the standard library's answers for what orjson refuses but Python's
``json`` accepts (numbers beyond 64 bits, ``NaN``): orjson first, ``json`` if it
declines, so what counts as a malformed packet does not change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from bson import ObjectId

from chatkit.wire import iso

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS  # datetimes by wire.iso, as jsonable did
_MAX_INT_DIGITS = 100  # what python-engineio's own decoder allows; longer is refused


def _default(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _safe_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError("Integer is too large")
    return int(text)


class PacketJson:
    """The ``json`` module python-socketio's packets are given (only ``dumps`` and ``loads``)."""

    @staticmethod
    def dumps(data: Any, **_: Any) -> str:
        try:
            return orjson.dumps(data, default=_default, option=_OPTIONS).decode()
        except orjson.JSONEncodeError:
            # A lone surrogate, which only a client sends (an escaped "\ud800" in an event
            # name or payload) and which a refusal may quote back: orjson will not encode
            # it, the standard library escapes it. Anything else unencodable fails there too.
            return json.dumps(data, default=_default, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, so edge cases stay as they were
        return json.loads(text, parse_int=_safe_int)
