"""Contact details for field work: the child's director and the street's supervisor reveal the guardian's phone and
address, one child at a time, with a stated reason written to the audit log."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.audit.models import AuditEntry
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child
from tests.cases.support import Cases
from tests.conftest import assert_problem


async def reveals(db, child_id: int) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "reveal", AuditEntry.entity == "child", AuditEntry.entity_id == child_id)
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


async def test_director_and_supervisor_reveal_with_a_reason_and_an_audit_row(
    client, auth, cases: Cases, world, db, settings
) -> None:
    a = cases.children["A"]
    async with db.session() as s:
        child = await s.get(Child, a)
        assert child is not None
        child.address_enc = field_cipher(settings).encrypt("福田区福山社区某某花园3栋", "children.address")
        child.guardian_relation = "父亲"
    r = await client.post(
        f"/api/v1/children/{a}/contact", json={"reason": "明日入户走访，需联系监护人"}, headers=await auth("director")
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "child_id": a,
        "guardian_name": "张建国",
        "guardian_relation": "父亲",
        "guardian_phone": "13900001234",
        "address": "福田区福山社区某某花园3栋",
    }
    rows = await reveals(db, a)
    assert len(rows) == 1
    assert rows[0].user_id == world.users["director"] and rows[0].role == "child_director"
    assert rows[0].fields == ["guardian_phone", "address"]
    assert rows[0].detail["reason"] == "明日入户走访，需联系监护人"
    r = await client.post(
        f"/api/v1/children/{a}/contact", json={"reason": "督导核查"}, headers=await auth("supervisor")
    )
    assert r.status_code == 200 and r.json()["guardian_phone"] == "13900001234"
    rows = await reveals(db, a)
    assert len(rows) == 2 and rows[1].user_id == world.users["supervisor"] and rows[1].detail["reason"] == "督导核查"
    # A file without an address reveals an empty one.
    r = await client.post(
        f"/api/v1/children/{cases.children['C']}/contact", json={"reason": "走访"}, headers=await auth("director3")
    )
    assert r.status_code == 200 and r.json()["address"] == ""


async def test_others_are_refused_and_nothing_is_audited(client, auth, cases: Cases, db) -> None:
    a = cases.children["A"]
    body = {"reason": "想看看"}
    # The district reads the file but not the contact: 403; outside the file's scope: 404.
    for role in ("admin", "auditor"):
        assert_problem(await client.post(f"/api/v1/children/{a}/contact", json=body, headers=await auth(role)), 403)
    for role in ("director2", "director3", "supervisor2", "org", "fund", "procurement"):
        r = await client.post(f"/api/v1/children/{a}/contact", json=body, headers=await auth(role))
        assert_problem(r, 404)
    assert_problem(await client.post("/api/v1/children/999999/contact", json=body, headers=await auth("director")), 404)
    assert await reveals(db, a) == []


async def test_a_reason_is_required(client, auth, cases: Cases, db) -> None:
    a = cases.children["A"]
    h = await auth("director")
    for body in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "走访", "child_ids": [1, 2]}):
        assert_problem(await client.post(f"/api/v1/children/{a}/contact", json=body, headers=h), 400)
    assert_problem(await client.post(f"/api/v1/children/{a}/contact", json={"reason": "   "}, headers=h), 422)
    assert await reveals(db, a) == []
