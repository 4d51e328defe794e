"""Helpers for the sign-in tests: clients at other addresses, accounts in a given state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.transport import TestClientTransport
from sqlalchemy import select

from marketplace.auth.codes import issue_code
from marketplace.auth.models import User
from marketplace.db import Database
from tests.support.world import PASSWORD

# A password the policy accepts (long, uncommon, not containing any test username).
GOOD = "蓝色河流-tulip-Ferry-47"
GOOD2 = "slow-Harbor-lantern-93"


class _TransportFrom(TestClientTransport[AsyncTestClient[Litestar]], httpx.AsyncBaseTransport):
    """Litestar's test transport with another client address in the ASGI scope."""

    def __init__(self, client: AsyncTestClient[Litestar], address: str) -> None:
        super().__init__(client=client, raise_server_exceptions=False)
        self.address = address

    def parse_request(self, request: httpx.Request) -> dict[str, Any]:
        scope = super().parse_request(request)
        scope["client"] = (self.address, 50000)
        return scope


@asynccontextmanager
async def client_at(running: AsyncTestClient[Litestar], address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``address``, served like ``running``'s (same app, same event loop: a
    database connection made by one is usable by the other, which PostgreSQL's driver requires)."""
    transport = _TransportFrom(running, address)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


async def login(client: Any, username: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    return response


async def token(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await login(client, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def user_named(db: Database, username: str) -> User:
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


async def give_code(db: Database, username: str, purpose: str = "activate") -> str:
    """A one-time code for ``username`` (as an admin's create or reset does): it must now set its own password."""
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == username))
        assert user is not None
        code, _ = issue_code(user, purpose)
    return code
