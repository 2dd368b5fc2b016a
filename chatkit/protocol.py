"""The contract's words, once: Socket.IO event names, REST paths, and the sentences a client sees.

The server, the client library and the tests all name events, paths and error
sentences through this module, so a literal can never drift from its twin. Changing a
value here changes the wire: apps written for the original backend match on these.
"""

from __future__ import annotations

from typing import Final


class Event:
    """Socket.IO event names, both directions (some names travel both ways)."""

    # client -> server
    NEW_MESSAGE: Final = "new-message"
    JOIN_CHAT: Final = "join-chat"
    LEAVE_CHAT: Final = "leave-chat"
    # both ways: a client says "my device has it", the sender is told it was delivered
    MESSAGE_DELIVERED: Final = "message-delivered"
    TYPING: Final = "typing"
    STOP_TYPING: Final = "stop-typing"
    # server -> client
    MESSAGE: Final = "message"
    NEW_CHAT: Final = "new-chat"
    MESSAGES_SEEN: Final = "messages-seen"
    ONLINE_USERS: Final = "online-users"
    ERROR: Final = "error"

    # python-socketio's own lifecycle names: never an application event from the wire
    RESERVED: Final = frozenset({"connect", "disconnect", "connect_error", "disconnecting"})


class Rest:
    """REST paths; ``{id}`` is a 24-hex ObjectId."""

    AUTH: Final = "/api/v1/users/auth"
    REGISTER: Final = AUTH + "/register"
    LOGIN: Final = AUTH + "/login"
    CHANGE_PASSWORD: Final = AUTH + "/change-password"
    LOG_OUT: Final = AUTH + "/log-out"
    ME: Final = AUTH + "/me"
    VERIFY_ACCOUNT: Final = AUTH + "/verify-account"
    SEND_OTP: Final = AUTH + "/send-otp"
    VERIFY_OTP: Final = AUTH + "/verify-otp"
    CHATS: Final = "/api/v1/chats"
    CHAT_USERS: Final = CHATS + "/users"
    CHAT: Final = CHATS + "/{id}"
    CHAT_MESSAGES: Final = CHATS + "/{id}/messages"
    CLEAR_CHAT: Final = CHATS + "/clear/{id}"
    BLOCK: Final = "/api/v1/actions/{id}/block"
    UNBLOCK: Final = "/api/v1/actions/{id}/unblock"
    LANG: Final = "/api/v1/actions/lang"
    MEDIA: Final = "/api/v1/media/{id}"
    HEALTHZ: Final = "/healthz"
    OPENAPI: Final = "/api/v1/openapi.json"


class Sentence:
    """Fixed sentences of replies, ``error`` events, failed acks and refused sockets."""

    # authentication (REST 401, refused sockets, sockets closed by an operator)
    AUTH_REQUIRED: Final = "Authentication required"
    INVALID_TOKEN: Final = "Invalid token"
    SESSION_EXPIRED: Final = "Session expired, please login again"
    SESSION_ENDED: Final = "Session ended, please login again"
    PASSWORD_CHANGED: Final = "Password changed, please login again"
    ACCOUNT_NOT_FOUND: Final = "Account not found"
    ACCOUNT_BLOCKED: Final = "Account blocked"
    ACCOUNT_DEACTIVATED: Final = "Account deactivated"
    BAD_LOGIN: Final = "Incorrect email or password"
    BAD_CURRENT_PASSWORD: Final = "Current password is incorrect"
    REGISTRATION_CLOSED: Final = "Registration is closed; ask an administrator for an account"
    EMAIL_TAKEN: Final = "Email is already registered"
    # accounts by email (one-time codes)
    BAD_CODE: Final = "Invalid or expired code"
    MAIL_UNAVAILABLE: Final = "Email is not configured on this server"
    CODE_REQUIRED: Final = "Give the code as code (or otp)"
    UNKNOWN_LANG: Final = "lang must be en or ar"
    # chats and messages
    BLOCKED: Final = "You can't send a message to a blocked user"
    USER_UNAVAILABLE: Final = "This user is not available"
    NOT_TO_YOURSELF: Final = "You can't send a message to yourself"
    ONE_TARGET: Final = "Give exactly one of chatId and otherUserId"
    CHAT_NOT_FOUND: Final = "Chat not found"
    MESSAGE_NOT_FOUND: Final = "Message not found"
    USER_NOT_FOUND: Final = "User not found"
    CLEAR_RACED: Final = "The chat changed while clearing it; try again"
    # transport
    NOT_CONNECTED: Final = "Not connected"
    SHUTTING_DOWN: Final = "Server is shutting down"
    RETRY: Final = "Something went wrong, please retry"
    BODY_TOO_LARGE: Final = "Request body too large"
    BODY_UNREADABLE: Final = "Request body could not be decoded (check its Content-Encoding)"
    PACKET_TOO_LARGE: Final = "Event too large: at most 1 MB"
    MALFORMED_PACKET: Final = "Malformed Socket.IO packet"
    REQUEST_TOO_LARGE: Final = "Request line or headers too large"
    BAD_METHOD: Final = "Unsupported HTTP method"
    MALFORMED_REQUEST: Final = "Malformed HTTP request"
    INTERNAL_ERROR: Final = "Internal server error"
    DATABASE_UNAVAILABLE: Final = "Database unavailable"
    DATABASE_RETRY: Final = "Database unavailable, please retry"
    RATE_LIMITED: Final = "Too many requests, please slow down"  # 429 / failed ack, with the seconds to wait
    # replies
    REGISTERED: Final = "Registered"
    LOGGED_IN: Final = "Logged in"
    LOGGED_OUT: Final = "Logged out"
    PASSWORD_SET: Final = "Password changed"
    CHAT_CLEARED: Final = "Chat cleared"
    USER_BLOCKED: Final = "User blocked"
    USER_UNBLOCKED: Final = "User unblocked"
    VERIFICATION_SENT: Final = "Verification OTP is sent to your Email"  # the original's words
    OTP_SENT: Final = "If this email has an account, an OTP is sent to it"
    ACCOUNT_VERIFIED: Final = "Account verified"
    PROFILE_UPDATED: Final = "Profile updated"
    LANG_SET: Final = "Language updated"
