from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from marketplace.audit.models import AuditEntry
from tests.cases.support import Cases
from tests.conftest import assert_problem


async def test_audit_is_readable_by_district_and_auditor_only_and_filterable(client, auth, cases: Cases, world) -> None:
    child_id = cases.children["A"]
    await client.get(f"/api/v1/children/{child_id}", headers=await auth("director"))
    await client.get(f"/api/v1/children/{child_id}", headers=await auth("supervisor"))
    for role in ("director", "supervisor", "org", "fund", "procurement"):
        assert_problem(await client.get("/api/v1/audit", headers=await auth(role)), 403)
    for role in ("admin", "auditor"):
        r = await client.get(f"/api/v1/audit?entity=child&entity_id={child_id}&action=read", headers=await auth(role))
        assert r.status_code == 200
        rows = r.json()["items"]
        assert [x["username"] for x in rows] == ["supervisor", "director"]
        assert "id_number_masked" in rows[0]["fields"]
    r = await client.get(f"/api/v1/audit?user_id={world.users['director']}", headers=await auth("auditor"))
    assert {x["username"] for x in r.json()["items"]} == {"director"}
    assert_problem(await client.get("/api/v1/audit?since=2026-01-01T00:00:00", headers=await auth("auditor")), 422)


async def test_audit_log_is_append_only_in_the_database(db, cases: Cases, client, auth) -> None:
    await client.get(f"/api/v1/children/{cases.children['A']}", headers=await auth("director"))
    for stmt in (update(AuditEntry).values(username="someone"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.session() as s:
                await s.execute(stmt)
    async with db.session(write=False) as s:
        rows = list((await s.scalars(select(AuditEntry))).all())
    assert rows and all(r.username != "someone" for r in rows)
    if db.settings.is_sqlite:
        return
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.session() as s:
            await s.execute(text("TRUNCATE audit_log"))


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("admin")
    for method, url in [("GET", "/api/v1/audit?user_id={id}")]:
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h), 404)
