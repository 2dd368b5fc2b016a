"""chatkit's asyncio client library: the whole wire contract as typed methods and events.

``ChatClient`` is the entry point; the models, events and exceptions below are what
its methods return, publish and raise. Importing this package loads no server code
(no aiohttp server, no PyMongo): a client program needs only httpx and
python-socketio's client.
"""

from chatkit.client._client import ChatClient
from chatkit.client._events import (
    ChatEvent,
    ChatOpened,
    Connected,
    Disconnected,
    ErrorEvent,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    OnlineUsers,
    StoppedTyping,
    Typing,
)
from chatkit.client._exceptions import (
    AuthError,
    BadRequest,
    ChatkitError,
    Conflict,
    ConnectionLost,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Timeout,
    TransportError,
    UnsupportedMedia,
)
from chatkit.client._models import (
    BlockState,
    Chat,
    DirectoryEntry,
    Media,
    Message,
    Page,
    Peer,
    Session,
    User,
)
from chatkit.client._realtime import Backoff

__all__ = [
    "AuthError",
    "Backoff",
    "BadRequest",
    "BlockState",
    "Chat",
    "ChatClient",
    "ChatEvent",
    "ChatOpened",
    "ChatkitError",
    "Conflict",
    "Connected",
    "ConnectionLost",
    "DirectoryEntry",
    "Disconnected",
    "ErrorEvent",
    "Forbidden",
    "Media",
    "Message",
    "MessageDelivered",
    "MessageReceived",
    "MessagesSeen",
    "NotFound",
    "OnlineUsers",
    "Page",
    "PayloadTooLarge",
    "Peer",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Session",
    "StoppedTyping",
    "Timeout",
    "TransportError",
    "Typing",
    "UnsupportedMedia",
    "User",
]
