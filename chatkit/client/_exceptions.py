"""Every failure of the client is one exception of this tree, carrying the server's words.

The hierarchy::

    ChatkitError                  message (the server's sentence), status (HTTP, or None)
    ├── BadRequest                400: the input broke a rule
    │   ├── PayloadTooLarge       413: a body, upload or image over its limits
    │   └── UnsupportedMedia      415: an upload that is not a JPEG, PNG, GIF or WebP image
    ├── AuthError                 401, a refused socket, a socket the server closed for
    │                             a session or account reason: log in again
    ├── Forbidden                 403: registration closed; writing to a blocked,
    │                             banned or deactivated user
    ├── NotFound                  404: missing, or not yours (the server says the same)
    ├── Conflict                  409: the email is already registered
    ├── RateLimited               429: too many failed logins (``retry_after`` seconds)
    ├── ServerError               5xx: the server's fault
    │   └── ServiceUnavailable    503 / a ``retryable`` socket failure: send it again
    ├── ProtocolError             the server answered something the contract does not allow
    └── TransportError            no answer at all
        ├── ConnectionLost        not connected, or the connection could not be restored
        └── Timeout               no answer in time

Methods return models or raise one of these, never a ``(result, error)`` pair: the
caller writes the happy path and catches what it can handle (``except NotFound``).
A REST failure and the same failure over Socket.IO raise the same class, so a
caller need not know which transport a method uses.
"""

from __future__ import annotations

from chatkit.protocol import Sentence


class ChatkitError(Exception):
    """The root: ``message`` is meant for the user, ``status`` is the HTTP status (if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class BadRequest(ChatkitError):
    """The request broke a rule of the contract (400); nothing was changed."""


class PayloadTooLarge(BadRequest):
    """A body, an upload or an image over the server's limits (413)."""


class UnsupportedMedia(BadRequest):
    """An upload that is not an image the server accepts (415)."""


class AuthError(ChatkitError):
    """No usable session (401): a bad password, or a token that ended. Log in again."""


class Forbidden(ChatkitError):
    """Allowed for nobody in this situation (403), e.g. writing to a blocked user."""


class NotFound(ChatkitError):
    """No such chat, message, user or image, or one you take no part in (404)."""


class Conflict(ChatkitError):
    """The request clashes with what exists (409): the email is already registered."""


class RateLimited(ChatkitError):
    """Too many attempts (429); ``retry_after`` is the wait in seconds, when the server says."""

    def __init__(self, message: str, status: int | None = 429, retry_after: int | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ServerError(ChatkitError):
    """The server failed (5xx); the request itself may have been fine."""


class ServiceUnavailable(ServerError):
    """The server could not reach its database (503), or a socket event failed with
    ``retryable``: the same request may be sent again (a send keeps its ``clientId``)."""


class ProtocolError(ChatkitError):
    """The server's reply does not have the shape the contract promises."""


class TransportError(ChatkitError):
    """No answer from the server at all."""


class ConnectionLost(TransportError):
    """Not connected, or the connection dropped and could not be restored."""


class Timeout(TransportError):
    """No answer within the client's timeout. For a send, ``client_id`` says which one:
    sending again with that ``client_id`` stores the message at most once."""

    def __init__(self, message: str, status: int | None = None, client_id: str | None = None) -> None:
        super().__init__(message, status)
        self.client_id = client_id


# Sentences that mean "this session is over": never retried with the same token.
AUTH_SENTENCES = frozenset({
    Sentence.AUTH_REQUIRED, Sentence.INVALID_TOKEN, Sentence.SESSION_EXPIRED, Sentence.SESSION_ENDED,
    Sentence.PASSWORD_CHANGED, Sentence.ACCOUNT_NOT_FOUND, Sentence.ACCOUNT_BLOCKED,
    Sentence.ACCOUNT_DEACTIVATED,
})

_BY_STATUS: dict[int, type[ChatkitError]] = {
    400: BadRequest, 401: AuthError, 403: Forbidden, 404: NotFound, 405: BadRequest, 409: Conflict,
    413: PayloadTooLarge, 415: UnsupportedMedia, 429: RateLimited, 503: ServiceUnavailable,
}

# A failed socket ack carries a sentence but no status: the status REST gives the same sentence.
_SOCKET_STATUS: dict[str, int] = {
    Sentence.CHAT_NOT_FOUND: 404, Sentence.MESSAGE_NOT_FOUND: 404, Sentence.USER_NOT_FOUND: 404,
    Sentence.BLOCKED: 403, Sentence.USER_UNAVAILABLE: 403,
    **{sentence: 401 for sentence in AUTH_SENTENCES},
}


def for_status(status: int, message: str, *, retry_after: int | None = None) -> ChatkitError:
    """The exception for a failed REST reply."""
    if status == 429:
        return RateLimited(message, status, retry_after)
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else ChatkitError
    return kind(message, status)


def for_failed_ack(message: str, *, retryable: bool = False) -> ChatkitError:
    """The exception for a failed Socket.IO ack ``{success: false, message, retryable?}``."""
    if retryable:
        return ServiceUnavailable(message, 503)
    if message == Sentence.NOT_CONNECTED:
        return ConnectionLost(message)
    return for_status(_SOCKET_STATUS.get(message, 400), message)
