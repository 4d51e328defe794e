from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text

from marketplace import clock, outbox
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child, Notification
from marketplace.outbox import OutboxEvent
from tests.cases.support import Cases, birth_for_age, id_number
from tests.conftest import assert_problem


def child_body(world, **kw):
    birth = birth_for_age(9)
    body = {
        "community_id": world.communities[0],
        "name": "陈小乐",
        "gender": "female",
        "birth_date": birth.isoformat(),
        "id_number": id_number(birth, "992"),
        "categories": ["left_behind", "economic_hardship"],
        "guardianship": "entrusted",
        "risk_level": "high",
        "guardian_phone": "13900005678",
        "address": "福田区福山社区某某花园3栋",
        "consent_to_share": True,
    }
    body.update(kw)
    return body


async def audit_count(db, **where) -> int:
    async with db.session(write=False) as s:
        stmt = select(func.count()).select_from(AuditEntry)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return int(await s.scalar(stmt) or 0)


async def test_create_encrypts_masks_and_warns_on_duplicates(client, auth, world, db) -> None:
    body = child_body(world)
    r = await client.post("/api/v1/children", json=body, headers=await auth("director"))
    assert r.status_code == 201, r.text
    child = r.json()
    number = body["id_number"]
    # the director sees the birth date, so no digit of the number (marketplace.masking)
    assert child["id_number_masked"] == "*" * 18
    assert child["guardian_phone_masked"] == "139****5678"
    assert number not in r.text and "13900005678" not in r.text and "某某花园3栋" not in r.text
    assert child["warnings"] == []
    assert child["risk_label"] == "高危"
    assert child["next_visit_due"] == (clock.today() + dt.timedelta(days=14)).isoformat()
    # At rest: neither the number nor the phone is stored in clear.
    async with db.session(write=False) as s:
        raw = (
            await s.execute(
                text("SELECT id_number_enc, guardian_phone_enc, address_enc FROM children WHERE id = :i"),
                {"i": child["id"]},
            )
        ).one()
    assert all(number not in v and "13900005678" not in v for v in raw)
    # Same name and birth date, another identity number: a warning only.
    other_number = id_number(dt.date.fromisoformat(body["birth_date"]), "994")
    again = await client.post(
        "/api/v1/children", json=child_body(world, id_number=other_number), headers=await auth("director")
    )
    assert again.status_code == 201
    codes = {w["code"]: w["child_ids"] for w in again.json()["warnings"]}
    assert codes == {"possible_duplicate": [child["id"]]}
    # The same identity number: refused (one person, one file; tests/cases/test_one_file.py).
    same = await client.post("/api/v1/children", json=child_body(world), headers=await auth("director"))
    assert assert_problem(same, 409)["code"] == "id_number_exists"


async def test_create_validation_changes_nothing(client, auth, world, db) -> None:
    h = await auth("director")
    bad = [
        child_body(world, id_number="440304201501019915"),  # wrong check digit
        child_body(world, categories=["unknown"]),
        child_body(world, birth_date="2001-01-01", id_number=id_number(dt.date(2001, 1, 1))),
        child_body(world, risk_level="extreme"),
        child_body(world, extra_field=1),
    ]
    for body in bad:
        r = await client.post("/api/v1/children", json=body, headers=h)
        assert r.status_code in (400, 422), r.text
        assert_problem(r, r.status_code)
    other = await client.post("/api/v1/children", json=child_body(world, community_id=world.communities[2]), headers=h)
    assert_problem(other, 403)
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Child)) == 0


async def test_masked_fields_per_role_and_audit_per_read(client, auth, cases: Cases, db) -> None:
    child_id = cases.children["A"]
    for role in ("director", "supervisor", "admin", "auditor"):
        before = await audit_count(db, entity="child", entity_id=child_id, action="read")
        r = await client.get(f"/api/v1/children/{child_id}", headers=await auth(role))
        assert r.status_code == 200
        body = r.json()
        assert "*" in body["id_number_masked"] and body["guardian_phone_masked"] == "139****1234"
        assert "id_number" not in body and "guardian_phone" not in body
        assert await audit_count(db, entity="child", entity_id=child_id, action="read") == before + 1
    # The provider sees the child only through its referral, and then minimally.
    r = await client.get(f"/api/v1/referrals/{cases.referrals['A']}", headers=await auth("org"))
    assert r.status_code == 200
    view = r.json()["child"]
    assert view["surname_initial"] == "张*" and view["name"] is None and view["id"] is None
    assert view["age"] == 10 and view["community_name"] == "福山社区"
    assert r.json()["share_note"] == "孩子喜欢画画" and r.json()["need"]["note"] is None
    assert "张小明" not in r.text and "13900001234" not in r.text
    assert await audit_count(db, entity="child", entity_id=child_id, action="read_minimal") == 1
    # A list writes one row per child shown.
    before = await audit_count(db, action="list")
    r = await client.get("/api/v1/children", headers=await auth("admin"))
    assert r.json()["total"] == 3
    assert await audit_count(db, action="list") == before + 3


async def test_visits_follow_the_risk_tier(client, auth, cases: Cases) -> None:
    h = await auth("director")
    child_id = cases.children["A"]
    today = clock.today()
    r = await client.post(
        f"/api/v1/children/{child_id}/visits", json={"visited_on": today.isoformat(), "kind": "home"}, headers=h
    )
    assert r.status_code == 201, r.text
    assert r.json()["child_next_visit_due"] == (today + dt.timedelta(days=30)).isoformat()  # medium risk
    r = await client.patch(f"/api/v1/children/{child_id}", json={"risk_level": "critical"}, headers=h)
    assert r.json()["next_visit_due"] == (today + dt.timedelta(days=7)).isoformat()
    # An old visit recorded late does not move the schedule back.
    old = (today - dt.timedelta(days=40)).isoformat()
    r = await client.post(f"/api/v1/children/{child_id}/visits", json={"visited_on": old, "kind": "phone"}, headers=h)
    assert r.json()["child_next_visit_due"] == (today + dt.timedelta(days=7)).isoformat()
    future = (today + dt.timedelta(days=2)).isoformat()
    assert_problem(
        await client.post(
            f"/api/v1/children/{child_id}/visits", json={"visited_on": future, "kind": "home"}, headers=h
        ),
        422,
    )


async def test_overdue_visits(client, auth, cases: Cases, db) -> None:
    async with db.session() as s:
        child = await s.get(Child, cases.children["B"])
        assert child is not None
        child.next_visit_due = clock.today() - dt.timedelta(days=3)
    r = await client.get("/api/v1/visits/overdue", headers=await auth("supervisor"))
    assert [(i["child_id"], i["days_overdue"]) for i in r.json()["items"]] == [(cases.children["B"], 3)]
    r = await client.get(f"/api/v1/children/{cases.children['B']}", headers=await auth("director2"))
    assert r.json()["visit_overdue"] is True


async def test_mandatory_report_notifies_street_and_district(client, auth, cases: Cases, db, world) -> None:
    r = await client.post(
        f"/api/v1/children/{cases.children['A']}/reports",
        json={"kind": "abuse_suspected", "description": "身上多处淤青", "police_notified": True},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert set(report["notified_user_ids"]) == {world.users["supervisor"], world.users["admin"]}
    need = (await client.get(f"/api/v1/needs/{report['need_id']}", headers=await auth("director"))).json()
    assert need["urgency"] == 4 and need["emergency"] is True and need["status"] == "open"
    for who in ("supervisor", "admin"):
        notes = (await client.get("/api/v1/notifications", headers=await auth(who))).json()
        assert [n["kind"] for n in notes["items"]] == ["mandatory_report"] and notes["unread"] == 1
        assert notes["items"][0]["entity"] == "mandatory_report" and notes["items"][0]["entity_id"] == report["id"]
    # The report is a record: read back with its acknowledgement deadlines, the police flag and who was told.
    back = (await client.get(f"/api/v1/mandatory-reports/{report['id']}", headers=await auth("supervisor"))).json()
    assert back["child_id"] == cases.children["A"] and back["need_id"] == report["need_id"]
    assert back["police_notified"] is True and back["status"] == "open"
    assert set(back["notified_user_ids"]) == {world.users["supervisor"], world.users["admin"]}
    assert [a["level"] for a in back["acknowledgements"]] == ["supervisor", "district"]
    # Other street's supervisor hears nothing.
    assert (await client.get("/api/v1/notifications", headers=await auth("supervisor2"))).json()["total"] == 0
    child = (await client.get(f"/api/v1/children/{cases.children['A']}", headers=await auth("director"))).json()
    assert child["risk_level"] == "critical"
    # The handler is idempotent: running the event again adds no rows.
    async with db.session() as s:
        event = await s.scalar(select(OutboxEvent).where(OutboxEvent.topic == "cases.mandatory_report"))
        assert event is not None
        event.processed_at = None
    await outbox.process_event(db, event.id)
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 2


async def test_needs_validation(client, auth, cases: Cases) -> None:
    h = await auth("director")
    path = f"/api/v1/children/{cases.children['A']}/needs"
    assert_problem(await client.post(path, json={"category": "nope", "urgency": 2}, headers=h), 422)
    assert_problem(await client.post(path, json={"category": "legal_aid", "urgency": 5}, headers=h), 400)
    r = await client.post(path, json={"category": "legal_aid", "urgency": 2, "note": "监护纠纷"}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "open"
    # "cancelled" is the old word for withdrawing a need.
    r = await client.patch(f"/api/v1/needs/{r.json()['id']}", json={"status": "cancelled"}, headers=h)
    assert r.json()["status"] == "withdrawn" and r.json()["status_label"] == "已撤销"


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("admin")
    for method, url in [
        ("GET", "/api/v1/children/{id}"),
        ("GET", "/api/v1/needs/{id}"),
        ("POST", "/api/v1/notifications/{id}/read"),
        ("GET", "/api/v1/children?street_id={id}"),
        ("GET", "/api/v1/needs?child_id={id}"),
    ]:
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h), 404)
