"""Shape checks for request bodies and Socket.IO payloads: types, required, no extras.

What a value may *be* (lengths, formats) is the domain's rule; this module only makes
sure the domain is handed the types it expects, with a sentence naming the bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chatkit.domain.errors import BadRequest

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", type(None): "null"}


@dataclass(frozen=True)
class Schema:
    required: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)
    optional: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)

    def parse(self, payload: Any, what: str = "body") -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise BadRequest(f"The {what} must be a JSON object")
        for name in payload:
            if name not in self.required and name not in self.optional:
                raise BadRequest(f"Unexpected field: {str(name)[:64]}")
        out: dict[str, Any] = {}
        for name, typ in self.required.items():
            if name not in payload or payload[name] is None:
                raise BadRequest(f"{name} is required")
            out[name] = _typed(name, payload[name], typ)
        for name, typ in self.optional.items():
            if name in payload:
                out[name] = _typed(name, payload[name], typ)
        return out


def _typed(name: str, value: Any, typ: type | tuple[type, ...]) -> Any:
    types = typ if isinstance(typ, tuple) else (typ,)
    ok = any(
        isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in types
    )
    if not ok:
        expected = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
        raise BadRequest(f"{name} must be {expected}")
    if isinstance(value, str) and not _is_text(value):
        raise BadRequest(f"{name} must be valid Unicode text")
    return value


def _is_text(value: str) -> bool:
    """False for strings holding lone surrogates (``"\\ud800"`` is valid JSON).

    Such a string cannot be encoded as UTF-8, so bcrypt, BSON and JSON replies would all
    fail on it deep inside the domain; refusing it here keeps that a 400.
    """
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def int_param(raw: str | None, name: str, default: int, *, minimum: int = 1, maximum: int = 1000) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}")
    return value
