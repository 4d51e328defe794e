"""One database with the small test world per test module, served once; each race makes its own data in it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from marketplace.db import Database
from marketplace.settings import Settings
from tests.support.databases import PostgresTemplate, SqliteTemplate, test_settings
from tests.support.racing import ROOT, Served, served_app
from tests.support.world import World, build_world

_tags = itertools.count(1)


def new_tag() -> str:
    """Unique within the run: the races' funds, references and children are named with it."""
    return str(next(_tags))


async def _load_world(settings: Settings) -> World:
    db = Database(settings)
    try:
        async with db.session() as session:
            return await build_world(session)
    finally:
        await db.dispose()


@dataclass(frozen=True)
class Site:
    """A database with the test world (``settings`` lead to it), for serving the checkout or a mutant."""

    settings: Settings
    world: World
    tmp: Path


@pytest.fixture(scope="module")
def site(db_template: SqliteTemplate | PostgresTemplate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("races")
    url = db_template.new_database(tmp)
    settings = test_settings(url, tmp)
    try:
        yield Site(settings, asyncio.run(_load_world(settings)), tmp)
    finally:
        if isinstance(db_template, PostgresTemplate):
            db_template.drop(url)


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[Served]:
    """The checkout's app over the module's database."""
    with served_app(site.settings.database_url, site.tmp / "app") as app:
        assert app.source == ROOT, app.source
        yield app
