"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL with TEST_DATABASE=postgresql."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace import clock, outbox
from marketplace.db import Database
from marketplace.features import load_models
from marketplace.settings import Settings
from tests.support import figures
from tests.support.apps import AppCache
from tests.support.clock_suites import CLOCK_SENSITIVE
from tests.support.databases import DemoTemplate, PostgresTemplate, SqliteTemplate, test_settings
from tests.support.servers import RedisProcess, postgres_server, redis_server
from tests.support.world import PASSWORD, World, build_world

load_models()
# Emitting an outbox topic with neither a handler nor a record-only declaration fails the test that does it.
outbox.STRICT = True
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")


def _test_clock(spec: str) -> dt.datetime:
    """TEST_CLOCK=HH:MM sets the app's clock to that UTC time of the current UTC day, ticking from there."""
    hours, _, minutes = spec.partition(":")
    return clock.now().replace(hour=int(hours), minute=int(minutes or 0), second=0, microsecond=0)


def pytest_configure(config: pytest.Config) -> None:
    # Code that falls back to the process's settings (get_settings) keeps its development key files in a directory
    # of this run, never in the checkout's var/.
    os.environ.setdefault("MARKETPLACE_DATA_DIR", tempfile.mkdtemp(prefix="marketplace-test-data-"))
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        figures.begin_session()  # the reliability figures of this run (tests/support/figures.py)
    # Before any test module is imported, so module-level dates (tests/reports/data.py) see the same clock.
    spec = os.environ.get("TEST_CLOCK")
    if spec:
        clock.set_offset(_test_clock(spec))


# A module that chooses its database or server itself (it reads TEST_DATABASE or starts PostgreSQL of its own).
_CHOOSES_DATABASE = re.compile(r"postgres|TEST_DATABASE|BACKEND", re.IGNORECASE)


def _database_independent(item: pytest.Item, chooses: dict[Path, bool]) -> bool:
    """No fixture of the suite's database (every one comes from ``db_template``) and a module that does not pick a
    database of its own: the test answers the same on either database."""
    if "db_template" in getattr(item, "fixturenames", ()):
        return False
    path = Path(str(item.path))
    if path not in chooses:
        chooses[path] = bool(_CHOOSES_DATABASE.search(path.read_text(encoding="utf-8")))
    return not chooses[path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(CLOCK_SENSITIVE):
            item.add_marker(pytest.mark.clock_sensitive)
    # The PostgreSQL stage of `make test` runs what the database can change: a test that touches no database ran in
    # the SQLite stage already, at the same clock. TEST_EVERY_TEST=1 runs them all here too.
    if BACKEND == "postgresql" and not os.environ.get("TEST_EVERY_TEST"):
        chooses: dict[Path, bool] = {}
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            (dropped if _database_independent(item, chooses) else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The reliability figures this run recorded (`make test` prints every run's together at its end)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rows = figures.load(session=os.environ.get(figures.SESSION_ENV))
    if rows:
        terminalreporter.write_sep("=", "reliability figures")
        terminalreporter.write_line(figures.table(rows))


def pytest_report_header(config: pytest.Config) -> str:
    return f"app clock: {clock.now().isoformat(timespec='minutes')} UTC, district date {clock.today()}"


@pytest.fixture
def frozen_clock() -> Iterator[Callable[[dt.datetime], None]]:
    """``frozen_clock(instant)`` stops the app's clock at an aware instant until the test ends."""
    stack = ExitStack()

    def freeze(instant: dt.datetime) -> None:
        stack.enter_context(clock.freeze(instant))

    with stack:
        yield freeze


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
def own_redis() -> Iterator[RedisProcess]:
    """A Redis of the test's own, that it may stop, kill and start again (the session's ``redis_url`` is shared)."""
    server = RedisProcess()
    server.start()
    yield server
    server.close()


@pytest.fixture
def database_url(db_template: SqliteTemplate | PostgresTemplate, tmp_path: Path) -> Iterator[str]:
    url = db_template.new_database(tmp_path)
    yield url
    if isinstance(db_template, PostgresTemplate):
        db_template.drop(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return test_settings(database_url, tmp_path)


@pytest.fixture(scope="session")
def demo_template(
    db_template: SqliteTemplate | PostgresTemplate, tmp_path_factory: pytest.TempPathFactory
) -> DemoTemplate:
    return DemoTemplate(db_template, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def demo_settings(
    demo_template: DemoTemplate, db_template: SqliteTemplate | PostgresTemplate, tmp_path: Path
) -> Iterator[Settings]:
    """Settings of a database (and data directory) holding the whole Futian demo, a copy of the session's load."""
    settings = demo_template.new_settings(tmp_path)
    yield settings
    if isinstance(db_template, PostgresTemplate):
        db_template.drop(settings.database_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def demo_db(demo_settings: Settings) -> AsyncIterator[Database]:
    database = Database(demo_settings)
    yield database
    await database.dispose()


@pytest.fixture
async def world(db: Database) -> World:
    async with db.session() as session:
        return await build_world(session)


@pytest.fixture(scope="session")
def app_cache() -> AppCache:
    return AppCache()


@pytest.fixture
def app(settings: Settings, app_cache: AppCache) -> Litestar:
    """The app for this test's settings: its routes built once per worker, its state and lifespan new (see
    tests/support/apps.py)."""
    return app_cache.app(settings)


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
