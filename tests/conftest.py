"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL with TEST_DATABASE=postgresql."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.db import Database
from marketplace.features import load_models
from marketplace.settings import Settings
from tests.support.databases import PostgresTemplate, SqliteTemplate, test_settings
from tests.support.servers import postgres_server, redis_server
from tests.support.world import PASSWORD, World, build_world

load_models()
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteTemplate | PostgresTemplate]:
    root = tmp_path_factory.mktemp("db")
    if BACKEND == "postgresql":
        with postgres_server() as admin_url:
            yield PostgresTemplate(admin_url, root)
    else:
        yield SqliteTemplate(root)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def database_url(db_template: SqliteTemplate | PostgresTemplate, tmp_path: Path) -> Iterator[str]:
    url = db_template.new_database(tmp_path)
    yield url
    if isinstance(db_template, PostgresTemplate):
        db_template.drop(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return test_settings(database_url, tmp_path)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def world(db: Database) -> World:
    async with db.session() as session:
        return await build_world(session)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar, world: World) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as c:
        yield c


class Auth:
    """Bearer headers per test user, logging in once each."""

    def __init__(self, client: AsyncTestClient[Litestar]) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    async def __call__(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}


@pytest.fixture
def auth(client: AsyncTestClient[Litestar]) -> Auth:
    return Auth(client)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
