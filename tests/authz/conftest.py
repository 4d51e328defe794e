"""One district per module: the Futian demo and the scenario's additions (tests/authz/scenario.py), served by the
app through Litestar's test client. Built once for the package (the demo takes ~20 s), shared by its tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.db import Database
from tests.authz.scenario import Scenario, build
from tests.support.apps import AppCache
from tests.support.databases import DemoTemplate, PostgresTemplate, SqliteTemplate


@dataclass
class District:
    client: AsyncTestClient[Litestar]
    db: Database
    scenario: Scenario
    schema: dict[str, Any]


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def district(
    db_template: SqliteTemplate | PostgresTemplate,
    demo_template: DemoTemplate,
    tmp_path_factory: pytest.TempPathFactory,
    app_cache: AppCache,
) -> AsyncIterator[District]:
    tmp = tmp_path_factory.mktemp("authz")
    settings = demo_template.new_settings(tmp)
    url = settings.database_url
    app = app_cache.app(settings)
    db = Database(settings)
    try:
        async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
            scenario = await build(client, db)
            schema = app.openapi_schema.to_schema()
            yield District(client, db, scenario, schema)
    finally:
        await db.dispose()
        if isinstance(db_template, PostgresTemplate):
            db_template.drop(url)
