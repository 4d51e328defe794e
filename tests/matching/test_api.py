from __future__ import annotations

from sqlalchemy import update

from marketplace import clock
from marketplace.cases.models import Need
from marketplace.referrals.models import Referral
from marketplace.resources.models import (
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
    SocialWorker,
    VolunteerTeam,
)
from tests.cases.support import Cases, add_child, add_need, add_referral
from tests.conftest import assert_problem


def service(org_id: int, title: str, **kw) -> Service:
    values = dict(
        organization_id=org_id,
        title=title,
        capacity_per_month=5,
        cost_per_case_fen=0,
        status="published",
        district_wide=True,
        assured_on=clock.today(),
        categories=[ServiceCategory(code="psych_counselling")],
        child_categories=[],
        streets=[],
        age_min=0,
        age_max=18,
    )
    values.update(kw)
    return Service(**values)


async def test_only_eligible_services_appear_and_ranking_is_explained(
    client, auth, cases: Cases, world, db, settings
) -> None:
    s1, s2 = world.streets
    o1, o2, o3 = world.orgs
    async with db.session() as s:
        ok = service(o2, "全区心理热线")
        cheap_local = service(o1, "福田街道心理小组", district_wide=False, streets=[ServiceStreet(street_id=s1)])
        ineligible = [
            service(o2, "草稿", status="draft"),
            service(o3, "未入库机构的服务"),
            service(o2, "别的类别", categories=[ServiceCategory(code="legal_aid")]),
            service(o2, "年龄不符", age_min=12, age_max=18),
            service(o2, "只收孤儿", child_categories=[ServiceChildCategory(code="orphan")]),
            service(o2, "只在园岭", district_wide=False, streets=[ServiceStreet(street_id=s2)]),
            service(o2, "名额已满", capacity_per_month=1),
            service(o2, "曾被拒绝"),
        ]
        s.add_all([ok, cheap_local, *ineligible])
        await s.flush()
        s.add(ServiceCapacity(service_id=ineligible[6].id, month=clock.month_key(), booked=1))
        need = await s.get(Need, cases.needs["A"])
        assert need is not None
        await add_referral(s, need, ineligible[7].id, o2, status="declined")
        need.status = "open"
        s.add(
            SocialWorker(
                organization_id=o2, name="刘社工", qualification="社会工作师", specialties=["psych_counselling"]
            )
        )
        s.add(
            SocialWorker(
                organization_id=o2, name="周社工", qualification="高级社会工作师", specialties=["psych_counselling"]
            )
        )
        s.add(VolunteerTeam(street_id=s1, name="福田街道关爱志愿队", member_count=30))
        ok_id, local_id, bad_ids = ok.id, cheap_local.id, {x.id for x in ineligible}
    h = await auth("director")
    r = await client.post(f"/api/v1/needs/{cases.needs['A']}/matches", json={"limit": 20}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [c["service_id"] for c in body["candidates"]]
    assert set(ids) == {ok_id, local_id, world.services[0]}
    assert not set(ids) & bad_ids
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)
    for c in body["candidates"]:
        assert set(c["components"]) == {
            "category_fit",
            "locality",
            "provider_record",
            "freshness",
            "funding",
            "continuity",
            "capacity",
        }
        assert len(c["reasons"]) == 7
        expected = sum(getattr(settings.match_weights, k) * v for k, v in c["components"].items())
        assert abs(expected / sum(body["weights"].values()) - c["score"]) < 1e-3
        plan = c["plan"]
        assert (
            plan["community"]["name"] == "福山社区"
            and plan["community"]["director"]["user_id"] == world.users["director"]
        )
        assert plan["volunteers"]["name"] == "福田街道关爱志愿队"
    by_id = {c["service_id"]: c for c in body["candidates"]}
    # The better qualified of two equally loaded workers is named; free services are "free".
    assert by_id[ok_id]["plan"]["social_worker"]["name"] == "周社工"
    assert by_id[ok_id]["plan"]["funding"] == {"source": "free", "covered_fen": 0, "cost_fen": 0, "label": "免费"}
    assert by_id[world.services[0]]["plan"]["funding"]["source"] in {
        "unfunded",
        "contract",
        "restricted_donation",
        "unrestricted_fund",
    }
    assert by_id[local_id]["components"]["locality"] > by_id[ok_id]["components"]["locality"]
    # Same input, same ranking.
    again = await client.post(f"/api/v1/needs/{cases.needs['A']}/matches", json={"limit": 20}, headers=h)
    assert again.json() == body


async def test_ties_break_by_service_id(client, auth, cases: Cases, world, db) -> None:
    async with db.session() as s:
        twins = [service(world.orgs[1], f"相同服务{i}") for i in range(4)]
        s.add_all(twins)
        await s.flush()
        twin_ids = [t.id for t in twins]
    r = await client.post(f"/api/v1/needs/{cases.needs['A']}/matches", headers=await auth("director"))
    ranked = [c["service_id"] for c in r.json()["candidates"] if c["service_id"] in twin_ids]
    assert ranked == sorted(twin_ids)


async def test_match_input_errors(client, auth, cases: Cases) -> None:
    h = await auth("director")
    assert_problem(await client.post("/api/v1/needs/999999/matches", headers=h), 404)
    assert_problem(await client.post(f"/api/v1/needs/{cases.needs['A']}/matches", json={"limit": 0}, headers=h), 400)
    assert_problem(await client.post(f"/api/v1/needs/{cases.needs['A']}/matches", json={"x": 1}, headers=h), 400)


async def test_batch_run_is_optimal_and_stored(client, auth, cases: Cases, world, db, settings) -> None:
    s1 = world.streets[0]
    async with db.session() as s:
        await s.execute(update(Referral).values(status="revoked"))
        await s.execute(update(Need).values(status="open"))
        one = service(
            world.orgs[1],
            "仅一个名额",
            capacity_per_month=1,
            district_wide=False,
            streets=[ServiceStreet(street_id=s1)],
        )
        s.add(one)
        extra = await add_child(s, settings, world.communities[0], s1, name="赵小刚", seq="997")
        urgent = await add_need(s, extra, "psych_counselling", urgency=4)
        lonely = await add_need(s, extra, "hotline", urgency=2)
        await s.flush()
        urgent_id, lonely_id = urgent.id, lonely.id
    assert_problem(
        await client.post(
            "/api/v1/matching/runs", json={"street_id": world.streets[1]}, headers=await auth("supervisor")
        ),
        403,
    )
    assert_problem(await client.post("/api/v1/matching/runs", json={}, headers=await auth("director")), 403)
    r = await client.post("/api/v1/matching/runs", json={"street_id": s1}, headers=await auth("supervisor"))
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["optimal"] is True and run["street_id"] == s1
    assigned = {a["need_id"]: a["service_id"] for a in run["assignments"]}
    unassigned = {u["need_id"]: u["reason"] for u in run["unassigned"]}
    assert urgent_id in assigned and unassigned[lonely_id] == "no_eligible_service"
    assert set(assigned) | set(unassigned) == {cases.needs["A"], cases.needs["B"], urgent_id, lonely_id}
    assert cases.needs["C"] not in assigned  # another street
    stored = await client.get(f"/api/v1/matching/runs/{run['id']}", headers=await auth("supervisor"))
    assert stored.json() == run
    assert_problem(await client.get(f"/api/v1/matching/runs/{run['id']}", headers=await auth("supervisor2")), 404)
    district = await client.post("/api/v1/matching/runs", json={}, headers=await auth("admin"))
    assert district.json()["needs_count"] == 5


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("admin")
    for method, url in [("GET", "/api/v1/matching/runs/{id}")]:
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h), 404)
