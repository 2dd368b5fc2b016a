"""Accounts and chats for a run, made the way the target allows.

* ``api``: registration over REST, through ``chatkit.client`` (the server must have open
  registration); chats are then opened by a first message (``load`` does that once the
  sockets are up, since only a socket can open a chat).
* ``direct``: users, sessions and chats written straight into the server's MongoDB with
  tokens signed by its secret, for a server whose registration is closed (or to skip
  bcrypt for thousands of users). PyMongo lives in ``direct`` alone, imported here only
  when asked for.
* ``relay``: the bare relay keeps no data at all: ids are made up here and tokens signed
  with the relay's secret, as the Node reference generator does with ``--skip-db``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import warnings
from dataclasses import dataclass

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from chatkit.client import ChatClient, ChatkitError, Forbidden
from chatkit.errors import OperatorError, UsageError
from chatkit.protocol import Sentence

PASSWORD_BYTES = 18
REGISTER_CONCURRENCY = 8  # the server hashes each password: more at once only queues up
TOKEN_LIFETIME_S = 86_400


class BenchError(OperatorError):
    """The run cannot go on (target refused, data cannot be written): one line, exit 1."""


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str


@dataclass(frozen=True)
class PairSpec:
    """One sender and its receiver; ``chat_id`` None until their chat is opened."""

    index: int
    sender: Account
    receiver: Account
    chat_id: str | None = None


def run_tag() -> str:
    """Marks this run's names and message contents, so nothing else is taken for ours."""
    return secrets.token_hex(4)


def sign(secret: str, user_id: str) -> str:
    """A token of the contract's shape (HS256, ``{userId, role, iat, exp}``), plus a ``jti``
    so that each one is distinct."""
    issued = int(time.time())
    payload = {"userId": user_id, "role": "user", "iat": issued, "exp": issued + TOKEN_LIFETIME_S,
               "jti": secrets.token_hex(8)}
    with warnings.catch_warnings():  # the server's secret is what it is (16 characters at least)
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, secret, algorithm="HS256")


def relay_accounts(secret: str, count: int) -> list[Account]:
    accounts = []
    for _ in range(count):
        user_id = secrets.token_hex(12)
        accounts.append(Account(user_id, sign(secret, user_id)))
    return accounts


async def register_accounts(url: str, count: int, tag: str) -> list[Account]:
    """``count`` new accounts registered over REST, a few at a time."""
    gate = asyncio.Semaphore(REGISTER_CONCURRENCY)
    password = secrets.token_urlsafe(PASSWORD_BYTES)

    async def one(i: int) -> Account:
        async with gate:
            client = ChatClient(url, realtime=False, timeout=60.0)
            try:
                user = await client.register(f"Bench{i}", f"Run{tag}", f"bench.{tag}.{i}@example.invalid", password)
            except Forbidden as exc:
                if exc.message == Sentence.REGISTRATION_CLOSED:
                    raise UsageError(f"{url} has registration closed: use --provision direct "
                                     "--mongo-url URL --secret SECRET") from None
                raise BenchError(f"registering bench users at {url}: {exc.message}") from None
            except ChatkitError as exc:
                raise BenchError(f"registering bench users at {url}: {exc}") from None
            finally:
                await client.close()
            assert client.token is not None
            return Account(user.id, client.token)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def direct_accounts(mongo_url: str, db_name: str, secret: str, count: int, pairs: int,
                          tag: str) -> tuple[list[Account], list[str]]:
    """``count`` accounts written into the database, and a chat for each of the first
    ``pairs`` pairs of them (see ``chatkit.bench.direct``)."""
    from chatkit.bench import direct  # PyMongo only for this mode

    return await direct.insert(mongo_url, db_name, secret, count, pairs, tag)


def pair_up(accounts: list[Account], chat_ids: list[str] | None = None) -> list[PairSpec]:
    """Accounts 2i and 2i+1 make pair i."""
    return [PairSpec(i, accounts[2 * i], accounts[2 * i + 1], chat_ids[i] if chat_ids else None)
            for i in range(len(accounts) // 2)]
