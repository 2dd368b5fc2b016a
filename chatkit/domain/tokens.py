"""JWTs as the original apps expect them: HS256, payload ``{userId, role, iat, exp}``.

A random ``jti`` is added so two logins in the same second still get distinct tokens
(and so distinct server-side sessions).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from chatkit.domain.errors import Unauthorized
from chatkit.protocol import Sentence

ALGORITHM = "HS256"
TOKEN_MAX = 4096  # ours are ~200 characters; anything far longer is not one of them


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime

    @property
    def hash(self) -> str:
        return token_hash(self.token)


@dataclass(frozen=True)
class Claims:
    user_id: str
    issued_at: int
    expires_at: int


class TokenCodec:
    """Issues and checks tokens; the secret is asked for only when first needed.

    ``secret`` may be a callable so that processes that never touch a token (the admin
    CLI) neither read nor create the secret file.
    """

    def __init__(self, secret: str | Callable[[], str], lifetime: timedelta) -> None:
        self._secret_source = secret
        self._secret_value: str | None = secret if isinstance(secret, str) else None
        self._lifetime = lifetime

    @property
    def _secret(self) -> str:
        if self._secret_value is None:
            assert callable(self._secret_source)
            self._secret_value = self._secret_source()
        return self._secret_value

    def issue(self, user_id: str) -> IssuedToken:
        issued = int(datetime.now(UTC).timestamp())
        expires = issued + int(self._lifetime.total_seconds())
        payload = {"userId": user_id, "role": "user", "iat": issued, "exp": expires,
                   "jti": secrets.token_hex(8)}
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM)
        return IssuedToken(token, datetime.fromtimestamp(expires, UTC))

    def decode(self, token: str) -> Claims:
        """Verify signature (HS256 only) and expiry, or raise ``Unauthorized``."""
        if len(token) > TOKEN_MAX:
            raise Unauthorized(Sentence.INVALID_TOKEN)
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM],
                options={"require": ["exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(Sentence.SESSION_EXPIRED) from None
        except (jwt.InvalidTokenError, ValueError):
            # ValueError: a header that is not UTF-8 text reaches us with surrogates,
            # which PyJWT fails to encode before it ever looks at the signature.
            raise Unauthorized(Sentence.INVALID_TOKEN) from None
        user_id, iat, exp = payload.get("userId"), payload.get("iat"), payload.get("exp")
        if not isinstance(user_id, str) or not isinstance(iat, int) or payload.get("role") != "user":
            raise Unauthorized(Sentence.INVALID_TOKEN)
        if not isinstance(exp, (int, float)):
            raise Unauthorized(Sentence.INVALID_TOKEN)
        return Claims(user_id, iat, int(exp))
