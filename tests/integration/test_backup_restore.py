"""Backup and restore as docs/operations.md prescribes it, proved on a copy.

An installation (a database and its data directory, development key files in it) is migrated, loaded with the
Futian demo and used (reads that leave audit rows, the nightly chain verification). Then, as the guide says:
the database is dumped (PostgreSQL: ``pg_dump --format=custom``; the embedded SQLite file: the online backup API,
what ``sqlite3 … ".backup …"`` does), the data directory archived with ``tar`` and its key files archived apart.
Both are restored into a NEW database and a NEW data directory, the search index rebuilt (``marketplace reindex``)
and the chains proved (``marketplace verify``): every table holds the same rows, the sequences stand where they
stood, and the API answers the same as the original (services, a search, every child's file of the director's
community as the director and as the district sees it, the funds and their ledgers, the public accounts), every
child's identity number decrypts to the same number, and a new visit written on the copy is sealed and read back.

Restoring the database without the key files is detected: no key of the new ring opens a child's file, every
encrypted field shows ``无法解密`` (never a wrong value), each is logged, and ``marketplace rotate-field-key``
names the files no key opens and exits 1.

PostgreSQL runs on a server of this module's own (TEST_DATABASE=postgresql); SQLite in temporary directories.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, inspect, text

from marketplace import clock, migrate
from marketplace.app import create_app
from marketplace.audit import verification
from marketplace.cases.crypto import field_cipher
from marketplace.db import Database
from marketplace.demo.loader import load_demo
from marketplace.keyfiles import FIELD_KEYS_FILE, SECRET_KEY_FILE
from marketplace.masking import UNREADABLE, UNREADABLE_ERRORS
from marketplace.settings import Settings, complete_settings, load_settings
from tests.support import figures
from tests.support.servers import ROOT, _pg_bin, postgres_server

pytestmark = pytest.mark.integration

SUITE = "Backup and restore"
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PASSWORD = "demo-password"  # the demo's logins
KEY_FILES = (SECRET_KEY_FILE, FIELD_KEYS_FILE)
EVIDENCE = b"%PDF-1.4\n% acceptance record of a milestone, kept as uploaded\n%%EOF\n"
# What the guide leaves out of the data directory's archive: the database file itself on SQLite (copied by the
# backup API, never by tar while it is written), the search index (rebuilt by `marketplace reindex`), the cache
# signal files (empty markers) and the key files (archived apart).
NOT_ARCHIVED = ("marketplace.db", "search.db", ".signal", *KEY_FILES)


@dataclass
class Site:
    """One installation: its database and its data directory, configured as an operator would (environment)."""

    url: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        return {"MARKETPLACE_DATABASE_URL": self.url, "MARKETPLACE_DATA_DIR": str(self.data_dir)}

    def settings(self) -> Settings:
        # What every process of the site runs with: the environment, completed from the data directory's key files
        # (made there on first use when missing: development).
        return complete_settings(load_settings(self.env()))

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``marketplace ARGS`` as the operator runs it on this site."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
        env.update(self.env())
        return subprocess.run(
            [sys.executable, "-m", "marketplace.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )


@dataclass
class Backup:
    original: Site
    database: Path  # the dump (PostgreSQL) or the backup copy (SQLite)
    data: Path  # the data directory's archive, without the key files
    keys: Path  # the key files' archive, kept apart
    tables: dict[str, tuple[int, str]]  # each table's rows and digest at the backup
    sequences: dict[str, int | None]
    verified: list[dict[str, Any]]  # the chains as the original's last verification before the backup saw them
    answers: dict[str, Any] = field(default_factory=dict)
    identity_numbers: dict[int, str] = field(default_factory=dict)
    # (name, data directory) -> the url of a new database holding the backup
    restore_database: Callable[[str, Path], str] | None = None


# ------------------------------------------------------------------ the two databases' backup and restore


class Postgres:
    """As in production: the app's role owns its database and is no superuser; the dump is restored by that role
    into a new database it owns (the guide's ``createdb -O`` and ``pg_restore --no-owner``)."""

    ROLE = "marketplace"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.base = admin_url.rsplit("/", 1)[0].replace("postgres@", f"{self.ROLE}@")
        self.bin = _pg_bin()  # the server's own version of pg_dump and pg_restore
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {self.ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")

    def create(self, name: str, root: Path) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {self.ROLE} ENCODING 'UTF8'")
        return f"{self.base}/{name}"

    def dump(self, site: Site, target: Path) -> None:
        run([str(self.bin / "pg_dump"), "--format=custom", "--file", str(target), "--dbname", site.url])
        run([str(self.bin / "pg_restore"), "--list", str(target)])  # the guide's script checks the dump reads

    def restore(self, dump: Path, name: str, root: Path) -> str:
        url = self.create(name, root)
        run([str(self.bin / "pg_restore"), "--no-owner", "--exit-on-error", "--dbname", url, str(dump)])
        return url


class Sqlite:
    """The embedded default: the database is a file in the data directory."""

    def create(self, name: str, root: Path) -> str:
        return f"sqlite:///{root / 'marketplace.db'}"

    def dump(self, site: Site, target: Path) -> None:
        # The online backup (sqlite3's ".backup"): a consistent copy while the app may be writing.
        source = sqlite3.connect(site.url.removeprefix("sqlite:///"))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()

    def restore(self, dump: Path, name: str, root: Path) -> str:
        shutil.copyfile(dump, root / "marketplace.db")
        return f"sqlite:///{root / 'marketplace.db'}"


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr[-2000:]}"


def archive(source: Path, target: Path, names: list[str]) -> None:
    """``tar -czf target -C source NAMES`` (the guide's commands), kept as the operator would keep it."""
    run(["tar", "-czf", str(target), "-C", str(source), *names])


def unpack(archive_path: Path, target: Path) -> None:
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    run(["tar", "-xzf", str(archive_path), "-C", str(target)])


# ------------------------------------------------------------------ what is compared


def table_digests(settings: Settings) -> tuple[dict[str, tuple[int, str]], dict[str, int | None]]:
    """Every table's row count and a digest of its rows (in any order), and PostgreSQL's sequence positions."""
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            if (
                settings.is_sqlite
                and conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first()
            ):
                names.append("sqlite_sequence")  # AUTOINCREMENT's positions
            tables = {}
            for name in names:
                rows = sorted(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{name}"')))
                tables[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            sequences: dict[str, int | None] = {}
            if not settings.is_sqlite:
                for name, last in conn.execute(text("SELECT sequencename, last_value FROM pg_sequences")):
                    sequences[name] = last
    finally:
        engine.dispose()
    return tables, sequences


async def login(client: AsyncTestClient[Any], username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def get(client: AsyncTestClient[Any], path: str, headers: dict[str, str]) -> Any:
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


async def answers(settings: Settings) -> dict[str, Any]:
    """The API's answers that a restore must keep, read as the roles that read them."""
    out: dict[str, Any] = {}
    async with AsyncTestClient(app=create_app(settings)) as client:
        director_h, admin_h, fund_h = [await login(client, u) for u in ("director", "admin", "fund")]
        out["services"] = await get(client, "/api/v1/services?limit=100", director_h)
        out["search 心理"] = await get(client, "/api/v1/services?q=%E5%BF%83%E7%90%86&limit=50", director_h)
        children = await get(client, "/api/v1/children?limit=100", director_h)
        out["children (director)"] = children
        for child in children["items"]:
            out[f"child {child['id']} (director)"] = await get(client, f"/api/v1/children/{child['id']}", director_h)
            out[f"child {child['id']} (district)"] = await get(client, f"/api/v1/children/{child['id']}", admin_h)
        procurement_h = await login(client, "procurement")
        for contract in (await get(client, "/api/v1/contracts?limit=100", procurement_h))["items"]:
            full = await get(client, f"/api/v1/contracts/{contract['id']}", procurement_h)
            out[f"contract {contract['id']}"] = full
            for milestone in full["milestones"]:
                for file in milestone.get("evidence") or []:
                    if not file.get("sha256"):
                        continue
                    url = f"/api/v1/contracts/{contract['id']}/milestones/{milestone['id']}/evidence/{file['sha256']}"
                    r = await client.get(url, headers=procurement_h)
                    assert r.status_code == 200, (url, r.status_code, r.text)
                    out[f"evidence {file['sha256']}"] = hashlib.sha256(r.content).hexdigest()
        funds = await get(client, "/api/v1/funds", fund_h)
        out["funds"] = funds
        for f in funds["items"]:
            out[f"fund {f['id']}"] = await get(client, f"/api/v1/funds/{f['id']}", fund_h)
            out[f"fund {f['id']} ledger"] = await get(client, f"/api/v1/funds/{f['id']}/ledger?limit=100", fund_h)
            out[f"fund {f['id']} public"] = await get(client, f"/api/v1/public/funds/{f['id']}", {})
    return out


def identity_numbers(settings: Settings) -> dict[int, str]:
    """Every child's identity number, decrypted with the site's key ring (UNREADABLE where no key opens it)."""
    cipher = field_cipher(settings)
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, id_number_enc FROM children ORDER BY id")).all()
    finally:
        engine.dispose()
    out = {}
    for child_id, token in rows:
        try:
            out[child_id] = cipher.decrypt(token, "children.id_number")
        except UNREADABLE_ERRORS:
            out[child_id] = UNREADABLE
    return out


def verify(site: Site) -> dict[str, Any]:
    done = site.command("verify", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["ok"] is True, outcome
    return outcome


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    """Where two JSON answers differ (paths), empty when equal."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = [f"{where}.{k}: only on one side" for k in before.keys() ^ after.keys()]
        for k in before.keys() & after.keys():
            found += differences(before[k], after[k], f"{where}.{k}")
        return found
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{where}: {len(before)} vs {len(after)} items"]
        return [
            d for i, (b, a) in enumerate(zip(before, after, strict=True)) for d in differences(b, a, f"{where}[{i}]")
        ]
    return [] if before == after else [f"{where}: {before!r} vs {after!r}"]


def count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_leaves(v) for v in value)
    return 1


# ------------------------------------------------------------------ the installation and its backup


async def use(site: Site) -> list[dict[str, Any]]:
    """A day's work on the original: the demo, reads of children's files (audit rows), an evidence upload, and the
    nightly verification last (its chains are returned)."""
    settings = site.settings()
    migrate.upgrade(settings)
    await load_demo(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        h = await login(client, "director")
        first = (await get(client, "/api/v1/children?limit=5", h))["items"]
        for child in first:
            await get(client, f"/api/v1/children/{child['id']}", h)
        # An acceptance evidence file: kept in the data directory, named by its SHA-256 in the database.
        h = await login(client, "procurement")
        contracts = (await get(client, "/api/v1/contracts?limit=100", h))["items"]
        for contract in contracts:
            full = await get(client, f"/api/v1/contracts/{contract['id']}", h)
            pending = [m for m in full["milestones"] if m["status"] == "pending"]
            if full["status"] == "active" and pending:
                r = await client.post(
                    f"/api/v1/contracts/{contract['id']}/milestones/{pending[0]['id']}/evidence",
                    headers=h,
                    files={"file": ("验收报告.pdf", EVIDENCE, "application/pdf")},
                )
                assert r.status_code == 201, r.text
                break
        else:
            raise AssertionError("the demo has no active contract with a pending milestone")
    return await verify_in_process(settings)


async def verify_in_process(settings: Settings) -> list[dict[str, Any]]:
    """The nightly job's verification (``audit.verify_chains``): each chain's rows and last row, all intact."""
    db = Database(settings)
    try:
        outcome = await verification.run(db, trigger="job")
    finally:
        await db.dispose()
    assert outcome.ok, outcome.lines()
    chains: list[dict[str, Any]] = json.loads(json.dumps(outcome.record.chains))
    return chains


@pytest.fixture(scope="module")
def backup() -> Iterator[Backup]:
    root = Path(tempfile.mkdtemp(prefix="mp-backup-"))
    try:
        if BACKEND == "postgresql":
            with postgres_server() as admin_url:
                yield make_backup(Postgres(admin_url), root)
        else:
            yield make_backup(Sqlite(), root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_backup(kind: Postgres | Sqlite, root: Path) -> Backup:
    original_dir = root / "original" / "data"
    original_dir.mkdir(parents=True)
    original = Site(kind.create("mp_original", original_dir), original_dir)
    verified = asyncio.run(use(original))
    assert (original_dir / FIELD_KEYS_FILE).exists() and (original_dir / SECRET_KEY_FILE).exists()

    # The backup, as the guide's nightly script takes it.
    store, key_store = root / "backups", root / "key-backups"  # the key backup kept apart from the rest
    store.mkdir()
    key_store.mkdir(mode=0o700)
    database = store / ("marketplace.dump" if isinstance(kind, Postgres) else "marketplace.db")
    kind.dump(original, database)
    data_names = sorted(p.name for p in original_dir.iterdir() if not p.name.startswith(NOT_ARCHIVED))
    data_names = [n for n in data_names if not n.endswith(NOT_ARCHIVED)]
    assert data_names == ["evidence"]  # what the data directory holds besides the keys and what is rebuilt
    data = store / "data.tar.gz"
    archive(original_dir, data, data_names)
    keys = key_store / "keys.tar.gz"
    archive(original_dir, keys, list(KEY_FILES))
    tables, sequences = table_digests(original.settings())

    found = Backup(original, database, data, keys, tables, sequences, verified)
    found.restore_database = lambda name, target: kind.restore(database, name, target)
    found.answers = asyncio.run(answers(original.settings()))
    found.identity_numbers = identity_numbers(original.settings())
    return found


def restored_site(backup: Backup, name: str, root: Path, *, with_keys: bool) -> Site:
    """A new data directory from the archives (the key files only ``with_keys``) and a new database from the dump."""
    data_dir = root / name
    unpack(backup.data, data_dir)
    if with_keys:
        unpack(backup.keys, data_dir)
    assert backup.restore_database is not None
    return Site(backup.restore_database(name, data_dir), data_dir)


# ------------------------------------------------------------------ the tests


async def test_a_restored_copy_answers_as_the_original(backup: Backup, tmp_path: Path) -> None:
    site = restored_site(backup, "mp_restored", tmp_path, with_keys=True)
    assert site.url != backup.original.url and site.data_dir != backup.original.data_dir
    for name in KEY_FILES:  # restored byte for byte, owner-only as they were made
        assert (site.data_dir / name).read_bytes() == (backup.original.data_dir / name).read_bytes()
        assert (site.data_dir / name).stat().st_mode & 0o077 == 0

    # Every table's rows and every sequence as they were at the backup.
    tables, sequences = table_digests(site.settings())
    assert tables.keys() == backup.tables.keys()
    table_diffs = [n for n in tables if tables[n] != backup.tables[n]]
    assert table_diffs == []
    sequence_diffs = [n for n in backup.sequences if sequences.get(n) != backup.sequences[n]]
    assert sequence_diffs == []
    rows = sum(count for count, _ in tables.values())
    assert tables["children"][0] > 0 and tables["audit_log"][0] > 0 and tables["journal_entries"][0] > 0

    # The guide's steps after a restore: rebuild the search index, prove the chains.
    reindexed = site.command("reindex")
    assert reindexed.returncode == 0, reindexed.stderr
    assert "services:" in reindexed.stdout
    verified = verify(site)
    assert verified["chains"] == backup.verified  # the same rows, the same last hashes

    # The guide's key check: every file already under the ring's current key, nothing to move, exit 0.
    checked = site.command("rotate-field-key")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{tables['children'][0]} children's files, 0 re-encrypted" in checked.stdout
    assert "no key of the ring opens" not in checked.stderr

    # Every child's identity number decrypts to the same number with the restored key file.
    numbers = identity_numbers(site.settings())
    assert numbers == backup.identity_numbers
    assert UNREADABLE not in numbers.values() and all(len(n) == 18 for n in numbers.values())

    # The API answers as the original did.
    restored = await answers(site.settings())
    answer_diffs = differences(backup.answers, restored)
    assert answer_diffs == []
    children = backup.answers["children (director)"]["items"]
    assert children and all(c["name"] and c["name"] != UNREADABLE for c in children)
    for child in children:
        seen_by_district = restored[f"child {child['id']} (district)"]["id_number_masked"]
        assert seen_by_district.endswith(numbers[child["id"]][-4:])  # the last 4 digits, decrypted
    assert backup.answers["services"]["total"] > 0 and backup.answers["search 心理"]["total"] > 0
    assert any(f["balance_fen"] > 0 for f in backup.answers["funds"]["items"])
    evidence = [k for k in backup.answers if k.startswith("evidence ")]
    assert evidence == [f"evidence {hashlib.sha256(EVIDENCE).hexdigest()}"]  # served from the restored data dir

    # The copy takes new work: a visit sealed under the restored key, read back; the chains still intact.
    child = children[0]
    async with AsyncTestClient(app=create_app(site.settings())) as client:
        h = await login(client, "director")
        r = await client.post(
            f"/api/v1/children/{child['id']}/visits",
            headers=h,
            json={"visited_on": clock.today().isoformat(), "kind": "home", "findings": "恢复后的走访记录"},
        )
        assert r.status_code == 201, r.text
        visits = await get(client, f"/api/v1/children/{child['id']}/visits", h)
        assert "恢复后的走访记录" in [v["findings"] for v in visits["items"]]
    after = await verify_in_process(site.settings())
    assert sum(c["rows"] for c in after) > sum(c["rows"] for c in backup.verified)  # new rows joined the chains

    figures.record(SUITE, "tables compared", len(tables), database=BACKEND)
    figures.record(SUITE, "rows compared", rows, database=BACKEND)
    figures.record(SUITE, "API answers compared", len(backup.answers), database=BACKEND)
    figures.record(SUITE, "values compared in them", count_leaves(backup.answers), database=BACKEND)
    figures.record(SUITE, "identity numbers decrypted and compared", len(numbers), database=BACKEND)
    figures.record(SUITE, "differences", len(table_diffs) + len(sequence_diffs) + len(answer_diffs), database=BACKEND)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_a_restore_without_the_key_files_is_detected(backup: Backup, tmp_path: Path) -> None:
    site = restored_site(backup, "mp_keyless", tmp_path, with_keys=False)
    settings = site.settings()  # development: a NEW key file is made, which opens nothing of the backup
    assert (site.data_dir / FIELD_KEYS_FILE).read_text() != (backup.original.data_dir / FIELD_KEYS_FILE).read_text()

    numbers = identity_numbers(settings)
    assert set(numbers.values()) == {UNREADABLE}

    plain = set(backup.identity_numbers.values())
    captured, logger = Captured(), logging.getLogger("marketplace")
    async with AsyncTestClient(app=create_app(settings)) as client:
        logger.addHandler(captured)  # after the app has configured logging
        director, admin = await login(client, "director"), await login(client, "admin")
        listed = await get(client, "/api/v1/children?limit=100", director)
        assert listed["total"] == backup.answers["children (director)"]["total"]
        files = []
        for child in listed["items"]:
            assert child["name"] == UNREADABLE  # never a wrong name
            files.append(await get(client, f"/api/v1/children/{child['id']}", director))
            files.append(await get(client, f"/api/v1/children/{child['id']}", admin))
        logger.removeHandler(captured)
    for file in files:
        assert file["name"] == UNREADABLE, file
        assert file["guardian_name"] in (UNREADABLE, ""), file
        assert file["id_number_masked"] in (UNREADABLE, ""), file
        assert not any(isinstance(v, str) and v in plain for v in file.values())
    warned = [m for m in captured.messages if "cannot be decrypted (UnknownFieldKey)" in m]
    assert len(warned) >= len(files)  # every file read says in the log that its key is missing

    # The check the guide runs after every restore: it names the files no key opens and exits 1.
    checked = site.command("rotate-field-key")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"{len(numbers)} files no key of the ring opens" in checked.stderr
    assert "re-encrypted" in checked.stdout

    figures.record(SUITE, "restores without the key files", 1, database=BACKEND)
    figures.record(SUITE, "children's files read without the key", len(files), database=BACKEND)
    figures.record(
        SUITE,
        "values shown wrongly decrypted",
        sum(1 for f in files for v in f.values() if isinstance(v, str) and v in plain),
        database=BACKEND,
    )
