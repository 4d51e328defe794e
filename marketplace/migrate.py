"""Alembic, driven from code so the CLI and the tests migrate the same way."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from marketplace.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.sync_database_url.replace("%", "%%"))
    # A migration that encrypts existing values (0022) uses these settings' field key ring.
    config.attributes["settings"] = settings
    return config


def ensure_sqlite_dir(settings: Settings) -> None:
    if settings.is_sqlite:
        path = settings.database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def upgrade(settings: Settings, revision: str = "heads") -> None:
    ensure_sqlite_dir(settings)
    command.upgrade(alembic_config(settings), revision)


def revision(
    settings: Settings, message: str, rev_id: str, head: str = "head", branch_label: str | None = None
) -> None:
    command.revision(
        alembic_config(settings),
        message=message,
        autogenerate=True,
        rev_id=rev_id,
        head=head,
        branch_label=branch_label,
    )
