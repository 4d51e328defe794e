from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from marketplace import clock
from marketplace.cases.models import Need, Notification
from marketplace.referrals.models import Referral
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from tests.cases.support import Cases, add_child, add_need, add_referral
from tests.conftest import assert_problem


async def booked(db, service_id: int) -> int:
    async with db.session(write=False) as s:
        return int(
            await s.scalar(
                select(func.coalesce(func.sum(ServiceCapacity.booked), 0)).where(
                    ServiceCapacity.service_id == service_id
                )
            )
            or 0
        )


async def test_full_loop_with_logs_outcome_and_follow_up(client, auth, cases: Cases, world, db) -> None:
    director, org = await auth("director"), await auth("org")
    need_b = cases.needs["B"]
    # B is an orphan in 岗厦 (director2); A's need gets a fresh referral after revoking the seeded one.
    rid = cases.referrals["A"]
    assert (
        await client.post(f"/api/v1/referrals/{rid}/revoke", json={"reason": "改派"}, headers=director)
    ).status_code == 200
    r = await client.post(
        "/api/v1/referrals", json={"need_id": cases.needs["A"], "service_id": world.services[0]}, headers=director
    )
    assert r.status_code == 201, r.text
    ref = r.json()
    assert ref["status"] == "sent" and ref["allowed_transitions"] == ["revoke"]
    assert ref["plan"]["organization"]["id"] == world.orgs[0]
    rid = ref["id"]
    # One open referral per need.
    assert_problem(
        await client.post(
            "/api/v1/referrals", json={"need_id": cases.needs["A"], "service_id": world.services[0]}, headers=director
        ),
        409,
    )
    assert (await client.get(f"/api/v1/referrals/{rid}", headers=org)).json()["allowed_transitions"] == [
        "accept",
        "decline",
    ]
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/start", headers=org), 409)
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/accept", headers=director), 403)
    assert (await client.post(f"/api/v1/referrals/{rid}/accept", headers=org)).status_code == 200
    assert await booked(db, world.services[0]) == 1
    assert (await client.post(f"/api/v1/referrals/{rid}/start", headers=org)).status_code == 200
    today = clock.today().isoformat()
    log = await client.post(
        f"/api/v1/referrals/{rid}/logs", json={"delivered_on": today, "note": "首次面谈", "minutes": 60}, headers=org
    )
    assert log.status_code == 201, log.text
    assert_problem(
        await client.post(f"/api/v1/referrals/{rid}/logs", json={"delivered_on": today, "note": "x"}, headers=director),
        403,
    )
    assert (await client.get(f"/api/v1/referrals/{rid}/logs", headers=director)).json()["total"] == 1
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/complete", json={"outcome": "great"}, headers=org), 400)
    done = await client.post(f"/api/v1/referrals/{rid}/complete", json={"outcome": "got_help"}, headers=org)
    assert done.json()["outcome_label"] == "已获得帮助"
    # The provider's outcome is a proposal: the need stays in service until the director's verdict.
    assert done.json()["need_status"] == "in_service" and done.json()["verdict"] is None
    need = (await client.get(f"/api/v1/needs/{cases.needs['A']}", headers=director)).json()
    assert need["status"] == "in_service"
    # Closing needs a follow-up visit recorded after completion.
    verdict = {"verdict": "met", "note": "回访确认已好转"}
    body = assert_problem(await client.post(f"/api/v1/referrals/{rid}/close", json=verdict, headers=director), 409)
    assert body["reason"] == "follow_up_visit_missing"
    await client.post(
        f"/api/v1/children/{cases.children['A']}/visits",
        json={"visited_on": today, "kind": "follow_up"},
        headers=director,
    )
    closed = await client.post(f"/api/v1/referrals/{rid}/close", json=verdict, headers=director)
    assert closed.json()["status"] == "closed" and closed.json()["allowed_transitions"] == []
    assert closed.json()["verdict"] == "met" and closed.json()["need_status"] == "met"
    assert need_b  # untouched
    # The director heard of the acceptance and the outcome; the org of the new referral.
    notes = (await client.get("/api/v1/notifications", headers=director)).json()["items"]
    assert {n["kind"] for n in notes} >= {"referral_accept", "referral_complete"}
    assert "referral_sent" in {
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=org)).json()["items"]
    }


async def test_decline_needs_reason_reopens_need_and_blocks_rematch(client, auth, cases: Cases, world) -> None:
    org2 = await auth("org2")
    rid = cases.referrals["C"]
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/decline", json={}, headers=org2), 400)
    r = await client.post(f"/api/v1/referrals/{rid}/decline", json={"reason": "本月社工不足"}, headers=org2)
    assert r.json()["status"] == "declined" and r.json()["decline_reason"] == "本月社工不足"
    h = await auth("director3")
    assert (await client.get(f"/api/v1/needs/{cases.needs['C']}", headers=h)).json()["status"] == "open"
    matches = (await client.post(f"/api/v1/needs/{cases.needs['C']}/matches", headers=h)).json()
    assert world.services[1] not in [c["service_id"] for c in matches["candidates"]]
    again = await client.post(
        "/api/v1/referrals", json={"need_id": cases.needs["C"], "service_id": world.services[1]}, headers=h
    )
    assert assert_problem(again, 409)["reason"] == "declined_before"


async def test_consent_is_required_or_overridden_by_the_supervisor(
    client, auth, cases: Cases, world, db, settings
) -> None:
    async with db.session() as s:
        child = await add_child(
            s, settings, world.communities[0], world.streets[0], name="孙小雨", consent=False, seq="997"
        )
        need = await add_need(s, child, "psych_counselling")
        need_id = need.id
    body = {"need_id": need_id, "service_id": world.services[0]}
    assert (
        assert_problem(await client.post("/api/v1/referrals", json=body, headers=await auth("director")), 409)["reason"]
        == "consent_missing"
    )
    assert_problem(
        await client.post(
            "/api/v1/referrals", json={**body, "consent_override_reason": "紧急"}, headers=await auth("director")
        ),
        403,
    )
    r = await client.post(
        "/api/v1/referrals",
        json={**body, "consent_override_reason": "监护人失联，儿童处境危急"},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["consent_override"] is True


async def test_revoke_after_accept_releases_the_place(client, auth, cases: Cases, world, db) -> None:
    rid = cases.referrals["A"]
    await client.post(f"/api/v1/referrals/{rid}/accept", headers=await auth("org"))
    assert await booked(db, world.services[0]) == 1
    r = await client.post(
        f"/api/v1/referrals/{rid}/revoke", json={"reason": "家庭搬迁"}, headers=await auth("supervisor")
    )
    assert r.json()["status"] == "revoked"
    assert await booked(db, world.services[0]) == 0
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/accept", headers=await auth("org")), 409)


async def test_sla_escalation_job(db, world, cases: Cases, settings) -> None:
    from marketplace.referrals.jobs import escalate_overdue
    from workers import runtime

    assert runtime.JOBS["referrals.escalate_overdue"] is escalate_overdue
    async with db.session() as s:
        old = await s.get(Referral, cases.referrals["A"])
        assert old is not None
        # The seeded needs are urgency 3: past its accept deadline, short of twice it (the first step only).
        old.sent_at = clock.now() - dt.timedelta(hours=settings.deadlines.accept_hours[3] + 1)
    assert await escalate_overdue(db) == 1
    assert await escalate_overdue(db) == 0  # idempotent
    async with db.session(write=False) as s:
        ref = await s.get(Referral, cases.referrals["A"])
        fresh = await s.get(Referral, cases.referrals["C"])
        assert ref is not None and ref.escalated_at is not None and ref.escalation_level == 1
        assert fresh is not None and fresh.escalated_at is None
        notes = list((await s.scalars(select(Notification).where(Notification.kind == "escalation_accept"))).all())
    # The child's director is told, the provider's staff reminded.
    assert sorted((n.recipient_id, n.entity_id) for n in notes) == sorted(
        [(world.users["director"], cases.referrals["A"]), (world.users["org"], cases.referrals["A"])]
    )


async def test_capacity_is_never_overbooked_under_concurrent_accepts(client, auth, world, db, settings) -> None:
    async with db.session() as s:
        svc = Service(
            organization_id=world.orgs[0],
            title="只剩一个名额的服务",
            capacity_per_month=3,
            status="published",
            district_wide=True,
            categories=[ServiceCategory(code="temporary_care")],
        )
        s.add(svc)
        await s.flush()
        s.add(ServiceCapacity(service_id=svc.id, month=clock.month_key(), booked=2))
        child = await add_child(s, settings, world.communities[0], world.streets[0], seq="999")
        ids = []
        for _ in range(50):
            need = await add_need(s, child, "temporary_care")
            ids.append((await add_referral(s, need, svc.id, world.orgs[0])).id)
        service_id = svc.id
    headers = await auth("org")
    responses = await asyncio.gather(*(client.post(f"/api/v1/referrals/{i}/accept", headers=headers) for i in ids))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 49, codes
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409)
    assert await booked(db, service_id) == 3
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Referral).where(Referral.status == "accepted")) == 1
        # The acceptance leaves the need matched (it is in service from the start); no refusal changed any.
        assert await s.scalar(select(func.count()).select_from(Need).where(Need.status == "matched")) == 50


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("admin")
    for method, url in [
        ("GET", "/api/v1/referrals/{id}"),
        ("POST", "/api/v1/referrals/{id}/close"),
        ("GET", "/api/v1/referrals?need_id={id}"),
    ]:
        body_in = {"verdict": "met"} if method == "POST" else None
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h, json=body_in), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h, json=body_in), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h, json=body_in), 404)
