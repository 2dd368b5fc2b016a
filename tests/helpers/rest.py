"""REST helpers for the chat tests: thin httpx wrappers that check status and return bodies."""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId

from tests.helpers.accounts import Account
from tests.helpers.waiting import wait_until


async def get_ok(api: httpx.AsyncClient, path: str, account: Account, **params: Any) -> dict[str, Any]:
    r = await api.get(path, headers=account.headers, params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == 200, f"GET {path} {params} -> {r.status_code} {r.text}"
    body = r.json()
    assert body.get("success") is True, body
    return body


async def list_chats(api: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    """``GET /api/v1/chats`` as ``account``: the whole body (``pagination`` and ``data``)."""
    body = await get_ok(api, "/api/v1/chats", account, **params)
    assert isinstance(body.get("data"), list), body
    return body


async def chats_data(api: httpx.AsyncClient, account: Account, **params: Any) -> list[dict[str, Any]]:
    return (await list_chats(api, account, **params))["data"]


async def chat_entry(api: httpx.AsyncClient, account: Account, chat_id: str, **params: Any) -> dict[str, Any] | None:
    """The listing entry for one chat, or None when the chat is not listed for ``account``."""
    params.setdefault("limit", 100)
    for entry in await chats_data(api, account, **params):
        if entry["_id"] == chat_id:
            return entry
    return None


async def get_chat(api: httpx.AsyncClient, account: Account, chat_id: str, **params: Any) -> dict[str, Any]:
    """``GET /api/v1/chats/:id``: the chat object (``data`` of the reply)."""
    body = await get_ok(api, f"/api/v1/chats/{chat_id}", account, **params)
    chat = body.get("data", body.get("chat"))
    assert isinstance(chat, dict), body
    return chat


def messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return data["messages"]
    assert isinstance(data, list), f"no message list in {body!r}"
    return data


async def messages_page(api: httpx.AsyncClient, account: Account, chat_id: str, **params: Any) -> dict[str, Any]:
    """``GET /api/v1/chats/:id/messages``: the whole body."""
    return await get_ok(api, f"/api/v1/chats/{chat_id}/messages", account, **params)


async def messages(api: httpx.AsyncClient, account: Account, chat_id: str, **params: Any) -> list[dict[str, Any]]:
    """My visible messages in a chat, newest first."""
    params.setdefault("limit", 100)
    return messages_of(await messages_page(api, account, chat_id, **params))


async def contents(api: httpx.AsyncClient, account: Account, chat_id: str, **params: Any) -> list[str]:
    """The contents of my visible messages, oldest first (reading order)."""
    return [m["content"] for m in reversed(await messages(api, account, chat_id, **params))]


async def block(api: httpx.AsyncClient, account: Account, other_id: str, action: str = "block") -> httpx.Response:
    return await api.post(f"/api/v1/actions/{other_id}/{action}", headers=account.headers)


async def block_ok(api: httpx.AsyncClient, account: Account, other_id: str, action: str = "block") -> dict[str, Any]:
    r = await block(api, account, other_id, action)
    assert r.status_code == 200, f"{action} -> {r.status_code} {r.text}"
    assert r.json()["success"] is True
    return r.json()


async def clear(api: httpx.AsyncClient, account: Account, chat_id: str) -> httpx.Response:
    return await api.patch(f"/api/v1/chats/clear/{chat_id}", headers=account.headers)


async def clear_ok(api: httpx.AsyncClient, account: Account, chat_id: str) -> dict[str, Any]:
    r = await clear(api, account, chat_id)
    assert r.status_code == 200, f"clear -> {r.status_code} {r.text}"
    assert r.json()["success"] is True
    return r.json()


async def pushes_for(db: Any, user_id: str) -> list[dict[str, Any]]:
    """The pushes recorded for a user in the ``pushes`` outbox, oldest first."""
    return await db["pushes"].find({"userId": ObjectId(user_id)}).sort("createdAt", 1).to_list(None)


async def wait_pushes(db: Any, user_id: str, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
    """Wait until at least ``count`` pushes are recorded for the user (recording may lag the ack)."""
    return await wait_until(lambda: pushes_for(db, user_id), until=lambda found: len(found) >= count,
                            timeout=timeout, what=f"{count} push(es) recorded for {user_id}")
