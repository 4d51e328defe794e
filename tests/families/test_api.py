"""Left-behind children's parents through the API: records and versions, contacts and visits home, scope, bad input
and the alerts list (the rule and the job: test_contact_rule.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.families.models import ParentAway
from tests.cases.support import Cases
from tests.conftest import assert_problem

PARENT = {
    "relation": "father",
    "name": "张建国",
    "work_province": "广东省",
    "work_city": "东莞市",
    "employer": "东莞市长安镇某电子厂",
    "job": "流水线工人",
    "phone": "13812345678",
    "wechat": "zhang_jianguo88",
    "frequency": "weekly",
    "away_since": "2024-02-20",
}


async def add_parent(client, auth, child_id: int, **kw) -> dict:
    r = await client.post(f"/api/v1/children/{child_id}/parents", json={**PARENT, **kw}, headers=await auth("director"))
    assert r.status_code == 201, r.text
    return r.json()


async def test_director_records_a_parent_encrypted_at_rest(client, auth, cases: Cases, db) -> None:
    child = cases.children["A"]
    parent = await add_parent(client, auth, child)
    assert parent["relation_label"] == "父亲" and parent["frequency_label"] == "每周"
    assert parent["phone"] == "13812345678" and parent["version"] == 1 and parent["lineage_id"] == parent["id"]
    assert parent["last_contact_on"] is None and parent["alert_id"] is None
    assert parent["contact_due_on"] == (clock.today() + dt.timedelta(days=14)).isoformat()
    async with db.session(write=False) as s:
        raw = (
            await s.execute(
                text("SELECT employer, phone, wechat, name FROM families_parents WHERE id = :i"), {"i": parent["id"]}
            )
        ).one()
    for value, clear in zip(raw, ("某电子厂", "13812345678", "zhang_jianguo88", "张建国"), strict=True):
        assert clear not in value and value.startswith("v2:")
    listed = await client.get(f"/api/v1/children/{child}/parents", headers=await auth("supervisor"))
    assert listed.status_code == 200 and listed.json()["total"] == 1
    assert listed.json()["items"][0]["phone"] == "13812345678"
    # The district reads it masked; its read is audited.
    district = await client.get(f"/api/v1/children/{child}/parents", headers=await auth("admin"))
    shown = district.json()["items"][0]
    assert shown["phone"] == "138****5678" and "zhang_jianguo88" not in district.text
    async with db.session(write=False) as s:
        rows = (
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "child", AuditEntry.entity_id == child, AuditEntry.action == "read"
                )
            )
        ).all()
    shown = [r for r in rows if "parents.phone" in (r.fields or [])]
    assert {r.username for r in shown} == {"supervisor", "admin"}
    assert all(r.detail["parent_ids"] == [parent["id"]] for r in shown)


async def test_a_change_is_a_new_version_and_the_old_is_kept(client, auth, cases: Cases, db) -> None:
    child = cases.children["A"]
    first = await add_parent(client, auth, child)
    h = await auth("director")
    r = await client.post(
        f"/api/v1/families/parents/{first['id']}",
        json={"work_city": "广州市", "employer": "广州白云区某物流公司", "phone": "13987654321"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["version"] == 2 and second["lineage_id"] == first["id"] and second["work_city"] == "广州市"
    assert second["relation"] == "father" and second["wechat"] == PARENT["wechat"]
    # The superseded version takes no second change.
    again = await client.post(f"/api/v1/families/parents/{first['id']}", json={"job": "司机"}, headers=h)
    assert_problem(again, 409)
    nothing = await client.post(f"/api/v1/families/parents/{second['id']}", json={"work_city": "广州市"}, headers=h)
    assert_problem(nothing, 422)
    current = (await client.get(f"/api/v1/children/{child}/parents", headers=h)).json()
    assert [p["id"] for p in current["items"]] == [second["id"]]
    history = (await client.get(f"/api/v1/children/{child}/parents?history=true", headers=h)).json()
    assert [p["version"] for p in history["items"]] == [1, 2]
    assert history["items"][0]["work_city"] == "东莞市"
    # A contact on the old id still belongs to the parent (the lineage).
    c = await client.post(
        f"/api/v1/families/parents/{first['id']}/contacts",
        json={"contacted_on": clock.today().isoformat(), "channel": "video"},
        headers=h,
    )
    assert c.status_code == 201, c.text
    now = (await client.get(f"/api/v1/children/{child}/parents", headers=h)).json()["items"][0]
    assert now["last_contact_on"] == clock.today().isoformat()


async def test_contacts_and_visits_home(client, auth, cases: Cases) -> None:
    child = cases.children["A"]
    parent = await add_parent(client, auth, child, relation="mother", frequency="monthly")
    h = await auth("director")
    today = clock.today()
    for days, channel in ((20, "phone"), (3, "video")):
        r = await client.post(
            f"/api/v1/families/parents/{parent['id']}/contacts",
            json={
                "contacted_on": (today - dt.timedelta(days=days)).isoformat(),
                "channel": channel,
                "note": "问了学习",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        assert r.json()["channel_label"] in ("电话", "视频")
    stay = await client.post(
        f"/api/v1/families/parents/{parent['id']}/visits-home",
        json={
            "from_date": (today - dt.timedelta(days=40)).isoformat(),
            "to_date": (today - dt.timedelta(days=30)).isoformat(),
        },
        headers=h,
    )
    assert stay.status_code == 201, stay.text
    log = await client.get(f"/api/v1/children/{child}/parents/contacts?limit=1", headers=await auth("supervisor"))
    assert log.status_code == 200 and log.json()["total"] == 2
    assert log.json()["items"][0]["contacted_on"] == (today - dt.timedelta(days=3)).isoformat()
    assert log.json()["items"][0]["relation_label"] == "母亲"
    shown = (await client.get(f"/api/v1/children/{child}/parents", headers=h)).json()["items"][0]
    assert shown["last_contact_on"] == (today - dt.timedelta(days=3)).isoformat()
    assert shown["days_silent"] == 3 and len(shown["visits_home"]) == 1
    timeline = (await client.get(f"/api/v1/children/{child}/timeline", headers=h)).json()
    kinds = [e["kind"] for e in timeline["events"]]
    assert "families_visit_home" in kinds


async def test_bad_input_is_refused_and_changes_nothing(client, auth, cases: Cases, db) -> None:
    child = cases.children["A"]
    h = await auth("director")
    today = clock.today()
    bad = [
        ({**PARENT, "relation": "uncle"}, "relation"),
        ({**PARENT, "frequency": "daily"}, "frequency"),
        ({**PARENT, "work_province": ""}, "work_province"),
        ({**PARENT, "phone": "call me"}, "phone"),
        ({**PARENT, "away_since": (today + dt.timedelta(days=2)).isoformat()}, "away_since"),
        ({**PARENT, "away_since": "1950-01-01"}, "away_since"),
        ({**PARENT, "salary": 5000}, None),
    ]
    for body, field in bad:
        r = await client.post(f"/api/v1/children/{child}/parents", json=body, headers=h)
        assert r.status_code in (400, 422), (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    parent = await add_parent(client, auth, child)
    for body in (
        {"contacted_on": (today + dt.timedelta(days=1)).isoformat(), "channel": "phone"},
        {"contacted_on": "1990-01-01", "channel": "phone"},
        {"contacted_on": today.isoformat(), "channel": "letter"},
        {"contacted_on": "not a date", "channel": "phone"},
    ):
        r = await client.post(f"/api/v1/families/parents/{parent['id']}/contacts", json=body, headers=h)
        assert r.status_code in (400, 422), r.text
    for body in (
        {"from_date": today.isoformat(), "to_date": (today - dt.timedelta(days=1)).isoformat()},
        {
            "from_date": (today + dt.timedelta(days=1)).isoformat(),
            "to_date": (today + dt.timedelta(days=3)).isoformat(),
        },
        {"from_date": today.isoformat(), "to_date": (today + dt.timedelta(days=200)).isoformat()},
    ):
        r = await client.post(f"/api/v1/families/parents/{parent['id']}/visits-home", json=body, headers=h)
        assert_problem(r, 422)
    r = await client.post(
        f"/api/v1/families/parents/{parent['id']}",
        json={"returned_on": (today + dt.timedelta(days=1)).isoformat()},
        headers=h,
    )
    assert_problem(r, 422)
    async with db.session(write=False) as s:
        assert len((await s.scalars(select(ParentAway))).all()) == 1
    log = (await client.get(f"/api/v1/children/{child}/parents/contacts", headers=h)).json()
    assert log["total"] == 0


async def test_scope(client, auth, cases: Cases) -> None:
    a, b, c = cases.children["A"], cases.children["B"], cases.children["C"]
    parent = await add_parent(client, auth, a)
    contact = {"contacted_on": clock.today().isoformat(), "channel": "phone"}
    # Another community's director, another street's supervisor, an organization: the child does not exist.
    for who in ("director2", "supervisor2", "org", "fund"):
        h = await auth(who)
        assert_problem(await client.get(f"/api/v1/children/{a}/parents", headers=h), 404)
        assert_problem(await client.get(f"/api/v1/children/{a}/parents/contacts", headers=h), 404)
        assert_problem(
            await client.post(f"/api/v1/families/parents/{parent['id']}/contacts", json=contact, headers=h), 404
        )
        assert_problem(await client.post(f"/api/v1/children/{a}/parents", json=PARENT, headers=h), 404)
    # The street's supervisor and the district read, but only the director writes.
    for who in ("supervisor", "admin"):
        h = await auth(who)
        assert (await client.get(f"/api/v1/children/{a}/parents", headers=h)).status_code == 200
        assert_problem(
            await client.post(f"/api/v1/families/parents/{parent['id']}/contacts", json=contact, headers=h), 403
        )
        assert_problem(
            await client.post(f"/api/v1/families/parents/{parent['id']}", json={"job": "司机"}, headers=h), 403
        )
    assert_problem(await client.get("/api/v1/families/alerts", headers=await auth("org")), 403)
    director = await auth("director")
    for child in (b, c):
        assert_problem(await client.get(f"/api/v1/children/{child}/parents", headers=director), 404)
    assert_problem(await client.post("/api/v1/families/parents/999999/contacts", json=contact, headers=director), 404)
