"""Places through the API: stations and children's homes (one station per street), their staff on duty, the
activities held there (children on file chosen in the recorder's scope, the others counted), the 7-day edit window,
scope for every role, bad input refused with nothing changed, the usage per street and quarter against hand-counted
figures, and the public listing without staff phones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.support import figures
from tests.support.world import World

STAFF_PHONE = "13911112222"
SUITE = "Places"


async def _count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _places(client: Any, auth: Any, world: World) -> dict[str, int]:
    s1, s2 = world.streets
    c1, c2, c3 = world.communities
    admin = await auth("admin")
    out = {}
    for key, body, who in (
        ("station1", {"kind": "station", "street_id": s1, "name": "福田街道未成年人保护工作站"}, "admin"),
        ("station2", {"kind": "station", "street_id": s2, "name": "园岭街道未成年人保护工作站"}, "admin"),
        (
            "home1",
            {"kind": "children_home", "street_id": s1, "community_id": c1, "name": "福山社区儿童之家"},
            "supervisor",
        ),
        ("home2", {"kind": "children_home", "street_id": s1, "community_id": c2, "name": "岗厦社区儿童之家"}, "admin"),
        ("home3", {"kind": "children_home", "street_id": s2, "community_id": c3, "name": "百花社区儿童之家"}, "admin"),
    ):
        r = await client.post(
            "/api/v1/places",
            json={
                **body,
                "address": "福田区福田街道福山路1号",
                "opening_hours": "周一至周五 9:00-17:30",
                "facilities": ["reading_corner", "activity_room"],
                "phone": "0755-83001234",
            },
            headers=admin if who == "admin" else await auth(who),
        )
        assert r.status_code == 201, r.text
        out[key] = r.json()["id"]
    return out


async def test_one_station_per_street_and_homes_in_the_street(client, auth, world: World, db) -> None:
    places = await _places(client, auth, world)
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    admin = await auth("admin")
    before = await _count(db, Place)
    second = await client.post(
        "/api/v1/places", json={"kind": "station", "street_id": s1, "name": "第二个工作站"}, headers=admin
    )
    assert_problem(second, 409)
    for body, field in (
        ({"kind": "children_home", "street_id": s1, "community_id": c3, "name": "错街道的家"}, "community_id"),
        ({"kind": "children_home", "street_id": s1, "name": "无社区的家"}, "community_id"),
        ({"kind": "station", "street_id": s2, "community_id": c3, "name": "站"}, "community_id"),
        (
            {"kind": "children_home", "street_id": s1, "community_id": c1, "name": "家", "facilities": ["pool"]},
            "facilities",
        ),
        ({"kind": "children_home", "street_id": 999999, "community_id": c1, "name": "家"}, "street_id"),
    ):
        r = await client.post("/api/v1/places", json=body, headers=admin)
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["field"] == field, problem
    dup = await client.post(
        "/api/v1/places",
        json={"kind": "children_home", "street_id": s1, "community_id": c1, "name": "福山社区儿童之家"},
        headers=admin,
    )
    assert_problem(dup, 409)
    # A supervisor adds places in their street only; the director and the roles of money add none.
    other_street = await client.post(
        "/api/v1/places",
        json={"kind": "children_home", "street_id": s2, "community_id": c3, "name": "百花二号"},
        headers=await auth("supervisor"),
    )
    assert_problem(other_street, 422)
    for who in ("director", "auditor"):
        assert_problem(
            await client.post(
                "/api/v1/places", json={"kind": "station", "street_id": s1, "name": "x"}, headers=await auth(who)
            ),
            403,
        )
    assert_problem(await client.post("/api/v1/places", json={"kind": "x"}, headers=admin), 400)
    assert await _count(db, Place) == before == len(places)


async def test_reading_scope_for_each_role(client, auth, world: World) -> None:
    places = await _places(client, auth, world)
    s1, s2 = world.streets
    seen = {}
    for who in ("director", "director3", "supervisor", "supervisor2", "admin", "auditor"):
        r = await client.get("/api/v1/places", headers=await auth(who))
        assert r.status_code == 200, r.text
        seen[who] = {p["id"] for p in r.json()["items"]}
    street1 = {places["station1"], places["home1"], places["home2"]}
    assert seen["director"] == seen["supervisor"] == street1
    assert seen["director3"] == seen["supervisor2"] == {places["station2"], places["home3"]}
    assert seen["admin"] == seen["auditor"] == set(places.values())
    # Every place of another street, and every place to the roles that read none: never shown.
    attempts = crossed = 0
    others = {"director3": street1, "supervisor2": street1, "director": {places["station2"], places["home3"]}}
    others |= {who: set(places.values()) for who in ("org", "fund", "procurement")}
    for who, hidden in others.items():
        for place_id in hidden:
            for url in (f"/api/v1/places/{place_id}", f"/api/v1/places/{place_id}/activities"):
                attempts += 1
                r = await client.get(url, headers=await auth(who))
                crossed += r.status_code < 400
                assert_problem(r, 404)
    for who in ("org", "fund", "procurement"):
        assert_problem(await client.get("/api/v1/places", headers=await auth(who)), 403)
    figures.record(SUITE, "cross-scope reads attempted", attempts)
    figures.record(SUITE, "cross-scope reads answered", crossed)
    r = await client.get(f"/api/v1/places/{places['home2']}", headers=await auth("director"))
    assert r.status_code == 200 and r.json()["community_name"] == "岗厦社区"
    assert r.json()["kind_label"] == "儿童之家" and r.json()["facility_labels"] == ["阅览角", "活动室"]
    r = await client.get("/api/v1/places", params={"street_id": s2, "kind": "station"}, headers=await auth("admin"))
    assert [p["id"] for p in r.json()["items"]] == [places["station2"]]
    r = await client.get("/api/v1/places", params={"street_id": s2}, headers=await auth("supervisor"))
    assert r.json()["total"] == 0
    assert (await client.get("/api/v1/places")).status_code == 401
    assert s1


async def test_editing_by_role(client, auth, world: World, db) -> None:
    places = await _places(client, auth, world)
    home1 = places["home1"]
    director = await auth("director")
    r = await client.patch(
        f"/api/v1/places/{home1}", json={"opening_hours": "周二至周六 14:00-20:00"}, headers=director
    )
    assert r.status_code == 200 and r.json()["opening_hours"] == "周二至周六 14:00-20:00"
    assert_problem(await client.patch(f"/api/v1/places/{home1}", json={"address": "别处"}, headers=director), 403)
    assert_problem(
        await client.patch(f"/api/v1/places/{places['home2']}", json={"opening_hours": "x"}, headers=director), 403
    )
    assert_problem(
        await client.patch(f"/api/v1/places/{places['station1']}", json={"opening_hours": "x"}, headers=director), 403
    )
    assert_problem(
        await client.patch(f"/api/v1/places/{home1}", json={"note": "x"}, headers=await auth("auditor")), 403
    )
    assert_problem(
        await client.patch(f"/api/v1/places/{home1}", json={"note": "x"}, headers=await auth("supervisor2")), 404
    )
    r = await client.patch(
        f"/api/v1/places/{home1}",
        json={"address": "福田区福田街道福山路8号", "facilities": ["counselling_room"], "area_m2": 120},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 200 and r.json()["facility_labels"] == ["心理咨询室"] and r.json()["area_m2"] == 120
    assert_problem(
        await client.patch(f"/api/v1/places/{home1}", json={"name": "岗厦社区儿童之家"}, headers=await auth("admin")),
        409,
    )
    assert_problem(
        await client.patch(f"/api/v1/places/{home1}", json={"opened_on": "2999-01-01"}, headers=await auth("admin")),
        422,
    )
    async with db.session(write=False) as s:
        place = await s.get(Place, home1)
        assert place is not None and place.name == "福山社区儿童之家" and place.opened_on is None
        assert place.address == "福田区福田街道福山路8号"


async def test_staff_on_duty_and_leaving(client, auth, world: World, db) -> None:
    places = await _places(client, auth, world)
    home1 = places["home1"]
    director = await auth("director")
    r = await client.post(
        f"/api/v1/places/{home1}/staff",
        json={"role": "director", "user_id": world.users["director"], "duty": "周一至周五全天"},
        headers=director,
    )
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["name"] == "director" and mine["on_duty"] and mine["role_label"] == "儿童主任"
    r = await client.post(
        f"/api/v1/places/{home1}/staff",
        json={
            "role": "volunteer",
            "name": "陈阿姨",
            "duty": "周六上午",
            "phone": STAFF_PHONE,
            "since": (clock.today() - dt.timedelta(days=30)).isoformat(),
        },
        headers=director,
    )
    volunteer = r.json()
    before = await _count(db, PlaceStaff)
    for body, field in (
        ({"role": "director", "user_id": world.users["director3"]}, "user_id"),  # another street's account
        ({"role": "chef", "name": "x"}, "role"),
        ({"role": "volunteer"}, "name"),
    ):
        problem = assert_problem(await client.post(f"/api/v1/places/{home1}/staff", json=body, headers=director), 422)
        assert problem["errors"][0]["field"] == field
    assert_problem(
        await client.post(
            f"/api/v1/places/{home1}/staff", json={"role": "volunteer", "name": "x"}, headers=await auth("director2")
        ),
        403,
    )
    assert await _count(db, PlaceStaff) == before
    today = clock.today()
    leave = f"/api/v1/places/{home1}/staff/{volunteer['id']}/leave"
    assert_problem(await client.post(leave, json={"until": "2000-01-01"}, headers=director), 422)
    r = await client.post(leave, json={"until": (today - dt.timedelta(days=1)).isoformat()}, headers=director)
    assert r.status_code == 200 and not r.json()["on_duty"]
    assert_problem(await client.post(leave, json={"until": today.isoformat()}, headers=director), 409)
    assert_problem(
        await client.post(
            f"/api/v1/places/{places['home2']}/staff/{volunteer['id']}/leave",
            json={"until": today.isoformat()},
            headers=await auth("admin"),
        ),
        404,
    )
    shown = (await client.get(f"/api/v1/places/{home1}", headers=director)).json()
    assert [s["id"] for s in shown["staff"]] == [mine["id"]]
    history = (await client.get(f"/api/v1/places/{home1}", params={"history": "true"}, headers=director)).json()
    assert {s["id"] for s in history["staff"]} == {mine["id"], volunteer["id"]}
    async with db.session(write=False) as s:
        assert await s.get(PlaceStaff, volunteer["id"]) is not None  # kept, with its last day


async def _record(client: Any, auth: Any, place: int, who: str = "director", **kw: Any) -> Any:
    body = {
        "held_on": (clock.today() - dt.timedelta(days=2)).isoformat(),
        "kind": "safety",
        "title": "防溺水安全教育",
        "minutes": 90,
        **kw,
    }
    return await client.post(f"/api/v1/places/{place}/activities", json=body, headers=await auth(who))


async def test_recording_an_activity_counts_by_category(client, auth, world: World, cases: Cases, db) -> None:
    places = await _places(client, auth, world)
    a, b, c = cases.children["A"], cases.children["B"], cases.children["C"]
    r = await _record(client, auth, places["home1"], child_ids=[a, a], other_children=4, adults=3, volunteers=2)
    assert r.status_code == 201, r.text
    act = r.json()
    assert act["children_total"] == 5 and act["on_file_total"] == 1 and act["volunteers_total"] == 2
    assert act["adults"] == 3 and act["other_children"] == 4 and act["kind_label"] == "安全教育（十防）"
    assert {(x["code"], x["count"]) for x in act["children_by_category"]} == {("left_behind", 1), ("other", 4)}
    assert act["children"] == [{"child_id": a, "name": "张小明"}] and act["editable"]
    before = (await _count(db, Activity), await _count(db, ActivityChild))
    # Refused, nothing recorded: another community's child, another street's, a future date, a kind unknown,
    # the station (the supervisor's), the auditor, another street's director.
    for kw, field in (
        ({"child_ids": [b]}, "child_ids"),
        ({"child_ids": [c]}, "child_ids"),
        ({"child_ids": [99999]}, "child_ids"),
        ({"held_on": (clock.today() + dt.timedelta(days=1)).isoformat()}, "held_on"),
        ({"held_on": "2020-01-01"}, "held_on"),
        ({"kind": "party"}, "kind"),
        ({"title": "  "}, "title"),
    ):
        problem = assert_problem(await _record(client, auth, places["home1"], **kw), 422)
        assert problem["errors"][0]["field"] == field, (kw, problem)
    assert_problem(await _record(client, auth, places["home1"], adults=-1), 400)
    assert_problem(await _record(client, auth, places["station1"]), 403)
    assert_problem(await _record(client, auth, places["home1"], who="auditor"), 403)
    assert_problem(await _record(client, auth, places["home1"], who="director3"), 404)
    assert_problem(await _record(client, auth, places["home1"], who="org"), 404)
    after = (await _count(db, Activity), await _count(db, ActivityChild))
    figures.record(SUITE, "refused activity recordings", 12)
    figures.record(SUITE, "refused recordings that wrote a row", (after[0] - before[0]) + (after[1] - before[1]))
    assert after == before
    # The supervisor records at the station with children of two communities of the street.
    r = await _record(client, auth, places["station1"], who="supervisor", child_ids=[a, b], kind="law", title="法治课")
    assert r.status_code == 201, r.text
    assert {(x["code"], x["count"]) for x in r.json()["children_by_category"]} == {("left_behind", 1), ("orphan", 1)}
    # Another community's director reads the activity's counts, never the name of a child not on their files.
    seen = (await client.get(f"/api/v1/places/{places['station1']}/activities", headers=await auth("director2"))).json()
    (item,) = seen["items"]
    assert item["children"] == [{"child_id": b, "name": "李小红"}] and item["hidden_children"] == 1
    assert "张小明" not in str(seen)
    assert_problem(
        await client.get(f"/api/v1/places/{places['station1']}/activities", headers=await auth("director3")), 404
    )
    async with db.session(write=False) as s:
        rows = (
            await s.scalars(select(AuditEntry).where(AuditEntry.entity == "child", AuditEntry.username == "director2"))
        ).all()
    assert any(r.entity_id == b and "child_name" in (r.fields or []) for r in rows)
    assert not any(r.entity_id == a for r in rows)
    # Filters.
    h = await auth("supervisor")
    listed = await client.get(f"/api/v1/places/{places['station1']}/activities", params={"kind": "safety"}, headers=h)
    assert listed.json()["total"] == 0
    today = clock.today().isoformat()
    listed = await client.get(
        f"/api/v1/places/{places['station1']}/activities", params={"from": "2020-01-01", "to": today}, headers=h
    )
    assert listed.json()["total"] == 1
    bad = await client.get(
        f"/api/v1/places/{places['station1']}/activities", params={"from": today, "to": "2020-01-01"}, headers=h
    )
    assert_problem(bad, 422)
    assert_problem(
        await client.get(f"/api/v1/places/{places['station1']}/activities", params={"kind": "party"}, headers=h), 422
    )


async def test_the_recorder_edits_for_seven_days(client, auth, world: World, cases: Cases, db) -> None:
    places = await _places(client, auth, world)
    a = cases.children["A"]
    act = (await _record(client, auth, places["home1"], other_children=2)).json()
    url = f"/api/v1/places/activities/{act['id']}"
    r = await client.patch(url, json={"child_ids": [a], "adults": 5}, headers=await auth("director"))
    assert r.status_code == 200, r.text
    assert r.json()["children_total"] == 3 and r.json()["adults"] == 5 and r.json()["other_children"] == 2
    assert_problem(await client.patch(url, json={"adults": 1}, headers=await auth("supervisor")), 403)
    assert_problem(await client.patch(url, json={"adults": 1}, headers=await auth("supervisor2")), 404)
    assert_problem(
        await client.patch(url, json={"child_ids": [cases.children["B"]]}, headers=await auth("director")), 422
    )
    async with db.session() as s:
        await s.execute(
            update(Activity)
            .where(Activity.id == act["id"])
            .values(created_at=clock.now() - dt.timedelta(days=7, minutes=1))
        )
    late = await client.patch(url, json={"adults": 1}, headers=await auth("director"))
    assert "7" in assert_problem(late, 409)["detail"]
    shown = (await client.get(url, headers=await auth("director"))).json()
    assert shown["adults"] == 5 and shown["children_total"] == 3 and not shown["editable"]
    async with db.session(write=False) as s:
        changes = (
            await s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "place_activity", AuditEntry.entity_id == act["id"])
            )
        ).all()
    assert {e.action for e in changes} >= {"create", "update"}


async def test_usage_per_street_and_quarter(client, auth, world: World, cases: Cases, db) -> None:
    places = await _places(client, auth, world)
    a, b, c = cases.children["A"], cases.children["B"], cases.children["C"]
    today = clock.today()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    q_start = dt.date(year, 3 * quarter - 2, 1)
    held = max(q_start, today - dt.timedelta(days=300)).isoformat()
    # Street 1: the home's two activities (A twice) and the station's (A and B); street 2: one (C).
    await _record(client, auth, places["home1"], held_on=held, child_ids=[a], other_children=3, adults=2, minutes=60)
    await _record(
        client,
        auth,
        places["home1"],
        held_on=held,
        child_ids=[a],
        volunteers=4,
        kind="homework",
        title="作业辅导",
        minutes=120,
    )
    await _record(
        client,
        auth,
        places["station1"],
        who="supervisor",
        held_on=held,
        child_ids=[a, b],
        adults=1,
        kind="homework",
        title="课辅",
    )
    await _record(client, auth, places["home3"], who="director3", held_on=held, child_ids=[c], other_children=10)
    r = await client.get("/api/v1/places/usage", params={"year": year, "quarter": quarter}, headers=await auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["street_id"]: row for row in body["streets"]}
    s1, s2 = world.streets
    assert rows[s1] == {
        "street_id": s1,
        "street_name": "福田街道",
        "stations": 1,
        "children_homes": 2,
        "activities": 3,
        "on_file_times": 4,
        "other_children_times": 3,
        "adult_times": 3,
        "volunteer_times": 4,
        "children_reached": 2,
        "children_on_file": 2,
        "reached_share": 1.0,
        "minutes": 270,
    }
    assert rows[s2]["activities"] == 1 and rows[s2]["other_children_times"] == 10 and rows[s2]["children_reached"] == 1
    assert body["total"]["activities"] == 4 and body["total"]["children_reached"] == 3
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert kinds["homework"]["activities"] == 2 and kinds["homework"]["participant_times"] == (1 + 4) + (2 + 1)
    assert kinds["safety"]["participant_times"] == (1 + 3 + 2) + (1 + 10)
    # The supervisor reads their street; the director and the roles of money read no usage table.
    mine = (
        await client.get(
            "/api/v1/places/usage", params={"year": year, "quarter": quarter}, headers=await auth("supervisor2")
        )
    ).json()
    assert [row["street_id"] for row in mine["streets"]] == [s2]
    for who in ("director", "org", "fund"):
        assert_problem(
            await client.get(
                "/api/v1/places/usage", params={"year": year, "quarter": quarter}, headers=await auth(who)
            ),
            403,
        )
    assert_problem(
        await client.get("/api/v1/places/usage", params={"year": year, "quarter": 5}, headers=await auth("admin")), 400
    )
    # The quarterly dispatch carries the same figures (a street's supervisor: their street), and its download a sheet.
    dispatch = await client.get(
        "/api/v1/reports/quarterly", params={"year": year, "quarter": quarter}, headers=await auth("supervisor")
    )
    assert dispatch.status_code == 200, dispatch.text
    places_part = dispatch.json()["places"]
    assert [r["street_id"] for r in places_part["streets"]] == [s1]
    assert places_part["total"]["activities"] == 3 and places_part["total"]["children_reached"] == 2
    csv = await client.get(
        "/api/v1/reports/quarterly",
        params={"year": year, "quarter": quarter, "format": "csv"},
        headers=await auth("admin"),
    )
    assert csv.status_code == 200 and "活动场次" in csv.text and "建档儿童人次" in csv.text, csv.text[:300]
    empty = (
        await client.get("/api/v1/places/usage", params={"year": 2001, "quarter": 1}, headers=await auth("admin"))
    ).json()
    assert empty["total"]["activities"] == 0 and empty["total"]["reached_share"] == 0.0


async def test_public_listing_without_staff_phones(client, auth, world: World, db) -> None:
    places = await _places(client, auth, world)
    await client.post(
        f"/api/v1/places/{places['home1']}/staff",
        json={"role": "volunteer", "name": "陈阿姨", "phone": STAFF_PHONE},
        headers=await auth("director"),
    )
    await client.patch(f"/api/v1/places/{places['home2']}", json={"active": False}, headers=await auth("admin"))
    r = await client.get("/api/v1/public/places")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 4 and places["home2"] not in {p["id"] for p in body["items"]}
    assert STAFF_PHONE not in r.text and "陈阿姨" not in r.text and "staff" not in r.text
    first = body["items"][0]
    assert first["kind_label"] == "未成年人保护工作站" and first["phone"] == "0755-83001234"
    assert first["facilities"] == ["阅览角", "活动室"]
    _, s2 = world.streets
    r = await client.get("/api/v1/public/places", params={"street_id": s2, "kind": "children_home"})
    assert [p["id"] for p in r.json()["items"]] == [places["home3"]]
