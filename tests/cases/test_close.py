"""Closing a child's file (PATCH status closed) leaves no open referral behind.

The chosen behaviour: closing revokes every referral still sent, accepted or in service (each through the
ordinary revoke, so a place an acceptance booked goes back to the service and the provider is told), withdraws
the child's active needs (open, matched or in service), and names what it withdrew in the response's warnings. A director closing a file
(the child turned 18, moved away) expects the district to stop the work, not to be sent off to revoke each
referral by hand first.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace import clock
from marketplace.cases.models import Child, Need
from marketplace.referrals.models import Referral
from marketplace.resources.models import ServiceCapacity
from tests.cases.support import Cases, add_need, add_referral
from tests.conftest import assert_problem


async def _booked(db, service_id: int) -> int:
    async with db.session(write=False) as s:
        row = await s.get(ServiceCapacity, (service_id, clock.month_key()))
        return row.booked if row else 0


async def test_closing_a_file_revokes_open_referrals_and_frees_their_places(
    client, auth, cases: Cases, world, db
) -> None:
    child = cases.children["A"]
    # A second need of the same child, referred to org2's district-wide service and already in service there.
    async with db.session() as s:
        other = await add_need(s, await _child(s, child), "education_aid")
        started = await add_referral(s, other, world.services[1], world.orgs[1], status="in_service")
        spare = await add_need(s, await _child(s, child), "hotline")
        started_id, other_id, spare_id = started.id, other.id, spare.id
    accepted = await client.post(f"/api/v1/referrals/{cases.referrals['A']}/accept", headers=await auth("org"))
    assert accepted.status_code == 200, accepted.text
    assert await _booked(db, world.services[0]) == 1

    r = await client.patch(f"/api/v1/children/{child}", json={"status": "closed"}, headers=await auth("director"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "closed"
    warnings = {w["code"]: w for w in body["warnings"]}
    assert warnings["referrals_revoked"]["referral_ids"] == sorted([cases.referrals["A"], started_id])
    assert sorted(warnings["needs_cancelled"]["need_ids"]) == sorted([cases.needs["A"], other_id, spare_id])

    async with db.session(write=False) as s:
        refs = {x.id: x for x in (await s.scalars(select(Referral).where(Referral.child_id == child))).all()}
        assert {x.status for x in refs.values()} == {"revoked"}
        assert all("结案" in (x.revoke_reason or "") for x in refs.values())
        needs = (await s.scalars(select(Need).where(Need.child_id == child))).all()
        assert {n.status for n in needs} == {"withdrawn"}
        assert all(n.settled_at is not None for n in needs)
    # The place the acceptance booked is free again for another child this month.
    assert await _booked(db, world.services[0]) == 0
    # The other child's referral (C) is untouched.
    other_child = await client.get(f"/api/v1/referrals/{cases.referrals['C']}", headers=await auth("admin"))
    assert other_child.json()["status"] == "sent"

    # Both providers hear that the referral was withdrawn.
    for who, rid in (("org", cases.referrals["A"]), ("org2", started_id)):
        notes = (await client.get("/api/v1/notifications", headers=await auth(who))).json()["items"]
        assert any(n["kind"] == "referral_revoke" and n["entity_id"] == rid for n in notes), notes

    # A closed file takes no new referral and no new need.
    assert_problem(
        await client.post(
            "/api/v1/referrals",
            json={"need_id": cases.needs["A"], "service_id": world.services[0]},
            headers=await auth("director"),
        ),
        409,
    )
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/needs",
            json={"category": "psych_counselling", "urgency": 2},
            headers=await auth("director"),
        ),
        409,
    )


async def test_closing_a_file_with_nothing_open_warns_of_nothing(client, auth, cases: Cases) -> None:
    child = cases.children["B"]
    h = await auth("director2")
    cancelled = await client.patch(f"/api/v1/needs/{cases.needs['B']}", json={"status": "cancelled"}, headers=h)
    assert cancelled.status_code == 200, cancelled.text
    r = await client.patch(f"/api/v1/children/{child}", json={"status": "closed"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []
    # Closing again changes nothing and revokes nothing.
    again = await client.patch(f"/api/v1/children/{child}", json={"status": "closed"}, headers=h)
    assert again.status_code == 200 and again.json()["warnings"] == []


async def _child(s, child_id: int):
    found = await s.get(Child, child_id)
    assert found is not None
    return found
