"""Idempotency-Key on the API's creating POSTs: replay, another body (422), in flight (409), failed requests not
kept, bad keys (400), per caller, expiry and its purge; on SQLite and PostgreSQL (TEST_DATABASE)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select, update

from marketplace import clock
from marketplace.accounts.models import OrganizationApplication
from marketplace.audit.models import AuditEntry
from marketplace.idempotency import service as idempotency
from marketplace.idempotency.models import IdempotencyKey
from marketplace.resources.models import Service
from tests.accounts.support import application
from tests.cases.test_api import child_body
from tests.conftest import Auth, assert_problem
from tests.resources.test_api import service_body
from tests.support.world import World

S = "/api/v1/services"


async def services(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(Service)) or 0)


async def keys(db: Any) -> list[IdempotencyKey]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id))).all())


async def test_a_retry_gets_the_first_answer_and_creates_once(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("org"), "Idempotency-Key": str(uuid.uuid4())}
    before = await services(db)
    first = await client.post(S, json=service_body(world), headers=h)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await client.post(S, json=service_body(world), headers=h)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["content-type"] == first.headers["content-type"]
    assert await services(db) == before + 1
    [row] = await keys(db)
    assert row.owner == f"user:{world.users['org']}" and row.status_code == 201 and row.path == S
    assert row.expires_at - row.completed_at >= dt.timedelta(hours=24)
    # Without a key every POST is its own request, as before.
    plain = await auth("org")
    assert (await client.post(S, json=service_body(world), headers=plain)).status_code == 201
    assert await services(db) == before + 2


async def test_the_same_key_with_another_body_is_refused(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("org"), "Idempotency-Key": "order-2026-12-03-0001"}
    assert (await client.post(S, json=service_body(world), headers=h)).status_code == 201
    before = await services(db)
    body = assert_problem(await client.post(S, json=service_body(world, title="另一个服务项目"), headers=h), 422)
    assert "Idempotency-Key" in body["detail"]
    # Another path under the same key is another request too.
    other = await client.post("/api/v1/social-workers", json={}, headers=h)
    assert_problem(other, 422)
    assert await services(db) == before


async def test_a_request_still_in_flight_answers_409(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("org"), "Idempotency-Key": "in-flight-1"}
    first = await client.post(S, json=service_body(world), headers=h)
    assert first.status_code == 201
    # The stored answer made into a claim of a request still running (as a concurrent first attempt leaves it).
    async with db.session() as s:
        await s.execute(
            update(IdempotencyKey).values(status_code=None, body=None, headers=None, claimed_at=clock.now())
        )
    before = await services(db)
    r = await client.post(S, json=service_body(world), headers=h)
    assert_problem(r, 409)
    assert r.headers["retry-after"] == "1"
    assert await services(db) == before
    # A claim older than the lease is of a request that died (its write rolled back): the retry takes it over.
    async with db.session() as s:
        await s.execute(
            update(IdempotencyKey).values(claimed_at=clock.now() - dt.timedelta(seconds=idempotency.LEASE_SECONDS + 1))
        )
    r = await client.post(S, json=service_body(world), headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await services(db) == before + 1
    replay = await client.post(S, json=service_body(world), headers=h)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == r.json()


async def test_a_failed_request_keeps_no_key(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("org"), "Idempotency-Key": "retry-after-fix"}
    before = await services(db)
    assert_problem(await client.post(S, json=service_body(world, age_min=15, age_max=3), headers=h), 422)
    assert await keys(db) == []
    # The corrected request may use the same key.
    r = await client.post(S, json=service_body(world), headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await services(db) == before + 1
    # A refusal by scope (another organization's id) is not kept either.
    h2 = {**await auth("org"), "Idempotency-Key": "refused-by-scope"}
    assert (await client.post(S, json=service_body(world, organization_id=world.orgs[1]), headers=h2)).status_code in (
        403,
        404,
    )
    assert len(await keys(db)) == 1


async def test_bad_keys_are_refused_before_anything(client, auth: Auth, world: World, db) -> None:
    h = await auth("org")
    before = await services(db)
    bad_keys: list[str | bytes] = ["x" * 256, "has space", "中文键".encode(), ""]
    for bad in bad_keys:
        r = await client.post(S, json=service_body(world), headers={**h, "Idempotency-Key": bad})
        body = assert_problem(r, 400)
        assert "Idempotency-Key" in body["detail"]
    assert await services(db) == before and await keys(db) == []
    ok = await client.post(S, json=service_body(world), headers={**h, "Idempotency-Key": "k" * 255})
    assert ok.status_code == 201


async def test_keys_belong_to_their_caller(client, auth: Auth, world: World, db) -> None:
    key = {"Idempotency-Key": "shared-looking-key"}
    before = await services(db)
    mine = await client.post(S, json=service_body(world), headers={**await auth("org"), **key})
    theirs = await client.post(S, json=service_body(world), headers={**await auth("admin"), **key})
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers and mine.json()["id"] != theirs.json()["id"]
    assert await services(db) == before + 2
    # An invalid token is refused as without a key, and claims nothing.
    r = await client.post(S, json=service_body(world), headers={"Authorization": "Bearer nope", **key})
    assert_problem(r, 401)
    assert len(await keys(db)) == 2


async def test_anonymous_callers_are_keyed_by_address(client, world: World, db) -> None:
    key = {"Idempotency-Key": "application-2026-12-03"}
    first = await client.post(
        "/api/v1/organization-applications", json=application(311, street_ids=[world.streets[0]]), headers=key
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/api/v1/organization-applications", json=application(311, street_ids=[world.streets[0]]), headers=key
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(OrganizationApplication)) == 1
    [row] = await keys(db)
    assert row.owner.startswith("anon:")


async def test_expired_keys_are_purged_and_no_longer_replayed(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("org"), "Idempotency-Key": "expires"}
    assert (await client.post(S, json=service_body(world), headers=h)).status_code == 201
    assert (await client.post(S, json=service_body(world), headers=h)).headers["idempotent-replayed"] == "true"
    assert await idempotency.purge(db) == 0  # not yet
    async with db.session() as s:
        await s.execute(update(IdempotencyKey).values(expires_at=clock.now() - dt.timedelta(seconds=1)))
    before = await services(db)
    # Past its expiry the key is a new key: the request runs again.
    r = await client.post(S, json=service_body(world), headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await services(db) == before + 1
    async with db.session() as s:
        await s.execute(update(IdempotencyKey).values(expires_at=clock.now() - dt.timedelta(seconds=1)))
    assert await idempotency.purge(db) == 1
    assert await keys(db) == []


async def test_the_schema_documents_the_header_on_creating_operations(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    keyed = {
        op["operationId"]
        for path in schema["paths"].values()
        for method, op in path.items()
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    }
    assert {"createService", "createDonation", "createDisbursement", "payContract", "payAllowanceRun"} <= keyed
    assert "login" not in keyed and "stripeWebhook" not in keyed and "listServices" not in keyed
    for path in schema["paths"].values():
        for op in path.values():
            if op.get("operationId") in keyed:
                assert {"400", "409", "422"} <= set(op["responses"]), op["operationId"]


async def test_a_replayed_child_record_is_audited_as_a_read(client, auth: Auth, world: World, db) -> None:
    h = {**await auth("director"), "Idempotency-Key": "child-once"}
    first = await client.post("/api/v1/children", json=child_body(world), headers=h)
    assert first.status_code == 201, first.text
    async with db.session(write=False) as s:
        before = int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    again = await client.post("/api/v1/children", json=child_body(world), headers=h)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    async with db.session(write=False) as s:
        rows = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))).all()
        assert int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0) == before + 1
    [row] = rows
    assert row.user_id == world.users["director"] and row.action == "read" and row.entity == "child"
    assert row.detail["replayed"] is True and row.detail["operation"] == "createChild"
