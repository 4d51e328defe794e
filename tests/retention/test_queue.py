"""The retention rule through the real task queue: a file worked with a Redis broker and a Celery worker process (the
outbox's events carried as Celery messages), closed, past its period, deleted by the nightly job sent through the
broker as the beat sends it; then Redis (every key, message bodies decoded) and the worker's log are searched for
the child."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import clock, tasks
from marketplace.app import create_app
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child
from marketplace.outbox import OutboxEvent
from tests.cases.support import TokenAuth, id_number
from tests.integration.conftest import broker_settings, celery_worker
from tests.retention.scan import contains, scan_database
from tests.support import figures

__all__ = ["broker_settings", "celery_worker"]

pytestmark = pytest.mark.integration

BIRTH = dt.date(2013, 9, 2)
ID_NUMBER = id_number(BIRTH, "977")
NAME = "慕容青禾"
GUARDIAN = "慕容德川"
PHONE = "13698765432"
ADDRESS = "福田区岗厦北里十一栋"
NOTES = "祖母年迈患病无力照看翡翠"
FINDINGS = "家中无人做饭翡翠"
CLEAR = [NAME, ID_NUMBER, GUARDIAN, PHONE, ADDRESS, NOTES, FINDINGS]


def _redis_texts(client: redis.Redis) -> tuple[int, list[str]]:
    """Every value under every key, with Celery message bodies (base64 JSON) decoded."""
    texts: list[str] = []
    keys = list(client.scan_iter("*"))
    for key in keys:
        kind = client.type(key).decode()
        values: list[Any] = []
        if kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "string":
            values = [client.get(key)]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        for value in values:
            raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            texts.append(raw)
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            body = message.get("body") if isinstance(message, dict) else None
            if isinstance(body, str):
                with contextlib.suppress(ValueError):
                    texts.append(base64.b64decode(body).decode("utf-8", "replace"))
    return len(keys), texts


async def _settled(db: Any) -> None:
    """Wait (30 s at most) until the worker has processed every outbox event."""
    for _ in range(300):
        async with db.session(write=False) as s:
            left = await s.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None)))
        if not left:
            return
        await asyncio.sleep(0.1)
    pytest.fail("the worker did not process the outbox within the time allowed")


async def test_the_queue_and_the_worker_log_keep_no_copy(
    broker_settings, celery_worker, world, db, tmp_path: Path
) -> None:
    tokens = TokenAuth(db, broker_settings)
    director, org = await tokens("director"), await tokens("org")
    async with AsyncTestClient(app=create_app(broker_settings)) as client:
        r = await client.post(
            "/api/v1/children",
            json={
                "community_id": world.communities[0],
                "name": NAME,
                "gender": "male",
                "birth_date": BIRTH.isoformat(),
                "id_number": ID_NUMBER,
                "categories": ["left_behind"],
                "guardianship": "entrusted",
                "risk_level": "high",
                "guardian_name": GUARDIAN,
                "guardian_phone": PHONE,
                "address": ADDRESS,
                "household_notes": NOTES,
                "consent_to_share": True,
            },
            headers=director,
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r = await client.post(
            f"/api/v1/children/{cid}/visits",
            json={"visited_on": clock.today().isoformat(), "kind": "home", "findings": FINDINGS},
            headers=director,
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/api/v1/children/{cid}/needs", json={"category": "psych_counselling", "urgency": 3}, headers=director
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/referrals", json={"need_id": r.json()["id"], "service_id": world.services[0]}, headers=director
        )
        assert r.status_code == 201, r.text
        assert (await client.post(f"/api/v1/referrals/{r.json()['id']}/accept", headers=org)).status_code == 200
        r = await client.post(
            f"/api/v1/children/{cid}/reports",
            json={"kind": "lives_alone", "description": NOTES, "police_notified": True},
            headers=director,
        )
        assert r.status_code == 201, r.text
        r = await client.patch(f"/api/v1/children/{cid}", json={"status": "closed"}, headers=director)
        assert r.status_code == 200, r.text
    await _settled(db)
    # The file was closed years ago (the worker runs on the real clock): it is due.
    async with db.session() as s:
        child = await s.get(Child, cid)
        assert child is not None
        child.closed_at = clock.now() - dt.timedelta(days=366 * (broker_settings.retention_years + 1))
    # The nightly job, sent through the broker as the beat sends it.
    tasks.make_celery(broker_settings).send_task(tasks.RUN_JOB, args=["cases.purge_expired"])
    for _ in range(300):
        async with db.session(write=False) as s:
            if await s.get(Child, cid) is None:
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the worker did not run the retention job within 30 s")
    await _settled(db)
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).where(AuditEntry.action == "purged")) == 1
        found = await scan_database(s, CLEAR, {"child": {cid}})

    keys, texts = _redis_texts(redis.Redis.from_url(broker_settings.redis_url))
    queue = [f"redis holds {hit!r}" for hit in contains(texts, CLEAR)]
    # Messages carry outbox event ids, never a payload: no message names the child's records.
    queue += [
        f"a message names {key}" for key in ("child_id", "referral_id", "need_id") if any(key in t for t in texts)
    ]
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "workers.tasks.run_job" in worker_log and "succeeded" in worker_log
    logs = [f"worker log holds {hit!r}" for hit in contains([worker_log], CLEAR)]
    copies = found.copies + queue + logs
    figures.record("Retention", "files purged", 1)
    figures.record("Retention", "places scanned (tables, files, logs)", found.places + keys + 1)
    figures.record("Retention", "copies found", len(copies))
    assert copies == [], "\n".join(copies[:40])
