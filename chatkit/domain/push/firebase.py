"""Delivering pushes through Firebase Cloud Messaging with ``firebase-admin``'s async API.

One FCM v1 request per device token (``messaging.send_each_async``, never a dry run).
Each notification carries the chat as its collapse key on both platforms, so a device
shows one notification per chat, the newest, instead of a pile.

Two choices differ from firebase-admin's defaults, and are made in one place
(``_tune``), checked at start so that a firebase-admin upgrade that moves what they
rely on fails the start loudly rather than the first push quietly:

- One retry loop, the outbox's: durable, visible to operators, surviving restarts.
  firebase-admin's own in-request retries (up to four, seconds apart) are switched off
  so that an outage does not hold a sender for seconds per token, multiplied.
- ``CHATKIT_FCM_ENDPOINT`` replaces Google's FCM base URL (a proxy, or a test double).

The OAuth access token is fetched (from the key file's ``token_uri``) on a worker
thread before sending: google-auth fetches it with blocking ``requests``, which must
not stall the event loop every server request runs on.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from pathlib import Path
from typing import Any

from chatkit.domain.push.backends import Notification, PushBackend, TokenOutcome
from chatkit.settings import SettingsError

GOOGLE_FCM = "https://fcm.googleapis.com"
BATCH = 500  # firebase-admin's most messages per send_each_async
TOKEN_FETCH_TIMEOUT = 30.0
REASON_LIMIT = 200

# FCM's own error codes, where firebase-admin maps them to a class
_FCM_CODES = {
    "UnregisteredError": "UNREGISTERED",
    "SenderIdMismatchError": "SENDER_ID_MISMATCH",
    "QuotaExceededError": "QUOTA_EXCEEDED",
    "ThirdPartyAuthError": "THIRD_PARTY_AUTH_ERROR",
}


class FirebaseBackend(PushBackend):
    name = "firebase"

    def __init__(self, credentials: Path, endpoint: str | None = None, timeout: float = 20.0) -> None:
        self.credentials = credentials
        self.endpoint = endpoint
        self.timeout = timeout
        self._app: Any = None
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        import firebase_admin
        from firebase_admin import credentials, messaging

        where = f"CHATKIT_FIREBASE_CREDENTIALS: {self.credentials}"
        try:
            cert = credentials.Certificate(str(self.credentials))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{where}: {_first_line(str(exc))}") from None
        # A name of its own: several servers (tests) may share one process.
        app = firebase_admin.initialize_app(cert, {"httpTimeout": self.timeout}, name=f"chatkit-{uuid.uuid4().hex}")
        try:
            _tune(messaging._get_messaging_service(app), self.endpoint, self.timeout)
        except BaseException:
            firebase_admin.delete_app(app)
            raise
        self._app = app

    async def close(self) -> None:
        import firebase_admin
        from firebase_admin import messaging

        app, self._app = self._app, None
        if app is None:
            return
        # Close the HTTP client on this loop; firebase-admin's own clean-up runs
        # ``asyncio.run`` (which cannot run inside a loop), so it goes to a thread, where
        # it finds the client already closed.
        await messaging._get_messaging_service(app)._async_client.aclose()
        await asyncio.to_thread(firebase_admin.delete_app, app)

    async def deliver(self, note: Notification, tokens: list[str]) -> list[TokenOutcome]:
        from firebase_admin import messaging

        try:
            await self._fresh_access_token()
        except Exception as exc:  # google-auth's RefreshError / TransportError, a timeout
            reason = f"OAuth token: {_first_line(str(exc)) or type(exc).__name__}"
            return [TokenOutcome(t, "retry", reason) for t in tokens]
        outcomes: list[TokenOutcome] = []
        for start in range(0, len(tokens), BATCH):
            chunk = tokens[start:start + BATCH]
            batch = await messaging.send_each_async([_message(note, t) for t in chunk], dry_run=False, app=self._app)
            outcomes += [_outcome(t, r) for t, r in zip(chunk, batch.responses, strict=True)]
        return outcomes

    async def _fresh_access_token(self) -> None:
        """Refresh the OAuth token off the event loop when it is (nearly) expired."""
        credential = self._app.credential.get_credential()
        async with self._token_lock:
            if credential.valid:
                return
            from google.auth.transport.requests import Request

            await asyncio.wait_for(asyncio.to_thread(credential.refresh, Request()), TOKEN_FETCH_TIMEOUT)


def _tune(service: Any, endpoint: str | None, timeout: float) -> None:
    """The two departures from firebase-admin's defaults (see the module docstring)."""
    from firebase_admin import _http_client, _retry

    needed = ("_fcm_url", "_async_client", "_credential")
    if not all(hasattr(service, name) for name in needed) or not str(service._fcm_url).startswith(GOOGLE_FCM):
        raise SettingsError("this firebase-admin version is not one chatkit knows how to drive; "
                            "install firebase-admin 7.x")
    service._async_client = _http_client.HttpxAsyncClient(
        credential=service._credential, timeout=timeout, retry_config=_retry.HttpxRetry(max_retries=0))
    if endpoint:
        service._fcm_url = endpoint.rstrip("/") + service._fcm_url[len(GOOGLE_FCM):]


def _message(note: Notification, token: str) -> Any:
    from firebase_admin import messaging

    key = note.collapse_key
    with warnings.catch_warnings():
        # Deprecated in favour of Firebase installation ids, but what the apps register
        # (``notificationToken``) are registration tokens, which FCM v1 takes as ``token``.
        warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)
        return messaging.Message(
            token=token,
            notification=messaging.Notification(title=note.title, body=note.body, image=note.image),
            data=note.data,
            android=messaging.AndroidConfig(
                collapse_key=key, priority="high",
                notification=messaging.AndroidNotification(tag=key, image=note.image),
            ),
            apns=messaging.APNSConfig(
                headers={"apns-collapse-id": key},
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(thread_id=key, mutable_content=True if note.image else None)),
                fcm_options=messaging.APNSFCMOptions(image=note.image) if note.image else None,
            ),
        )


def _outcome(token: str, response: Any) -> TokenOutcome:
    from firebase_admin import exceptions, messaging

    if response.success:
        return TokenOutcome(token, "sent")
    exc = response.exception
    reason = _reason(exc, token)
    if isinstance(exc, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        return TokenOutcome(token, "gone", reason)
    if isinstance(exc, exceptions.InvalidArgumentError) and "registration token" in str(exc).lower():
        return TokenOutcome(token, "gone", reason)
    transient = (exceptions.UnavailableError, exceptions.InternalError, exceptions.ResourceExhaustedError,
                 exceptions.DeadlineExceededError, exceptions.UnknownError, exceptions.UnauthenticatedError,
                 exceptions.AbortedError)
    if isinstance(exc, transient) and not isinstance(exc, messaging.ThirdPartyAuthError):
        return TokenOutcome(token, "retry", reason, _retry_after(exc))
    return TokenOutcome(token, "rejected", reason)


def _reason(exc: Any, token: str) -> str:
    code = _FCM_CODES.get(type(exc).__name__) or getattr(exc, "code", None) or type(exc).__name__
    text = _first_line(str(exc)).replace(token, "<token>")
    return f"{code}: {text}"[:REASON_LIMIT] if text else str(code)


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
