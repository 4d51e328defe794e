"""A matching run's proposals turned into referrals in one action: consent per child, skipped ones with a reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from marketplace.cases.models import Child, Need
from marketplace.matching.models import MatchingRun
from marketplace.referrals.models import Referral
from marketplace.resources.models import Service
from tests.cases.support import add_child, add_need
from tests.conftest import assert_problem

SENT = {"matched"}


async def open_needs(db: Any, settings: Any, world: Any) -> dict[str, int]:
    """Four open needs in 福田街道 and one in 园岭街道: X, Y, Z with consent, W without."""
    s1, s2 = world.streets
    c1, c2, c3 = world.communities
    async with db.session() as session:
        x = await add_child(session, settings, c1, s1, name="陈小东", categories=["left_behind"], seq="981")
        y = await add_child(session, settings, c2, s1, name="刘小南", categories=["orphan"], seq="983")
        w = await add_child(
            session, settings, c1, s1, name="周小西", categories=["left_behind"], consent=False, seq="985"
        )
        z = await add_child(session, settings, c3, s2, name="吴小北", categories=["economic_hardship"], seq="987")
        return {
            "X": (await add_need(session, x, "psych_counselling", 4)).id,
            "Y": (await add_need(session, y, "psych_counselling", 3)).id,
            "W": (await add_need(session, w, "psych_counselling", 2)).id,
            "Z": (await add_need(session, z, "education_aid", 3)).id,
        }


async def run_of(client: Any, headers: dict[str, str], street_id: int | None = None) -> dict[str, Any]:
    r = await client.post("/api/v1/matching/runs", json={"street_id": street_id}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def statuses(db: Any, ids: dict[str, int]) -> dict[str, str]:
    async with db.session(write=False) as s:
        rows = dict((await s.execute(select(Need.id, Need.status).where(Need.id.in_(ids.values())))).all())
    return {k: rows[v] for k, v in ids.items()}


async def test_district_run_becomes_referrals_consent_checked_per_child(client, auth, world, db, settings) -> None:
    needs = await open_needs(db, settings, world)
    admin = await auth("admin")
    run = await run_of(client, admin)
    proposed = {a["need_id"]: a["service_id"] for a in run["assignments"]}
    assert set(needs.values()) <= set(proposed)
    r = await client.post(f"/api/v1/matching/runs/{run['id']}/referrals", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run_id"] == run["id"]
    created = {c["need_id"]: c for c in body["created"]}
    assert set(created) == {needs["X"], needs["Y"], needs["Z"]}
    assert body["skipped"] == [
        {
            "need_id": needs["W"],
            "reason": "consent_missing",
            "message": "监护人尚未同意共享信息，请先记录同意后单独转介",
        }
    ]
    state = await statuses(db, needs)
    assert state["W"] == "open" and {state["X"], state["Y"], state["Z"]} <= SENT
    async with db.session(write=False) as s:
        refs = {r.need_id: r for r in (await s.scalars(select(Referral).where(Referral.need_id.in_(created)))).all()}
        stored = await s.get(MatchingRun, run["id"])
        assert stored is not None
    for need_id, c in created.items():
        assert refs[need_id].id == c["referral_id"] and refs[need_id].status == "sent"
        assert refs[need_id].service_id == c["service_id"] == proposed[need_id]
        assert refs[need_id].sent_by == world.users["admin"]
    assert {a["need_id"]: a.get("referral_id") for a in stored.assignments if a["need_id"] in created} == {
        k: v["referral_id"] for k, v in created.items()
    }
    read = (await client.get(f"/api/v1/matching/runs/{run['id']}", headers=admin)).json()
    assert {a["need_id"]: a["referral_id"] for a in read["assignments"]}[needs["X"]] == created[needs["X"]][
        "referral_id"
    ]

    # Again: nothing is sent twice; the child without consent is still listed.
    again = (await client.post(f"/api/v1/matching/runs/{run['id']}/referrals", json={}, headers=admin)).json()
    assert again["created"] == []
    reasons = {s["need_id"]: s["reason"] for s in again["skipped"]}
    assert reasons == {
        needs["X"]: "already_referred",
        needs["Y"]: "already_referred",
        needs["Z"]: "already_referred",
        needs["W"]: "consent_missing",
    } | {k: reasons[k] for k in set(proposed) - set(needs.values())}


async def test_a_reviewed_subset_and_needs_no_longer_open(client, auth, world, db, settings) -> None:
    needs = await open_needs(db, settings, world)
    supervisor = await auth("supervisor")
    run = await run_of(client, supervisor)
    assert needs["Z"] not in {a["need_id"] for a in run["assignments"]}  # another street's need
    # Y is withdrawn in the meantime; an unknown id is not in the run.
    async with db.session() as s:
        y = await s.get(Need, needs["Y"])
        assert y is not None
        y.status = "withdrawn"
    r = await client.post(
        f"/api/v1/matching/runs/{run['id']}/referrals",
        json={"need_ids": [needs["X"], needs["Y"], needs["Z"], needs["X"]], "share_note": "批量转介，请尽快联系"},
        headers=supervisor,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["need_id"] for c in body["created"]] == [needs["X"]]
    assert {s["need_id"]: s["reason"] for s in body["skipped"]} == {
        needs["Y"]: "need_not_open",
        needs["Z"]: "not_in_run",
    }
    state = await statuses(db, needs)
    assert state["X"] in SENT and state["W"] == "open"
    async with db.session(write=False) as s:
        ref = await s.scalar(select(Referral).where(Referral.need_id == needs["X"]))
        assert ref is not None and ref.share_note == "批量转介，请尽快联系"


async def test_closed_file_and_a_service_no_longer_available(client, auth, world, db, settings) -> None:
    needs = await open_needs(db, settings, world)
    admin = await auth("admin")
    run = await run_of(client, admin)
    async with db.session() as s:
        x = await s.get(Need, needs["X"])
        z = await s.get(Need, needs["Z"])
        assert x is not None and z is not None
        child = await s.get(Child, x.child_id)
        assert child is not None
        child.status = "closed"
        svc = await s.get(Service, world.services[1])
        assert svc is not None
        svc.age_max = 6  # Z's child (10) is no longer eligible
    body = (
        await client.post(
            f"/api/v1/matching/runs/{run['id']}/referrals", json={"need_ids": [needs["X"], needs["Z"]]}, headers=admin
        )
    ).json()
    assert body["created"] == []
    skipped = {s["need_id"]: s for s in body["skipped"]}
    assert skipped[needs["X"]]["reason"] == "file_closed"
    assert skipped[needs["Z"]]["reason"] == "service_unavailable"
    assert skipped[needs["Z"]]["message"].startswith("该服务不符合条件")
    assert (await statuses(db, needs))["Z"] == "open"


async def test_who_may_and_bad_bodies(client, auth, world, db, settings) -> None:
    await open_needs(db, settings, world)
    run = await run_of(client, await auth("supervisor"))
    url = f"/api/v1/matching/runs/{run['id']}/referrals"
    assert_problem(await client.post(url, headers=await auth("supervisor2")), 404)
    assert_problem(await client.post(url, headers=await auth("director")), 403)
    assert_problem(await client.post(url, headers=await auth("org")), 403)
    district = await run_of(client, await auth("admin"))
    assert_problem(
        await client.post(f"/api/v1/matching/runs/{district['id']}/referrals", headers=await auth("supervisor")), 404
    )
    assert_problem(await client.post("/api/v1/matching/runs/999999/referrals", headers=await auth("admin")), 404)
    sup = await auth("supervisor")
    for bad in ({"need_ids": "all"}, {"need_ids": [0]}, {"need_ids": []}, {"unknown": 1}, {"share_note": "x" * 2001}):
        assert_problem(await client.post(url, json=bad, headers=sup), 400)
    r = await client.post(url, content=b"{not json", headers={**sup, "Content-Type": "application/json"})
    assert r.status_code == 400
