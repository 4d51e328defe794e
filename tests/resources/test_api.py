from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace.resources.models import Organization, Service
from tests.conftest import Auth, assert_problem
from tests.support.world import World, valid_code

S = "/api/v1/services"
ORGS = "/api/v1/organizations"


def service_body(world: World, **over: Any) -> dict[str, Any]:
    body = {
        "organization_id": world.orgs[0],
        "title": "留守儿童周末陪伴计划",
        "description": "每周六为留守儿童提供课业辅导与心理陪伴",
        "categories": ["emotional_support", "psych_counselling"],
        "child_categories": ["left_behind"],
        "age_min": 6,
        "age_max": 14,
        "street_ids": [world.streets[0]],
        "capacity_per_month": 12,
        "cost_per_case_fen": 30_000,
        "delivery_mode": "in_person",
    }
    body.update(over)
    return body


async def counts(db) -> tuple[int, int]:
    async with db.session(write=False) as s:
        return (
            await s.scalar(select(func.count()).select_from(Service)),
            await s.scalar(select(func.count()).select_from(Organization)),
        )


async def test_taxonomy_lists_every_category_with_chinese_labels(client, auth: Auth) -> None:
    r = await client.get("/api/v1/taxonomy")
    assert r.status_code == 200
    cats = {c["code"]: c["label"] for c in r.json()["service_categories"]}
    assert cats["psych_counselling"] == "心理疏导" and len(cats) == 22
    assert {c["code"] for c in r.json()["child_categories"]} >= {"orphan", "left_behind", "disabled"}


async def test_geography(client, auth: Auth, world: World) -> None:
    h = await auth("director")
    streets = (await client.get("/api/v1/streets", headers=h)).json()
    assert streets["total"] == 2
    comms = (await client.get(f"/api/v1/communities?street_id={world.streets[0]}", headers=h)).json()
    assert comms["total"] == 2 and all(c["street_id"] == world.streets[0] for c in comms["items"])
    assert_problem(await client.get("/api/v1/communities?street_id=abc", headers=h), 400)


async def test_service_lifecycle_owner_then_district(client, auth: Auth, world: World) -> None:
    org, admin = await auth("org"), await auth("admin")
    r = await client.post(S, json=service_body(world), headers=org)
    assert r.status_code == 201, r.text
    svc = r.json()
    assert (
        svc["status"] == "draft" and svc["capacity_left"] == 12 and svc["category_labels"] == ["精神慰藉", "心理疏导"]
    )
    sid = svc["id"]
    # Nobody outside the owner and the district sees a draft.
    assert_problem(await client.get(f"{S}/{sid}", headers=await auth("director")), 404)
    # The owner cannot approve its own listing; the district cannot approve before submission.
    assert_problem(await client.post(f"{S}/{sid}/approve", headers=org), 403)
    assert_problem(await client.post(f"{S}/{sid}/approve", headers=admin), 409)
    assert (await client.post(f"{S}/{sid}/submit", headers=org)).json()["status"] == "pending_review"
    assert (await client.post(f"{S}/{sid}/approve", headers=admin)).json()["status"] == "published"
    assert (await client.get(f"{S}/{sid}", headers=await auth("director"))).status_code == 200
    assert (await client.post(f"{S}/{sid}/pause", headers=org)).json()["status"] == "paused"
    assert_problem(await client.get(f"{S}/{sid}", headers=await auth("director")), 404)
    assert (await client.post(f"{S}/{sid}/resume", headers=admin)).json()["status"] == "published"
    assert (await client.post(f"{S}/{sid}/archive", headers=org)).json()["status"] == "archived"
    body = assert_problem(await client.post(f"{S}/{sid}/resume", headers=org), 409)
    assert body["current_status"] == "archived"
    assert_problem(await client.patch(f"{S}/{sid}", json={"title": "新标题"}, headers=org), 409)


async def test_reject_returns_to_draft_with_reason(client, auth: Auth, world: World) -> None:
    org, admin = await auth("org"), await auth("admin")
    sid = (await client.post(S, json=service_body(world), headers=org)).json()["id"]
    await client.post(f"{S}/{sid}/submit", headers=org)
    r = await client.post(f"{S}/{sid}/reject", json={"reason": "请补充服务对象说明"}, headers=admin)
    assert r.json()["status"] == "draft" and r.json()["status_note"] == "请补充服务对象说明"


async def test_pending_organization_cannot_publish(client, auth: Auth, world: World) -> None:
    org3, admin = await auth("org3"), await auth("admin")
    r = await client.post(S, json=service_body(world, organization_id=world.orgs[2]), headers=org3)
    sid = r.json()["id"]
    await client.post(f"{S}/{sid}/submit", headers=org3)
    assert_problem(await client.post(f"{S}/{sid}/approve", headers=admin), 409)
    assert (await client.post(f"{ORGS}/{world.orgs[2]}/approve", headers=admin)).json()["status"] == "approved"
    assert (await client.post(f"{S}/{sid}/approve", headers=admin)).json()["status"] == "published"


BAD_SERVICE_BODIES = [
    ("missing title", lambda w: {k: v for k, v in service_body(w).items() if k != "title"}, 400),
    ("unknown field", lambda w: service_body(w, colour="red"), 400),
    ("wrong type", lambda w: service_body(w, capacity_per_month="many"), 400),
    ("negative capacity", lambda w: service_body(w, capacity_per_month=-1), 400),
    ("negative cost", lambda w: service_body(w, cost_per_case_fen=-5), 400),
    ("age out of range", lambda w: service_body(w, age_max=30), 400),
    ("age_min > age_max", lambda w: service_body(w, age_min=15, age_max=10), 422),
    ("unknown category", lambda w: service_body(w, categories=["astrology"]), 422),
    ("no category", lambda w: service_body(w, categories=[]), 400),
    ("unknown child category", lambda w: service_body(w, child_categories=["alien"]), 422),
    ("unknown street", lambda w: service_body(w, street_ids=[999]), 422),
    ("unknown delivery mode", lambda w: service_body(w, delivery_mode="teleport"), 422),
    ("other org", lambda w: service_body(w, organization_id=w.orgs[1]), 403),
    ("float money", lambda w: service_body(w, cost_per_case_fen=10.5), 400),
]


@pytest.mark.parametrize(("case", "make", "status"), BAD_SERVICE_BODIES, ids=[c[0] for c in BAD_SERVICE_BODIES])
async def test_bad_service_input_changes_nothing(client, auth: Auth, world: World, db, case, make, status) -> None:
    before = await counts(db)
    body = assert_problem(await client.post(S, json=make(world), headers=await auth("org")), status)
    if status in (400, 422):
        assert body.get("errors"), body
    assert await counts(db) == before


async def test_not_json_and_wrong_roles(client, auth: Auth, world: World, db) -> None:
    before = await counts(db)
    org = await auth("org")
    assert_problem(await client.post(S, content=b"title=x", headers={**org, "content-type": "text/plain"}), 400)
    assert_problem(await client.post(S, content=b"[1,2", headers={**org, "content-type": "application/json"}), 400)
    for role in ("director", "supervisor", "fund", "procurement", "auditor"):
        assert_problem(await client.post(S, json=service_body(world), headers=await auth(role)), 403)
    assert_problem(await client.post(S, json=service_body(world)), 401)
    assert await counts(db) == before


async def test_only_the_owner_edits_a_service(client, auth: Auth, world: World, db) -> None:
    sid = world.services[0]
    for role in ("org2", "director", "supervisor", "fund", "auditor"):
        r = await client.patch(f"{S}/{sid}", json={"title": "篡改"}, headers=await auth(role))
        assert r.status_code == 403, (role, r.text)
    r = await client.patch(f"{S}/{sid}", json={"capacity_per_month": -3}, headers=await auth("org"))
    assert_problem(r, 400)
    r = await client.patch(f"{S}/{sid}", json={"age_min": 17}, headers=await auth("org"))
    assert_problem(r, 422)  # 17 > the stored age_max of 16
    got = (await client.get(f"{S}/{sid}", headers=await auth("org"))).json()
    assert got["title"] == "困境儿童心理疏导服务" and got["age_min"] == 6
    # A published listing changes through a revision the district reviews (tests/resources/test_revisions.py).
    body = assert_problem(
        await client.patch(f"{S}/{sid}", json={"title": "困境儿童心理疏导（升级版）"}, headers=await auth("org")), 409
    )
    assert body["revisions"] == f"{S}/{sid}/revisions"
    draft = world.services[2]
    r = await client.patch(
        f"{S}/{draft}", json={"title": "法律援助进社区（修订）", "street_ids": []}, headers=await auth("org")
    )
    assert r.status_code == 200 and r.json()["district_wide"] is True
    assert_problem(await client.patch(f"{S}/99999", json={"title": "x"}, headers=await auth("org")), 404)


async def test_listing_filters_and_facets(client, auth: Auth, world: World) -> None:
    h = await auth("director")
    everything = (await client.get(S, headers=h)).json()
    assert everything["total"] == 2  # the draft is hidden from directors
    assert everything["facets"]["category"] == {"psych_counselling": 1, "emotional_support": 1, "education_aid": 1}
    assert (await client.get(f"{S}?category=education_aid", headers=h)).json()["total"] == 1
    # Street 2 is not served by the first service, but the district-wide one covers it.
    only = (await client.get(f"{S}?street_id={world.streets[1]}", headers=h)).json()
    assert [s["id"] for s in only["items"]] == [world.services[1]]
    assert (await client.get(f"{S}?age=4", headers=h)).json()["total"] == 0
    assert (await client.get(f"{S}?age=7&child_category=orphan", headers=h)).json()["total"] == 1
    assert (await client.get(f"{S}?organization_id={world.orgs[1]}", headers=h)).json()["total"] == 1
    assert (await client.get(f"{S}?available=true", headers=h)).json()["total"] == 2
    page = (await client.get(f"{S}?limit=1&offset=1", headers=h)).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    admin_all = (await client.get(S, headers=await auth("admin"))).json()
    assert admin_all["total"] == 3
    assert (await client.get(f"{S}?status=draft", headers=await auth("admin"))).json()["total"] == 1
    for bad in ("limit=0", "limit=1000", "offset=-1", "age=40", "street_id=x"):
        assert_problem(await client.get(f"{S}?{bad}", headers=h), 400)


async def test_organization_registration_checks_the_credit_code(client, auth: Auth, world: World, db) -> None:
    admin = await auth("admin")
    good = {
        "name": "深圳市福田区彩虹桥社工服务社",
        "kind": "social_work_agency",
        "credit_code": valid_code(77),
        "contact_name": "陈社工",
        "contact_phone": "13800000077",
        "street_ids": [world.streets[0]],
    }
    before = await counts(db)
    broken = good["credit_code"][:-1] + ("0" if good["credit_code"][-1] != "0" else "1")
    for bad, status in (
        ({**good, "credit_code": broken}, 422),
        ({**good, "credit_code": "123"}, 422),
        ({**good, "kind": "cult"}, 422),
        ({**good, "street_ids": [4242]}, 422),
        ({**good, "contact_phone": "call me"}, 400),
        ({**good, "extra": 1}, 400),
    ):
        body = assert_problem(await client.post(ORGS, json=bad, headers=admin), status)
        assert body["detail"]
    assert await counts(db) == before
    r = await client.post(ORGS, json=good, headers=admin)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert_problem(await client.post(ORGS, json=good, headers=admin), 409)
    oid = r.json()["id"]
    assert_problem(await client.post(f"{ORGS}/{oid}/approve", headers=await auth("org")), 403)
    assert (await client.post(f"{ORGS}/{oid}/approve", headers=admin)).json()["status"] == "approved"
    assert_problem(await client.post(f"{ORGS}/{oid}/approve", headers=admin), 409)


async def test_organization_edits_are_scoped(client, auth: Auth, world: World) -> None:
    oid = world.orgs[0]
    r = await client.patch(f"{ORGS}/{oid}", json={"contact_phone": "13900000000"}, headers=await auth("org"))
    assert r.status_code == 200 and r.json()["contact_phone"] == "13900000000"
    assert_problem(await client.patch(f"{ORGS}/{oid}", json={"name": "x"}, headers=await auth("org2")), 403)
    assert_problem(await client.patch(f"{ORGS}/{oid}", json={"credit_code": "x"}, headers=await auth("org")), 400)
    # A pending organization is invisible to directors and to other organizations.
    assert_problem(await client.get(f"{ORGS}/{world.orgs[2]}", headers=await auth("director")), 404)
    assert (await client.get(f"{ORGS}/{world.orgs[2]}", headers=await auth("org3"))).status_code == 200
    listing = (await client.get(ORGS, headers=await auth("director"))).json()
    assert listing["total"] == len(world.suppliers) == 3  # the approved ones


async def test_social_workers_and_volunteer_teams(client, auth: Auth, world: World) -> None:
    org = await auth("org")
    w = {
        "organization_id": world.orgs[0],
        "name": "张社工",
        "qualification": "社会工作师",
        "specialties": ["psych_counselling"],
        "street_ids": [world.streets[0]],
    }
    r = await client.post("/api/v1/social-workers", json=w, headers=org)
    assert r.status_code == 201, r.text
    assert_problem(await client.post("/api/v1/social-workers", json={**w, "specialties": ["magic"]}, headers=org), 422)
    assert_problem(
        await client.post("/api/v1/social-workers", json={**w, "organization_id": world.orgs[1]}, headers=org), 403
    )
    listed = (await client.get(f"/api/v1/social-workers?organization_id={world.orgs[0]}", headers=org)).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "张社工"
    team = {
        "street_id": world.streets[0],
        "name": "福田街道巾帼志愿服务队",
        "member_count": 25,
        "skills": ["home_visits"],
    }
    sup = await auth("supervisor")
    assert (await client.post("/api/v1/volunteer-teams", json=team, headers=sup)).status_code == 201
    assert_problem(await client.post("/api/v1/volunteer-teams", json=team, headers=await auth("supervisor2")), 403)
    teams = (await client.get(f"/api/v1/volunteer-teams?street_id={world.streets[0]}", headers=sup)).json()
    assert teams["total"] == 1


async def test_openapi_schema_is_served(client) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/services" in paths and "/api/v1/auth/login" in paths
    ops = [op.get("operationId") for p in paths.values() for op in p.values() if isinstance(op, dict)]
    assert all(ops), "every route has an operation_id"


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("admin")
    for method, url in [
        ("GET", "/api/v1/organizations/{id}"),
        ("POST", "/api/v1/organizations/{id}/suspend"),
        ("GET", "/api/v1/services/{id}"),
        ("POST", "/api/v1/services/{id}/approve"),
        ("GET", "/api/v1/communities?street_id={id}"),
        ("GET", "/api/v1/services?street_id={id}"),
    ]:
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h), 404)


async def test_filter_codes_that_are_not_taxonomy_codes_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz on PostgreSQL: a NUL byte in ?category= reached the query and answered 500."""
    h = await auth("admin")
    for url in [
        "/api/v1/services?category=%0A%00G",
        "/api/v1/services?child_category=a%00b",
        "/api/v1/services?status=%00",
        "/api/v1/organizations?kind=%00",
        "/api/v1/organizations?status=Approved",
    ]:
        assert_problem(await client.get(url, headers=h), 400)
    ok = await client.get("/api/v1/services?category=no_such_category", headers=h)
    assert ok.status_code == 200 and ok.json()["total"] == 0, ok.text
