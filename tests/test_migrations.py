"""The migrations build exactly the schema the models declare: autogenerate would propose nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from marketplace.db import Base
from marketplace.features import load_models
from marketplace.settings import Settings


def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    load_models()
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], diff
