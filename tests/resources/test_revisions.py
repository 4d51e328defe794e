"""Revisions of published services: the organization proposes, the district approves or returns, the live listing
stays as the district approved it until then, and every revision stays as history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.outbox import OutboxEvent
from marketplace.resources.models import Service, ServiceRevision
from tests.conftest import Auth, assert_problem
from tests.support.world import World

S = "/api/v1/services"
QUEUE = "/api/v1/service-revisions"


async def live(client, auth: Auth, sid: int) -> dict:
    r = await client.get(f"{S}/{sid}", headers=await auth("director"))
    assert r.status_code == 200, r.text
    return r.json()


async def revision_count(db) -> int:
    async with db.session(write=False) as s:
        return await s.scalar(select(func.count()).select_from(ServiceRevision)) or 0


async def test_an_edit_of_a_published_service_waits_for_review_then_goes_live(
    client, auth: Auth, world: World, db
) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    before = await live(client, auth, sid)
    # The old contract refuses to change a live listing in place, and says where changes go.
    body = assert_problem(await client.patch(f"{S}/{sid}", json={"title": "新标题"}, headers=org), 409)
    assert body["revisions"] == f"{S}/{sid}/revisions" and body["fields"] == ["title"]
    r = await client.post(
        f"{S}/{sid}/revisions",
        json={"title": "困境儿童心理疏导（升级版）", "capacity_per_month": 20, "street_ids": []},
        headers=org,
    )
    assert r.status_code == 200, r.text
    rev = r.json()
    assert rev["status"] == "draft" and rev["open"] and rev["allowed_actions"] == ["submit", "withdraw"]
    assert {d["field"]: (d["current"], d["proposed"]) for d in rev["diff"]} == {
        "title": ("困境儿童心理疏导服务", "困境儿童心理疏导（升级版）"),
        "capacity_per_month": (10, 20),
        "street_ids": ([world.streets[0]], []),
    }
    assert [d["label"] for d in rev["diff"]] == ["服务名称", "每月名额", "服务街道"]
    rid = rev["id"]
    # Keep editing: the same open revision, fields merged.
    r = await client.post(f"{S}/{sid}/revisions", json={"schedule": "每周六上午"}, headers=org)
    assert r.json()["id"] == rid and set(r.json()["changes"]) == {
        "title",
        "capacity_per_month",
        "street_ids",
        "schedule",
    }
    r = await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    assert r.status_code == 200 and r.json()["status"] == "pending_review" and r.json()["submitted_at"]
    # The live listing is unchanged while the revision waits, and stays in the pool.
    assert await live(client, auth, sid) == before
    listing = (await client.get(S, headers=await auth("director"))).json()
    assert sid in [s["id"] for s in listing["items"]]
    # The district's queue shows it with the diff.
    queue = (await client.get(f"{QUEUE}?status=pending_review", headers=admin)).json()
    assert queue["total"] == 1 and queue["items"][0]["id"] == rid
    assert queue["items"][0]["allowed_actions"] == ["approve", "return"]
    r = await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and not done["open"] and done["decided_by"] == world.users["admin"]
    after = await live(client, auth, sid)
    assert after["title"] == "困境儿童心理疏导（升级版）" and after["capacity_per_month"] == 20
    assert after["district_wide"] is True and after["schedule"] == "每周六上午" and after["status"] == "published"
    assert after["assured_on"] != before["assured_on"]
    # History keeps what was replaced.
    hist = (await client.get(f"{S}/{sid}/revisions", headers=org)).json()
    assert hist["total"] == 1
    assert {d["field"]: d["current"] for d in hist["items"][0]["diff"]}["title"] == "困境儿童心理疏导服务"
    async with db.session(write=False) as s:
        topics = [(e.topic, e.payload) for e in (await s.scalars(select(OutboxEvent))).all()]
    assert ("service.changed", {"service_id": sid, "revision_id": rid}) in topics
    # Search sees the new title at once (service.changed re-indexes it).
    found = (await client.get(f"{S}?q=升级版", headers=await auth("director"))).json()
    assert [s["id"] for s in found["items"]][:1] == [sid]


async def test_a_returned_revision_keeps_the_live_listing_and_can_be_resubmitted(
    client, auth: Auth, world: World
) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"cost_per_case_fen": 90_000}, headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    # A reason is required; a blank one changes nothing.
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/return", json={"reason": "  "}, headers=admin), 422)
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/return", json={}, headers=admin), 400)
    r = await client.post(f"{S}/{sid}/revisions/{rid}/return", json={"reason": "成本上涨请附说明"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["reason"] == "成本上涨请附说明"
    assert (await live(client, auth, sid))["cost_per_case_fen"] == 50_000
    # The organization sees the reason, edits and resubmits the same revision.
    got = (await client.get(f"{S}/{sid}/revisions/{rid}", headers=org)).json()
    assert got["reason"] == "成本上涨请附说明" and got["allowed_actions"] == ["submit", "withdraw"]
    r = await client.post(
        f"{S}/{sid}/revisions", json={"cost_per_case_fen": 60_000, "fees_text": "含材料费"}, headers=org
    )
    assert r.json()["id"] == rid and r.json()["status"] == "returned"
    assert (await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)).json()["status"] == "pending_review"
    assert (await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=admin)).json()["status"] == "approved"
    assert (await live(client, auth, sid))["cost_per_case_fen"] == 60_000


async def test_editing_a_revision_under_review_takes_it_back_to_the_organization(
    client, auth: Auth, world: World
) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"wait_time_days": 3}, headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    r = await client.post(f"{S}/{sid}/revisions", json={"wait_time_days": 5}, headers=org)
    assert r.json()["status"] == "draft" and r.json()["submitted_at"] is None
    # The district cannot approve values it has not seen submitted.
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=admin), 409)


async def test_withdraw_keeps_history_and_a_new_revision_can_start(client, auth: Auth, world: World, db) -> None:
    org = await auth("org")
    sid = world.services[0]
    first = (await client.post(f"{S}/{sid}/revisions", json={"title": "第一版"}, headers=org)).json()["id"]
    r = await client.post(f"{S}/{sid}/revisions/{first}/withdraw", headers=org)
    assert r.json()["status"] == "withdrawn" and r.json()["allowed_actions"] == []
    assert_problem(await client.post(f"{S}/{sid}/revisions/{first}/submit", headers=org), 409)
    second = (await client.post(f"{S}/{sid}/revisions", json={"title": "第二版"}, headers=org)).json()
    assert second["id"] != first and second["changes"] == {"title": "第二版"}
    hist = (await client.get(f"{S}/{sid}/revisions", headers=org)).json()
    assert [i["id"] for i in hist["items"]] == [second["id"], first]
    assert (await live(client, auth, sid))["title"] == "困境儿童心理疏导服务"


async def test_one_open_revision_per_service_in_the_database(world: World, db) -> None:
    sid = world.services[0]
    async with db.session() as s:
        s.add(ServiceRevision(service_id=sid, status="draft", changes={"title": "a"}, previous={}, reason=""))
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(ServiceRevision(service_id=sid, status="pending_review", changes={}, previous={}, reason=""))
    async with db.session() as s:  # closed revisions are history: any number of them
        s.add(ServiceRevision(service_id=sid, status="withdrawn", changes={}, previous={}, reason=""))
        s.add(ServiceRevision(service_id=sid, status="approved", changes={}, previous={}, reason=""))


async def test_assured_on_alone_stays_immediate_and_drafts_edit_in_place(client, auth: Auth, world: World) -> None:
    org = await auth("org")
    sid = world.services[0]
    r = await client.patch(f"{S}/{sid}", json={}, headers=org)  # "still current"
    assert r.status_code == 200 and r.json()["assured_on"] != "2026-10-01"
    r = await client.patch(f"{S}/{sid}", json={"assured_on": "2026-11-20"}, headers=org)
    assert r.status_code == 200 and r.json()["assured_on"] == "2026-11-20"
    # A draft changes in place, and has no revisions.
    draft = world.services[2]
    r = await client.patch(f"{S}/{draft}", json={"title": "法律援助进社区"}, headers=org)
    assert r.status_code == 200 and r.json()["title"] == "法律援助进社区"
    assert_problem(await client.post(f"{S}/{draft}/revisions", json={"title": "x"}, headers=org), 409)
    # The district, the reviewer, still edits a live listing in place.
    r = await client.patch(f"{S}/{sid}", json={"title": "区民政更正的名称"}, headers=await auth("admin"))
    assert r.status_code == 200 and r.json()["title"] == "区民政更正的名称"


async def test_paused_services_change_through_revisions_too(client, auth: Auth, world: World) -> None:
    org = await auth("org")
    sid = world.services[0]
    await client.post(f"{S}/{sid}/pause", headers=org)
    assert_problem(await client.patch(f"{S}/{sid}", json={"title": "暂停期间改名"}, headers=org), 409)
    r = await client.post(f"{S}/{sid}/revisions", json={"title": "暂停期间改名"}, headers=org)
    assert r.status_code == 200 and r.json()["service_status"] == "paused"
    rid = r.json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    r = await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=await auth("admin"))
    assert r.status_code == 200
    got = (await client.get(f"{S}/{sid}", headers=org)).json()
    assert got["title"] == "暂停期间改名" and got["status"] == "paused"


async def test_archiving_closes_the_open_revision(client, auth: Auth, world: World) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"title": "归档前的修改"}, headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    await client.post(f"{S}/{sid}/archive", headers=org)
    got = (await client.get(f"{S}/{sid}/revisions/{rid}", headers=admin)).json()
    assert got["status"] == "withdrawn" and got["reason"] == "服务已归档"
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=admin), 409)
    assert_problem(await client.post(f"{S}/{sid}/revisions", json={"title": "x"}, headers=org), 409)


async def test_scope_others_find_nothing(client, auth: Auth, world: World, db) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"title": "新名称"}, headers=org)).json()["id"]
    for role in ("org2", "director", "supervisor", "fund", "auditor", "procurement"):
        h = await auth(role)
        assert_problem(await client.get(f"{S}/{sid}/revisions", headers=h), 404)
        assert_problem(await client.get(f"{S}/{sid}/revisions/{rid}", headers=h), 404)
        assert_problem(await client.post(f"{S}/{sid}/revisions", json={"title": "篡改"}, headers=h), 404)
        assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=h), 404)
        assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=h), 404)
    for role in ("director", "supervisor", "fund", "auditor"):
        assert_problem(await client.get(QUEUE, headers=await auth(role)), 403)
    # Another organization's queue is empty of this one's revisions.
    assert (await client.get(QUEUE, headers=await auth("org2"))).json()["total"] == 0
    assert (await client.get(QUEUE, headers=org)).json()["total"] == 1
    # The owner cannot approve its own revision; the district does not propose or submit for it.
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=org), 403)
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/withdraw", headers=admin), 403)
    assert_problem(await client.post(f"{S}/{sid}/revisions", json={"title": "x"}, headers=admin), 403)
    # A revision id under another service is not found.
    assert_problem(await client.get(f"{S}/{world.services[1]}/revisions/{rid}", headers=admin), 404)
    assert_problem(await client.get(f"{S}/99999/revisions", headers=admin), 404)
    assert_problem(await client.post(f"{S}/{sid}/revisions/99999/approve", headers=admin), 404)
    assert (await live(client, auth, sid))["title"] == "困境儿童心理疏导服务"


BAD = [
    ("empty", {}, 422),
    ("unknown field", {"colour": "red"}, 400),
    ("assured_on is not reviewed", {"assured_on": "2026-11-01"}, 400),
    ("wrong type", {"capacity_per_month": "many"}, 400),
    ("negative", {"capacity_per_month": -1}, 400),
    ("age beyond live max", {"age_min": 17}, 422),
    ("unknown category", {"categories": ["astrology"]}, 422),
    ("no category", {"categories": []}, 400),
    ("unknown street", {"street_ids": [999]}, 422),
    ("same as live", {"title": "困境儿童心理疏导服务"}, 422),
]


@pytest.mark.parametrize(("case", "body", "status"), BAD, ids=[c[0] for c in BAD])
async def test_bad_revision_input_changes_nothing(client, auth: Auth, world: World, db, case, body, status) -> None:
    before = await revision_count(db)
    assert_problem(
        await client.post(f"{S}/{world.services[0]}/revisions", json=body, headers=await auth("org")), status
    )
    assert await revision_count(db) == before
    assert_problem(await client.get(f"{QUEUE}?status=nonsense", headers=await auth("admin")), 422)
    assert_problem(await client.get(f"{QUEUE}?status=NOPE", headers=await auth("admin")), 400)


async def test_approve_applies_atomically_in_the_database(client, auth: Auth, world: World, db) -> None:
    org = await auth("org")
    sid = world.services[0]
    r = await client.post(
        f"{S}/{sid}/revisions",
        json={"categories": ["legal_aid"], "age_max": 12, "five_societies": ["charity"]},
        headers=org,
    )
    rid = r.json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    async with db.session(write=False) as s:
        assert (await s.get(Service, sid)).age_max == 16  # type: ignore[union-attr]
    await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=await auth("admin"))
    got = await live(client, auth, sid)
    assert got["categories"] == ["legal_aid"] and got["age_max"] == 12 and got["five_societies"] == ["charity"]
    assert dt.date.fromisoformat(got["assured_on"]) > dt.date(2026, 10, 1)


async def test_approve_rechecks_the_values_against_the_live_listing(client, auth: Auth, world: World) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"age_min": 12}, headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    # Meanwhile the district narrows the live age range in place: the proposal no longer fits.
    assert (await client.patch(f"{S}/{sid}", json={"age_max": 10}, headers=admin)).status_code == 200
    assert_problem(await client.post(f"{S}/{sid}/revisions/{rid}/approve", headers=admin), 422)
    got = (await client.get(f"{S}/{sid}/revisions/{rid}", headers=admin)).json()
    assert got["status"] == "pending_review" and got["diff"][0]["current"] == 6
    assert (await live(client, auth, sid))["age_min"] == 6


async def test_who_and_when_stay_on_the_revision(client, auth: Auth, world: World) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = world.services[0]
    rid = (await client.post(f"{S}/{sid}/revisions", json={"fees_text": "免费"}, headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/revisions/{rid}/submit", headers=org)
    r = await client.post(f"{S}/{sid}/revisions/{rid}/return", json={"reason": "请写明收费标准"}, headers=admin)
    got = r.json()
    assert got["created_by"] == world.users["org"] and got["submitted_by"] == world.users["org"]
    assert got["decided_by"] == world.users["admin"] and got["decided_at"] and got["submitted_at"]
    await client.post(f"{S}/{sid}/revisions/{rid}/withdraw", headers=org)
    got = (await client.get(f"{S}/{sid}/revisions/{rid}", headers=admin)).json()
    assert got["status"] == "withdrawn" and got["decided_by"] == world.users["org"]
    assert got["reason"] == "请写明收费标准" and got["diff"][0]["current"] == ""
