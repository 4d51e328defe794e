"""The same Idempotency-Key sent N times at once to the served app (granian, N connections): one creation, every
other answer the first one's (a replay) or 409 while it runs; never a 5xx, never a second service. On SQLite and
PostgreSQL (TEST_DATABASE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from marketplace.resources.models import Service
from tests.resources.test_api import service_body
from tests.support import figures
from tests.support.racing import fire, login, served_app
from tests.support.world import PASSWORD, World

SUITE = "Idempotency keys"
N = 8


async def services(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(Service)) or 0)


async def test_one_key_sent_at_once_creates_once(database_url: str, world: World, db: Any, tmp_path: Path) -> None:
    with served_app(database_url, tmp_path / "served") as served:
        headers = await login(served.url, "org", PASSWORD)
        before = await services(db)
        body = service_body(world, title="同一幂等键并发提交的服务")
        keyed = {**headers, "Idempotency-Key": "volley-0001"}

        def send(client: httpx.AsyncClient) -> Any:
            return client.post("/api/v1/services", json=body, headers=keyed)

        volley = await fire(served.url, [send] * N)
        created = await services(db) - before
        ids = {o.body["id"] for o in volley.outcomes if o.status == 201}
        figures.record(SUITE, "same-key requests sent at once", N)
        figures.record(SUITE, "same-key peak in flight", volley.peak_overlap())
        figures.record(SUITE, "same-key server errors", len(volley.server_errors()))
        figures.record(SUITE, "same-key duplicated creations", created - 1)
        assert volley.server_errors() == [] and volley.locked() == [], served.tail()
        assert created == 1 and len(ids) == 1, volley.codes
        assert volley.count(201) >= 1 and volley.count(201, 409) == N, volley.codes
        for o in volley.outcomes:
            if o.status == 409:
                assert o.body["status"] == 409 and "Idempotency-Key" in o.body["detail"]
        assert volley.peak_overlap() >= N // 2, "the requests did not overlap"

        # A retry after the volley gets the one creation's answer.
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            again = await client.post("/api/v1/services", json=body, headers=keyed)
        assert again.status_code == 201 and again.json()["id"] in ids
        assert again.headers["idempotent-replayed"] == "true"

        # Control: N different keys at once are N creations.
        def distinct(n: int) -> Any:
            def send_one(client: httpx.AsyncClient) -> Any:
                return client.post("/api/v1/services", json=body, headers={**headers, "Idempotency-Key": f"own-{n}"})

            return send_one

        control = await fire(served.url, [distinct(n) for n in range(N)])
        assert control.count(201) == N and await services(db) == before + 1 + N, control.codes
