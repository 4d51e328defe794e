"""The families console: the child's page shows the parents away and records "today we spoke" in one form post;
a new parent and a parent's forms refuse bad input in place with what was typed; /admin/families lists the children
whose contact stopped, by community, in the caller's scope, and a contact takes the child off it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.families import jobs
from marketplace.families.models import ContactAlert, ParentAway, ParentContact
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child


async def seed(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """张小明 (福山) with his father in 东莞, silent for 30 days (an alert at the supervisor's level), and 王小华 (百花,
    another street) with his mother in 长沙, silent as long."""
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    async with db.session() as s:
        a = await add_child(s, settings, c1, s1, name="张小明", seq="991")
        c = await add_child(s, settings, c3, s2, name="王小华", seq="995")
        out = {"a": a.id, "c": c.id}
        for key, child, relation, city in (("pa", a, "father", "东莞市"), ("pc", c, "mother", "长沙市")):
            p = ParentAway(
                child_id=child.id,
                version=1,
                relation=relation,
                name="张建国",
                work_province="广东省",
                work_city=city,
                employer="某电子厂",
                job="普工",
                phone="13812345678",
                wechat="",
                frequency="weekly",
                tracked_from=clock.today() - dt.timedelta(days=30),
                note="",
            )
            s.add(p)
            await s.flush()
            p.lineage_id = p.id
            out[key] = p.id
    await jobs.contact_check(db)
    return out


def parent_item(html: str, lineage: int) -> str:
    found = re.search(rf'<li id="parent-{lineage}">.*?</li>', html, re.S)
    assert found, html
    return found.group(0)


async def test_alert_list_scope_and_a_contact_from_the_child_page(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    csrf = await console_login(client, "director")
    board = await client.get("/admin/families")
    assert board.status_code == 200
    assert "福山社区" in board.text and "张小明" in board.text and "王小华" not in board.text
    assert "已升级至街道督导员" in board.text and 'id="alert-total">1<' in board.text
    assert 'href="/admin/families"' in board.text  # in the navigation
    page = await client.get(f"/admin/children/{ids['a']}")
    assert page.status_code == 200
    item = parent_item(page.text, ids["pa"])
    assert "联系中断" in item and "13812345678" in item and "东莞市" in item
    r = await client.post(
        f"/admin/families/parents/{ids['pa']}/contacts",
        data={
            "_csrf_token": csrf_of(page.text),
            "back": "child",
            "contacted_on": clock.today().isoformat(),
            "channel": "video",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?families=contact#families")
    page = await client.get(r.headers["location"])
    assert "已登记联系" in page.text and "联系中断" not in parent_item(page.text, ids["pa"])
    board = await client.get("/admin/families")
    assert "张小明" not in board.text and 'id="alert-total">0<' in board.text
    resolved = await client.get("/admin/families?status=resolved")
    assert "张小明" in resolved.text and "恢复" in resolved.text
    # The street's supervisor of the other street sees only theirs; the district both; an organization nothing.
    await console_login(client, "supervisor2")
    board = await client.get("/admin/families")
    assert "王小华" in board.text and "张小明" not in board.text
    await console_login(client, "org")
    assert (await client.get("/admin/families")).status_code == 403
    assert (await client.get(f"/admin/families/parents/{ids['pa']}")).status_code == 404
    async with db.session(write=False) as s:
        reads = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "families_alert")
        )
    assert int(reads or 0) >= 3
    assert csrf


async def test_new_parent_form_refuses_in_place_and_saves(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    form = await client.get(f"/admin/families/children/{ids['a']}/parents/new")
    assert form.status_code == 200 and "务工省份" in form.text
    posted = {
        "_csrf_token": csrf_of(form.text),
        "relation": "mother",
        "name": "李秀英",
        "work_province": "广西壮族自治区",
        "work_city": "南宁市",
        "employer": "某建筑公司",
        "phone": "not-a-phone",
        "frequency": "biweekly",
        "away_since": "",
    }
    r = await client.post(f"/admin/families/children/{ids['a']}/parents", data=posted)
    assert r.status_code == 422 and "手机号" in r.text and 'value="南宁市"' in r.text and 'value="李秀英"' in r.text
    assert 'name="phone" type="tel" inputmode="tel" maxlength="20" value="not-a-phone" aria-invalid="true"' in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(ParentAway)) == 2
    future = {**posted, "phone": "13912345678", "away_since": (clock.today() + dt.timedelta(days=3)).isoformat()}
    r = await client.post(f"/admin/families/children/{ids['a']}/parents", data=future)
    assert r.status_code == 422 and "外出时间不能晚于今天" in r.text
    ok = {**posted, "phone": "13912345678"}
    r = await client.post(f"/admin/families/children/{ids['a']}/parents", data=ok, follow_redirects=False)
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已登记外出父母" in page.text and "李秀英" in page.text and "南宁市" in page.text
    # Another community's director may not open the form for this child.
    await console_login(client, "director2")
    assert (await client.get(f"/admin/families/children/{ids['a']}/parents/new")).status_code == 404


async def test_parent_page_contact_visit_home_and_new_version(client, db, world, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    page = await client.get(f"/admin/families/parents/{ids['pa']}")
    assert page.status_code == 200 and "登记一次联系" in page.text and "第 1 版" in page.text
    csrf = csrf_of(page.text)
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    r = await client.post(
        f"/admin/families/parents/{ids['pa']}/contacts",
        data={"_csrf_token": csrf, "contacted_on": tomorrow, "channel": "phone", "note": "问了学习情况"},
    )
    assert r.status_code == 422 and "联系日期不能晚于今天" in r.text and "问了学习情况" in r.text
    r = await client.post(
        f"/admin/families/parents/{ids['pa']}/visits-home",
        data={"_csrf_token": csrf, "from_date": clock.today().isoformat(), "to_date": "2000-01-01", "note": ""},
    )
    assert r.status_code == 422 and "离家日期不能早于回家日期" in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(ParentContact)) == 0
    r = await client.post(
        f"/admin/families/parents/{ids['pa']}/revise",
        data={
            "_csrf_token": csrf,
            "relation": "father",
            "name": "张建国",
            "work_province": "广东省",
            "work_city": "广州市",
            "employer": "某物流公司",
            "job": "司机",
            "phone": "13812345678",
            "wechat": "",
            "frequency": "weekly",
            "away_since": "",
            "returned_on": "",
            "note": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "第 2 版" in page.text and "广州市" in page.text and "已保存为新版本" in page.text
    r = await client.post(
        f"/admin/families/parents/{ids['pa']}/visits-home",
        data={
            "_csrf_token": csrf,
            "from_date": (clock.today() - dt.timedelta(days=2)).isoformat(),
            "to_date": clock.today().isoformat(),
            "note": "回来过中秋",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.session(write=False) as s:
        alert = await s.scalar(select(ContactAlert).where(ContactAlert.parent_id == ids["pa"]))
        assert alert is not None and alert.status == "resolved" and alert.resolved_by == "visit_home"
    # The supervisor reads the page without the forms.
    await console_login(client, "supervisor")
    page = await client.get(f"/admin/families/parents/{ids['pa']}")
    assert page.status_code == 200 and "登记一次联系" not in page.text
