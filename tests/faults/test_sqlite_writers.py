"""Fifty truly parallel writers against `marketplace serve --workers 2` on a SQLite file, as the embedded default
runs (no broker: each write's events run in the serving process right after its commit): every request is
answered 2xx or a clear 4xx, none 500 or 503 "database is locked", and every acknowledged write is in the database
afterwards. SQLite only (on PostgreSQL the races suites cover concurrent writers)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from marketplace import clock
from marketplace.cases.models import Need, Visit
from marketplace.db import Database
from marketplace.referrals.models import Referral
from marketplace.settings import Settings
from tests.faults.conftest import SUITE, open_needs
from tests.support import figures, servers
from tests.support.world import PASSWORD, World

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("TEST_DATABASE", "sqlite") != "sqlite", reason="SQLite's writers only"),
]

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 50
ROUNDS = 3  # each writer: per round a visit, a need and a referral
CATEGORIES = ("education_aid", "temporary_care", "medical_aid")


def serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MARKETPLACE_ENV": "development",
        "MARKETPLACE_DATA_DIR": settings.data_dir,
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "MARKETPLACE_FIELD_KEY": settings.field_key,
        "MARKETPLACE_SECRET_KEY": settings.secret_key,
        "MARKETPLACE_LOGIN_RATE_LIMIT": "1000",
    }
    for name in ("REDIS_URL", "MEILI_URL", "MARKETPLACE_TASKS_EAGER", "MARKETPLACE_FIELD_KEYS"):
        env.pop(name, None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace.cli", "serve", "--workers", "2", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    locked: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    needs: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)

    def answered(self, r: httpx.Response, kind: str) -> int | None:
        self.statuses[r.status_code] += 1
        text = r.text
        if "locked" in text or "数据库繁忙" in text:
            self.locked.append(f"{kind}: {r.status_code} {text[:200]}")
        if r.status_code >= 500:
            self.server_errors.append(f"{kind}: {r.status_code} {text[:200]}")
            return None
        assert r.status_code < 300 or r.headers.get("content-type", "").startswith("application/problem+json"), text
        return int(r.json()["id"]) if r.status_code in (200, 201) else None


async def test_fifty_parallel_writers_on_sqlite_see_no_locked_database(
    settings: Settings, db: Database, world: World, tmp_path: Path
) -> None:
    # One child and one open need per writer (the referral's), in the director's community.
    needs = await open_needs(db, settings, world, WRITERS)
    async with db.session(write=False) as s:
        children = [int(c) for c in (await s.scalars(select(Need.child_id).where(Need.id.in_(needs)))).all()]
    assert len(children) == WRITERS
    await db.dispose()  # the server owns the file from here on (the check below opens it again)

    port = servers.free_port()
    log = tmp_path / "server.log"
    server = serve(settings, port, log)
    base = f"http://127.0.0.1:{port}"
    outcome = Outcome()
    today = clock.today().isoformat()
    try:
        servers.wait_port(port, timeout=90)
        async with httpx.AsyncClient(
            base_url=base,
            timeout=60,
            limits=httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS),
        ) as http:
            r = await http.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            start = asyncio.Event()

            async def writer(n: int) -> None:
                child, need = children[n], needs[n]
                await start.wait()
                for round_ in range(ROUNDS):
                    r = await http.post(
                        f"/api/v1/children/{child}/visits",
                        json={"visited_on": today, "kind": "home", "findings": f"第{round_}次走访，写者{n}"},
                        headers=headers,
                    )
                    if (i := outcome.answered(r, "visit")) is not None:
                        outcome.visits.append(i)
                    r = await http.post(
                        f"/api/v1/children/{child}/needs",
                        json={"category": CATEGORIES[round_], "urgency": 2},
                        headers=headers,
                    )
                    if (i := outcome.answered(r, "need")) is not None:
                        outcome.needs.append(i)
                    r = await http.post(
                        "/api/v1/referrals", json={"need_id": need, "service_id": world.services[0]}, headers=headers
                    )
                    if (i := outcome.answered(r, "referral")) is not None:
                        outcome.referrals.append(i)

            tasks = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
            began = time.monotonic()
            start.set()
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - began
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(10)

    check = Database(settings)
    try:
        async with check.session(write=False) as s:
            stored_visits = set((await s.scalars(select(Visit.id).where(Visit.id.in_(outcome.visits)))).all())
            stored_needs = set((await s.scalars(select(Need.id).where(Need.id.in_(outcome.needs)))).all())
            stored_referrals = set(
                (await s.scalars(select(Referral.id).where(Referral.id.in_(outcome.referrals)))).all()
            )
            referrals_total = int(await s.scalar(select(func.count()).select_from(Referral)) or 0)
    finally:
        await check.dispose()
    missing = (
        len(set(outcome.visits) - stored_visits)
        + len(set(outcome.needs) - stored_needs)
        + len(set(outcome.referrals) - stored_referrals)
    )
    requests = sum(outcome.statuses.values())
    figures.record(SUITE, "concurrent SQLite writers", WRITERS)
    figures.record(SUITE, "writes by concurrent SQLite writers", requests)
    figures.record(SUITE, '"database is locked" seen by users', len(outcome.locked))
    figures.record(SUITE, "server errors", len(outcome.server_errors))
    figures.record(SUITE, "effects lost", missing)
    assert outcome.locked == [], outcome.locked[:5]
    assert outcome.server_errors == [], outcome.server_errors[:5]
    assert requests == WRITERS * ROUNDS * 3
    # Every visit and need is accepted; each need is referred once (its second referral is refused 409).
    assert len(outcome.visits) == WRITERS * ROUNDS and len(outcome.needs) == WRITERS * ROUNDS, outcome.statuses
    assert len(outcome.referrals) == WRITERS and referrals_total == WRITERS, outcome.statuses
    assert outcome.statuses[409] == WRITERS * (ROUNDS - 1), outcome.statuses
    assert missing == 0
    print(f"{requests} writes by {WRITERS} parallel clients in {elapsed:.1f} s")
