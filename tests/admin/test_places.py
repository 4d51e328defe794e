"""The places console: /admin/places by street in the caller's scope, a place's page with its staff and activities,
the director's activity form (the community's children by name, the others counted) refusing bad input in place
with what was typed and nothing recorded, the usage page, and the child's page's section."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child


async def seed(db: Any, world: Any, settings: Any) -> dict[str, int]:
    s1, s2 = world.streets
    c1, c2, c3 = world.communities
    async with db.session() as s:
        a = await add_child(s, settings, c1, s1, name="张小明", seq="991")
        a2 = await add_child(s, settings, c1, s1, name="陈小兰", categories=["orphan"], seq="992")
        b = await add_child(s, settings, c2, s1, name="李小红", seq="993")
        station = Place(
            kind="station", street_id=s1, name="福田街道未成年人保护工作站", address="福田区福田街道福华路1号"
        )
        home = Place(
            kind="children_home",
            street_id=s1,
            community_id=c1,
            name="福山社区儿童之家",
            opening_hours="周六 9:00-12:00",
        )
        other = Place(kind="children_home", street_id=s2, community_id=c3, name="百花社区儿童之家")
        s.add_all([station, home, other])
        await s.flush()
        s.add(PlaceStaff(place_id=home.id, name="陈阿姨", role="volunteer", duty="周六上午", phone="13911112222"))
        await s.flush()
        return {"a": a.id, "a2": a2.id, "b": b.id, "station": station.id, "home": home.id, "other": other.id}


async def _count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_list_and_place_page_in_scope(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    page = await client.get("/admin/places")
    assert page.status_code == 200
    assert "福山社区儿童之家" in page.text and "福田街道未成年人保护工作站" in page.text
    assert "百花社区儿童之家" not in page.text and 'href="/admin/places"' in page.text
    place = await client.get(f"/admin/places/{ids['home']}")
    assert place.status_code == 200 and "陈阿姨" in place.text and "登记一场活动" in place.text
    assert "修改开放时间" in place.text and "修改阵地信息" not in place.text
    station = await client.get(f"/admin/places/{ids['station']}")
    assert station.status_code == 200 and "登记一场活动" not in station.text
    assert (await client.get(f"/admin/places/{ids['other']}")).status_code == 404
    assert (await client.get("/admin/places/usage")).status_code == 403


async def test_director_records_an_activity_and_bad_input_is_kept(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    form = await client.get(f"/admin/places/{ids['home']}/activities/new")
    assert form.status_code == 200
    assert "张小明" in form.text and "陈小兰" in form.text and "李小红" not in form.text  # their community's only
    assert 'for="child-search"' in form.text or "搜索姓名" in form.text
    csrf = csrf_of(form.text)
    before = (await _count(db, Activity), await _count(db, ActivityChild))
    future = (clock.today() + dt.timedelta(days=3)).isoformat()
    bad = await client.post(
        f"/admin/places/{ids['home']}/activities",
        data={
            "_csrf_token": csrf,
            "held_on": future,
            "kind": "safety",
            "title": "防溺水安全教育",
            "child_ids": [str(ids["a"])],
            "other_children": "4",
        },
    )
    assert bad.status_code == 422 and "活动日期不能晚于今天" in bad.text
    assert 'value="防溺水安全教育"' in bad.text and f'value="{future}"' in bad.text and 'value="4"' in bad.text
    assert f'value="{ids["a"]}" checked' in bad.text
    other = await client.post(
        f"/admin/places/{ids['home']}/activities",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "safety",
            "title": "课",
            "child_ids": [str(ids["b"])],
        },
    )
    assert other.status_code == 422 and "本辖区在册儿童" in other.text
    negative = await client.post(
        f"/admin/places/{ids['home']}/activities",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "safety",
            "title": "课",
            "adults": "-2",
        },
    )
    assert negative.status_code in (400, 422) and "家长及其他成人人数" in negative.text
    assert (await _count(db, Activity), await _count(db, ActivityChild)) == before
    ok = await client.post(
        f"/admin/places/{ids['home']}/activities",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "safety",
            "title": "防溺水安全教育",
            "minutes": "90",
            "child_ids": [str(ids["a"]), str(ids["a2"])],
            "other_children": "4",
            "adults": "2",
            "volunteers": "1",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    page = await client.get(ok.headers["location"])
    assert "活动已登记" in page.text and "防溺水安全教育" in page.text
    assert "儿童 6 人（建档 2）" in page.text and "张小明" in page.text and "孤儿 1" in page.text
    child_page = await client.get(f"/admin/children/{ids['a']}")
    assert child_page.status_code == 200 and 'id="places"' in child_page.text and "防溺水安全教育" in child_page.text


async def test_director_changes_hours_and_staff_supervisor_more(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    page = await client.get(f"/admin/places/{ids['home']}")
    csrf = csrf_of(page.text)
    r = await client.post(
        f"/admin/places/{ids['home']}",
        data={"_csrf_token": csrf, "opening_hours": "周二至周日 14:00-19:30", "address": "别处"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.session(write=False) as s:
        home = await s.get(Place, ids["home"])
        assert home.opening_hours == "周二至周日 14:00-19:30" and home.address == ""
    bad = await client.post(
        f"/admin/places/{ids['home']}/staff", data={"_csrf_token": csrf, "role": "volunteer", "duty": "周日"}
    )
    assert bad.status_code == 422 and "请填写值班人员姓名" in bad.text and 'value="周日"' in bad.text
    staff = await client.post(
        f"/admin/places/{ids['home']}/staff",
        data={"_csrf_token": csrf, "role": "director", "user_id": str(world.users["director"]), "duty": "开放时间"},
        follow_redirects=False,
    )
    assert staff.status_code == 303
    async with db.session(write=False) as s:
        volunteer = await s.scalar(select(PlaceStaff).where(PlaceStaff.name == "陈阿姨"))
    left = await client.post(
        f"/admin/places/{ids['home']}/staff/{volunteer.id}/leave",
        data={"_csrf_token": csrf, "until": (clock.today() - dt.timedelta(days=1)).isoformat()},
        follow_redirects=False,
    )
    assert left.status_code == 303, left.text
    shown = await client.get(left.headers["location"])
    assert "已登记离岗" in shown.text, shown.text
    assert "已离岗（1）" in shown.text
    await console_login(client, "supervisor")
    page = await client.get(f"/admin/places/{ids['station']}")
    assert "修改阵地信息" in page.text and "登记一场活动" in page.text
    r = await client.post(
        f"/admin/places/{ids['station']}",
        data={
            "_csrf_token": csrf_of(page.text),
            "name": "福田街道未成年人保护工作站",
            "address": "福田区福田街道福华路8号",
            "opening_hours": "周一至周五 9:00-18:00",
            "facilities": ["counselling_room", "reading_corner"],
            "area_m2": "abc",
            "active": "1",
        },
    )
    assert r.status_code in (400, 422) and "面积" in r.text and "福华路8号" in r.text


async def test_usage_page_for_the_district(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    async with db.session() as s:
        s.add(
            Activity(
                place_id=ids["home"],
                held_on=clock.today(),
                kind="reading",
                title="绘本阅读",
                minutes=60,
                counts={"children": {"left_behind": 1, "other": 2}, "on_file": 1, "other_children": 2, "adults": 1},
                children_total=3,
                volunteers_total=0,
            )
        )
    await console_login(client, "admin")
    page = await client.get("/admin/places/usage")
    assert page.status_code == 200 and "阵地使用情况" in page.text and "阅读分享" in page.text
    row = page.text.split(f'id="usage-street-{world.streets[0]}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-figure="activities">1<' in row and 'data-figure="on_file_times">1<' in row
    assert (await client.get("/admin/places/usage?quarter=9")).status_code in (400, 422)
    reports = await client.get("/admin/reports")
    assert "/admin/places/usage" in reports.text


async def test_the_recorder_changes_an_activity_within_seven_days(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    csrf = await console_login(client, "director")
    ok = await client.post(
        f"/admin/places/{ids['home']}/activities",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "reading",
            "title": "绘本阅读",
            "child_ids": [str(ids["a"])],
            "other_children": "2",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    async with db.session(write=False) as s:
        activity = await s.scalar(select(Activity).where(Activity.title == "绘本阅读"))
    page = await client.get(f"/admin/places/{ids['home']}")
    assert f"/admin/places/activities/{activity.id}/edit" in page.text
    form = await client.get(f"/admin/places/activities/{activity.id}/edit")
    assert form.status_code == 200 and "修改活动" in form.text and f'value="{ids["a"]}" checked' in form.text
    bad = await client.post(
        f"/admin/places/activities/{activity.id}",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "reading",
            "title": "绘本阅读",
            "child_ids": [str(ids["b"])],
            "other_children": "9",
        },
    )
    assert bad.status_code == 422 and 'value="9"' in bad.text
    changed = await client.post(
        f"/admin/places/activities/{activity.id}",
        data={
            "_csrf_token": csrf,
            "held_on": clock.today().isoformat(),
            "kind": "reading",
            "title": "绘本阅读",
            "child_ids": [str(ids["a"]), str(ids["a2"])],
            "other_children": "3",
            "adults": "1",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    async with db.session() as s:
        activity = await s.get(Activity, activity.id)
        assert activity.children_total == 5 and activity.counts["adults"] == 1
        activity.created_at = clock.now() - dt.timedelta(days=8)
    assert (await client.get(f"/admin/places/activities/{activity.id}/edit")).status_code == 403
    await console_login(client, "supervisor")
    assert (await client.get(f"/admin/places/activities/{activity.id}/edit")).status_code == 403
