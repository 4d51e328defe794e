"""One request id from the request to the worker: a request sent with ``X-Request-ID: abc123`` that changes
something with an outbox effect leaves an access log line with abc123, and the real Celery worker that handles the
event writes its log lines (JSON on stderr) with abc123 too."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace.app import create_app
from marketplace.db import Database
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings
from tests.support import figures, workers
from tests.support.world import PASSWORD, World

pytestmark = pytest.mark.integration


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


async def test_the_request_id_reaches_the_worker_log_lines(
    broker_settings: Settings, world: World, db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "worker.log"
    proc = workers.start(broker_settings, log, extra_env={"MARKETPLACE_LOG_FORMAT": "json"})
    try:
        app = create_app(broker_settings)
        with caplog.at_level(logging.INFO, logger="marketplace.access"):
            async with AsyncTestClient(app=app) as client:
                r = await client.post("/api/v1/auth/login", json={"username": "org", "password": PASSWORD})
                headers = {"Authorization": f"Bearer {r.json()['access_token']}", "X-Request-ID": "abc123"}
                r = await client.post(f"/api/v1/services/{world.services[0]}/pause", headers=headers)
                assert r.status_code == 200, r.text
                assert r.headers["x-request-id"] == "abc123"
        for _ in range(150):
            async with db.session(write=False) as s:
                events = (await s.scalars(select(OutboxEvent))).all()
            if events and all(e.processed_at is not None for e in events):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the worker did not process the event within 15 s")
        assert {e.request_id for e in events} == {"abc123"}
        await asyncio.sleep(0.3)  # the task's last line ("succeeded") follows the commit
    finally:
        workers.stop(proc)

    access = [rec for rec in caplog.records if rec.name == "marketplace.access" and str(rec.route).endswith("/pause")]
    assert len(access) == 1, [(r.name, r.getMessage()) for r in caplog.records]
    assert access[0].request_id == "abc123" and access[0].status == 200

    lines = json_lines(log)
    assert lines, log.read_text()[-3000:]
    assert all({"ts", "level", "logger", "message", "role"} <= line.keys() for line in lines)
    assert {line["role"] for line in lines} == {"worker"}
    ours = [line for line in lines if line.get("request_id") == "abc123"]
    handled = [line for line in ours if line["logger"] == "marketplace.outbox" and "handled" in line["message"]]
    assert handled and handled[0]["topic"] == events[0].topic, ours
    assert any(line["logger"].startswith("celery") and "succeeded" in line["message"] for line in ours), ours
    # Nothing of another request is labelled with this one's id.
    assert all(line.get("request_id") in (None, "abc123") for line in lines)
    figures.record("observability", "worker log lines carrying the request id", len(ours))
