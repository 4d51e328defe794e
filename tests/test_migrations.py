"""The migrations build exactly the schema the models declare: autogenerate would propose nothing."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from marketplace import clock, migrate
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, Visit
from marketplace.db import Base, Database
from marketplace.features import load_models
from marketplace.settings import Settings
from tests.cases.support import add_child
from tests.support.world import World


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


async def test_0022_encrypts_the_free_text_already_stored_and_its_downgrade_gives_it_back(
    settings: Settings, db: Database, world: World
) -> None:
    """Rows written before 0022 (clear text: here, a file and a visit decrypted by 0022's downgrade) are encrypted by
    its upgrade, with the blind index of each name; the app reads them back as they were."""
    async with db.session() as session:
        child = await add_child(session, settings, world.communities[0], world.streets[0], name="林小雨")
        child.household_notes = "父亲外出务工后失联"
        session.add(
            Visit(
                child_id=child.id,
                visited_on=clock.today(),
                kind="home",
                findings="家中无存粮",
                next_visit_due=clock.today(),
            )
        )
        child_id = child.id
    await db.dispose()
    config = migrate.alembic_config(settings)

    def stored() -> tuple[str, str, str, str | None]:
        engine = create_engine(settings.sync_database_url)
        try:
            with engine.connect() as c:
                name, notes = c.execute(
                    text("SELECT name, household_notes FROM children WHERE id = :i"), {"i": child_id}
                ).one()
                (findings,) = c.execute(text("SELECT findings FROM visits WHERE child_id = :i"), {"i": child_id}).one()
                columns = {col["name"] for col in inspect(c).get_columns("children")}
                hmac = c.execute(text("SELECT name_hmac FROM children")).scalar() if "name_hmac" in columns else None
                return name, notes, findings, hmac
        finally:
            engine.dispose()

    sealed = stored()
    assert all(v.startswith("v2:") for v in sealed[:3])
    command.downgrade(config, "0022@-1")
    assert stored() == ("林小雨", "父亲外出务工后失联", "家中无存粮", None)
    command.upgrade(config, "heads")
    name, notes, findings, hmac = stored()
    assert all(v.startswith("v2:") for v in (name, notes, findings)) and "林小雨" not in name
    cipher = field_cipher(settings)
    assert hmac == cipher.name_hash("林小雨")
    again = Database(settings)
    try:
        async with again.session(write=False) as session:
            read = await session.get(Child, child_id)
            assert read is not None and (read.name, read.household_notes) == ("林小雨", "父亲外出务工后失联")
            assert (await session.scalars(select(Visit.findings))).all() == ["家中无存粮"]
    finally:
        await again.dispose()
