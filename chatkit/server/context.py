"""The services one running server is made of, shared by its REST and Socket.IO sides."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from chatkit.domain.accounts import Accounts
from chatkit.settings import Settings
from chatkit.storage.database import Storage


@dataclass
class Services:
    settings: Settings
    storage: Storage
    accounts: Accounts


SERVICES = web.AppKey("services", Services)
