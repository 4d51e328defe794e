"""One migrated template per test session; every test gets its own copy (real commits, no leaks)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import psycopg

from marketplace import migrate
from marketplace.settings import Settings

_counter = itertools.count()


def test_settings(database_url: str, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url,
        secret_key="test-secret-key-0123456789-0123456789-0123456789",
        field_key="dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZjA=",
        redis_url=None,
        task_always_eager=True,
        meili_url=None,
        meili_key=None,
        search_path=str(tmp / "search.db"),
        data_dir=str(tmp),
        stripe_api_key="sk_test_12345",
        stripe_webhook_secret="whsec_test_secret",
        stripe_api_base=None,
        login_rate_limit_per_minute=1000,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class SqliteTemplate:
    kind = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        migrate.upgrade(test_settings(f"sqlite:///{self.template}", root))

    def new_database(self, tmp: Path) -> str:
        target = tmp / "test.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


class PostgresTemplate:
    kind = "postgresql"

    def __init__(self, admin_url: str, root: Path) -> None:
        self.admin_url = admin_url
        self.base = admin_url.rsplit("/", 1)[0]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mp_template")
        migrate.upgrade(test_settings(f"{self.base}/mp_template", root))

    def new_database(self, tmp: Path) -> str:
        name = f"mp_test_{next(_counter)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE mp_template")
        return f"{self.base}/{name}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
