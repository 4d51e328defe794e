"""Guardianship over the API: assessments scored on the server, entrusted guardianship confirmations, temporary and
long-term state guardianship, the file's ``guardianship`` kept in step, scope, audit rows and the timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.service import add_months
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.support import figures

SUITE = "guardianship API"
pytestmark = pytest.mark.clock_sensitive


def answers(value: int, **changed: int) -> dict[str, int]:
    return {**{i.code: min(value, i.best) for i in inst.CURRENT.items()}, **changed}


def ago(days: int) -> str:
    return (clock.today() - dt.timedelta(days=days)).isoformat()


async def audit_rows(db, **where: Any) -> int:
    async with db.session(write=False) as s:
        stmt = select(func.count()).select_from(AuditEntry)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return int(await s.scalar(stmt) or 0)


async def file_guardianship(db, child_id: int) -> str:
    async with db.session(write=False) as s:
        child = await s.get(Child, child_id)
        assert child is not None
        return child.guardianship


ENTRUST = {"person_name": "陈秀英", "relationship": "外祖母", "contact_phone": "13800138000"}


async def test_the_instrument_is_served_to_casework_roles_only(client, auth, cases: Cases) -> None:
    r = await client.get("/api/v1/guardianship/instrument", headers=await auth("director"))
    assert r.status_code == 200
    body = r.json()
    assert (body["code"], body["version"]) == ("GA", 1)
    assert sum(d["weight"] for d in body["domains"]) == 100
    assert [b["code"] for b in body["bands"]] == ["good", "adequate", "inadequate"]
    for who in ("org", "fund", "procurement"):
        assert_problem(await client.get("/api/v1/guardianship/instrument", headers=await auth(who)), 403)


async def test_an_assessment_is_scored_on_the_server_and_read_within_scope(client, auth, db, cases: Cases) -> None:
    child = cases.children["A"]
    r = await client.post(
        f"/api/v1/children/{child}/guardianship-assessments",
        json={"answers": answers(2), "note": "祖母照料，辅导不足", "assessed_on": ago(1)},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["score"], a["result"], a["result_label"]) == (67, "adequate", "监护基本合格需支持")
    assert a["recommended"] == "family" and a["allows_return"] is True
    assert (a["instrument_code"], a["instrument_version"]) == ("GA", 1)
    assert {d["code"]: d["percent"] for d in a["domains"]}["safety"] == 67
    assert a["note"] == "祖母照料，辅导不足" and a["assessor_name"] == "director"
    assert await audit_rows(db, action="create", entity="guardianship_assessment", entity_id=a["id"]) == 1

    for who in ("director", "supervisor", "admin"):
        got = await client.get(f"/api/v1/guardianship/assessments/{a['id']}", headers=await auth(who))
        assert got.status_code == 200 and got.json()["score"] == 67
        listed = await client.get(f"/api/v1/children/{child}/guardianship-assessments", headers=await auth(who))
        assert listed.status_code == 200 and [x["id"] for x in listed.json()["items"]] == [a["id"]]
    assert await audit_rows(db, action="read", entity="guardianship_assessment", entity_id=a["id"]) == 3
    assert await audit_rows(db, action="list", entity="guardianship_assessment", entity_id=a["id"]) == 3
    refused = 0
    for who in ("director2", "director3", "supervisor2", "org", "fund"):
        assert_problem(await client.get(f"/api/v1/guardianship/assessments/{a['id']}", headers=await auth(who)), 404)
        r = await client.get(f"/api/v1/children/{child}/guardianship-assessments", headers=await auth(who))
        assert r.status_code in (403, 404)
        refused += 2
    figures.record(SUITE, "cross-scope reads tried", refused)
    figures.record(SUITE, "cross-scope reads served", 0)


async def test_only_the_childs_director_assesses(client, auth, cases: Cases) -> None:
    child = cases.children["A"]
    body = {"answers": answers(3)}
    for who, status in (("supervisor", 403), ("admin", 403), ("director2", 404), ("director3", 404), ("org", 404)):
        assert_problem(
            await client.post(f"/api/v1/children/{child}/guardianship-assessments", json=body, headers=await auth(who)),
            status,
        )


async def test_answers_incomplete_or_out_of_range_are_422_and_nothing_is_kept(client, auth, db, cases: Cases) -> None:
    child, h = cases.children["A"], await auth("director")
    url = f"/api/v1/children/{child}/guardianship-assessments"
    missing = {k: v for k, v in answers(2).items() if k != "alone"}
    p = assert_problem(await client.post(url, json={"answers": missing}, headers=h), 422)
    assert [e["field"] for e in p["errors"]] == ["answers.alone"]
    p = assert_problem(await client.post(url, json={"answers": answers(2, housing=7)}, headers=h), 422)
    assert [e["field"] for e in p["errors"]] == ["answers.housing"]
    p = assert_problem(await client.post(url, json={"answers": answers(2, extra=1)}, headers=h), 422)
    assert [e["field"] for e in p["errors"]] == ["answers.extra"]
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    assert_problem(await client.post(url, json={"answers": answers(2), "assessed_on": tomorrow}, headers=h), 422)
    assert_problem(await client.post(url, json={"answers": answers(2), "unknown": 1}, headers=h), 400)
    r = await client.get(url, headers=h)
    assert r.json()["total"] == 0
    assert await audit_rows(db, action="create", entity="guardianship_assessment") == 0


async def test_entrusted_guardianship_is_recorded_renewed_and_ended_with_the_file_in_step(
    client, auth, db, cases: Cases
) -> None:
    child, h = cases.children["A"], await auth("director")
    signed = ago(10)
    r = await client.post(
        f"/api/v1/children/{child}/entrusted-guardianships", json={**ENTRUST, "signed_on": signed}, headers=h
    )
    assert r.status_code == 201, r.text
    e = r.json()
    default_review = add_months(dt.date.fromisoformat(signed), 12)  # a year on (28 Feb for a 29 Feb signature)
    assert e["status"] == "active" and e["review_on"] == default_review.isoformat()
    assert e["contact_phone_masked"] == "138****8000" and e["child_name"] == "张小明"
    assert await file_guardianship(db, child) == "entrusted"
    assert await audit_rows(db, action="update", entity="child", entity_id=child) == 1

    again = await client.post(
        f"/api/v1/children/{child}/entrusted-guardianships", json={**ENTRUST, "signed_on": signed}, headers=h
    )
    assert assert_problem(again, 409)["detail"].startswith("已有委托监护确认书")
    past = {**ENTRUST, "signed_on": ago(400), "review_on": ago(30)}
    assert_problem(
        await client.post(f"/api/v1/children/{cases.children['A']}/entrusted-guardianships", json=past, headers=h), 422
    )
    bad_phone = {**ENTRUST, "contact_phone": "call me", "signed_on": signed}
    assert_problem(
        await client.post(f"/api/v1/children/{child}/entrusted-guardianships", json=bad_phone, headers=h), 400
    )
    assert_problem(
        await client.post(
            f"/api/v1/guardianship/entrusted/{e['id']}/renew",
            json={"signed_on": ago(1)},
            headers=await auth("supervisor"),
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"/api/v1/guardianship/entrusted/{e['id']}/renew",
            json={"signed_on": ago(1)},
            headers=await auth("director3"),
        ),
        404,
    )
    r = await client.post(
        f"/api/v1/guardianship/entrusted/{e['id']}/renew",
        json={"signed_on": ago(1), "contact_phone": "13900000000"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    renewed = r.json()
    assert renewed["renewed_from_id"] == e["id"] and renewed["person_name"] == "陈秀英"
    assert renewed["contact_phone_masked"] == "139****0000" and renewed["status"] == "active"
    assert_problem(
        await client.post(
            f"/api/v1/guardianship/entrusted/{e['id']}/end", json={"ended_on": ago(0), "reason": "x"}, headers=h
        ),
        409,
    )
    r = await client.post(
        f"/api/v1/guardianship/entrusted/{renewed['id']}/end",
        json={"ended_on": ago(0), "reason": "父亲返乡照料"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["status"] == "ended" and r.json()["end_reason"] == "父亲返乡照料"
    assert await file_guardianship(db, child) == "family"

    g = (await client.get(f"/api/v1/children/{child}/guardianship", headers=await auth("supervisor"))).json()
    assert g["guardianship"] == "family" and g["entrusted"] is None
    assert [x["status"] for x in g["entrusted_history"]] == ["ended", "renewed"]


async def test_the_entrusted_list_filters_by_review_and_scope(client, auth, cases: Cases) -> None:
    near = {**ENTRUST, "signed_on": ago(340), "review_on": (clock.today() + dt.timedelta(days=20)).isoformat()}
    far = {**ENTRUST, "signed_on": ago(10)}
    assert (
        await client.post(
            f"/api/v1/children/{cases.children['A']}/entrusted-guardianships", json=near, headers=await auth("director")
        )
    ).status_code == 201
    assert (
        await client.post(
            f"/api/v1/children/{cases.children['C']}/entrusted-guardianships", json=far, headers=await auth("director3")
        )
    ).status_code == 201

    def ids(r: Any) -> list[int]:
        assert r.status_code == 200, r.text
        return [x["child_id"] for x in r.json()["items"]]

    admin = await auth("admin")
    assert ids(await client.get("/api/v1/guardianship/entrusted", headers=admin)) == [
        cases.children["A"],
        cases.children["C"],
    ]
    assert ids(await client.get("/api/v1/guardianship/entrusted?due_within_days=30", headers=admin)) == [
        cases.children["A"]
    ]
    assert ids(await client.get("/api/v1/guardianship/entrusted?status=ended", headers=admin)) == []
    assert ids(await client.get("/api/v1/guardianship/entrusted", headers=await auth("supervisor"))) == [
        cases.children["A"]
    ]
    assert ids(await client.get("/api/v1/guardianship/entrusted", headers=await auth("director2"))) == []
    assert_problem(await client.get("/api/v1/guardianship/entrusted", headers=await auth("org")), 403)
    assert_problem(await client.get("/api/v1/guardianship/entrusted?due_within_days=-1", headers=admin), 400)


async def test_going_home_from_temporary_guardianship_needs_an_assessment_after_the_start_that_allows_it(
    client, auth, db, cases: Cases
) -> None:
    child, h = cases.children["A"], await auth("director")
    before = await client.post(
        f"/api/v1/children/{child}/guardianship-assessments",
        json={"answers": answers(3), "assessed_on": ago(20)},
        headers=h,
    )
    assert before.status_code == 201
    await client.post(
        f"/api/v1/children/{child}/entrusted-guardianships", json={**ENTRUST, "signed_on": ago(30)}, headers=h
    )
    r = await client.post(
        f"/api/v1/children/{child}/temporary-guardianships",
        json={"institution": "福田区未成年人救助保护中心", "reason": "独居无人照料", "started_on": ago(10)},
        headers=h,
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "open"
    assert await file_guardianship(db, child) == "temporary_state"
    g = (await client.get(f"/api/v1/children/{child}/guardianship", headers=h)).json()
    assert g["temporary"]["id"] == t["id"] and g["entrusted"] is None
    assert g["entrusted_history"][0]["status"] == "ended"
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/entrusted-guardianships", json={**ENTRUST, "signed_on": ago(0)}, headers=h
        ),
        409,
    )

    end = f"/api/v1/guardianship/temporary/{t['id']}/end"
    home = {"ended_on": ago(0), "outcome": "returned_home"}
    p = assert_problem(await client.post(end, json=home, headers=h), 409)
    assert "监护评估" in p["detail"]
    p = assert_problem(await client.post(end, json={**home, "assessment_id": before.json()["id"]}, headers=h), 409)
    assert "早于临时监护开始日期" in p["detail"]
    bad = await client.post(
        f"/api/v1/children/{child}/guardianship-assessments",
        json={"answers": answers(3, violence=0), "assessed_on": ago(5)},
        headers=h,
    )
    assert bad.json()["result"] == "inadequate"
    p = assert_problem(await client.post(end, json={**home, "assessment_id": bad.json()["id"]}, headers=h), 409)
    assert "不宜返回家庭" in p["detail"]
    other = await client.post(
        f"/api/v1/children/{cases.children['B']}/guardianship-assessments",
        json={"answers": answers(3)},
        headers=await auth("director2"),
    )
    assert_problem(await client.post(end, json={**home, "assessment_id": other.json()["id"]}, headers=h), 422)
    assert_problem(await client.post(end, json={**home, "ended_on": ago(11)}, headers=h), 422)
    assert_problem(await client.post(end, json=home, headers=await auth("supervisor")), 403)
    assert_problem(await client.post(end, json=home, headers=await auth("director2")), 404)
    assert await file_guardianship(db, child) == "temporary_state"

    good = await client.post(
        f"/api/v1/children/{child}/guardianship-assessments",
        json={"answers": answers(3), "assessed_on": ago(1), "note": "父亲返乡，具备监护条件"},
        headers=h,
    )
    r = await client.post(end, json={**home, "assessment_id": good.json()["id"], "note": "返回家庭"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "returned_home" and r.json()["assessment_id"] == good.json()["id"]
    assert await file_guardianship(db, child) == "family"
    assert_problem(await client.post(end, json={**home, "assessment_id": good.json()["id"]}, headers=h), 409)

    timeline = (await client.get(f"/api/v1/children/{child}/timeline", headers=h)).json()
    kinds = {(e["stage"], e["kind"]) for stage in [timeline] for e in _events(stage)}
    assert ("assessment", "guardianship_assessment") in kinds
    assert {
        ("intervention", "entrusted_started"),
        ("intervention", "entrusted_ended"),
        ("intervention", "temporary_started"),
        ("intervention", "temporary_ended"),
    } <= kinds
    text = str(timeline)
    assert "13800138000" not in text and "陈秀英" not in text


def _events(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    if "events" in timeline:
        return list(timeline["events"])
    return [e for s in timeline.get("stages", []) for e in s.get("events", [])]


async def test_long_term_guardianship_ends_the_temporary_placement(client, auth, db, cases: Cases) -> None:
    child, h = cases.children["A"], await auth("director")
    t = (
        await client.post(
            f"/api/v1/children/{child}/temporary-guardianships",
            json={"institution": "福田区未成年人救助保护中心", "reason": "父母双亡", "started_on": ago(60)},
            headers=h,
        )
    ).json()
    p = assert_problem(
        await client.post(
            f"/api/v1/guardianship/temporary/{t['id']}/end",
            json={"ended_on": ago(0), "outcome": "long_term_state"},
            headers=h,
        ),
        409,
    )
    assert "长期监护" in p["detail"]
    lt = {
        "document_no": "（2026）粤0304民特12号",
        "decided_on": ago(3),
        "institution": "深圳市儿童福利院",
        "started_on": ago(1),
    }
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/long-term-guardianships", json={**lt, "started_on": ago(5)}, headers=h
        ),
        422,
    )
    ancient = {**lt, "decided_on": "0001-01-01", "started_on": "0001-01-02"}
    url = f"/api/v1/children/{child}/long-term-guardianships"
    assert_problem(await client.post(url, json=ancient, headers=h), 422)
    r = await client.post(f"/api/v1/children/{child}/long-term-guardianships", json=lt, headers=h)
    assert r.status_code == 201, r.text
    assert await file_guardianship(db, child) == "long_term_state"
    g = (await client.get(f"/api/v1/children/{child}/guardianship", headers=await auth("admin"))).json()
    assert g["temporary"] is None and g["temporary_history"][0]["outcome"] == "long_term_state"
    assert g["long_term"]["document_no"] == lt["document_no"]
    assert_problem(await client.post(f"/api/v1/children/{child}/long-term-guardianships", json=lt, headers=h), 409)
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/temporary-guardianships",
            json={"institution": "救助站", "reason": "x", "started_on": ago(0)},
            headers=h,
        ),
        409,
    )


async def test_the_childs_guardianship_is_scoped_and_audited(client, auth, db, cases: Cases) -> None:
    child = cases.children["A"]
    for who in ("director", "supervisor", "admin", "auditor"):
        r = await client.get(f"/api/v1/children/{child}/guardianship", headers=await auth(who))
        assert r.status_code == 200, (who, r.text)
        assert r.json()["guardianship"] == "family" and r.json()["latest_assessment"] is None
    for who in ("director2", "director3", "supervisor2", "org", "fund"):
        assert_problem(await client.get(f"/api/v1/children/{child}/guardianship", headers=await auth(who)), 404)
    assert_problem(await client.get("/api/v1/children/999999/guardianship", headers=await auth("admin")), 404)
    assert await audit_rows(db, action="read", entity="child", entity_id=child) >= 4
