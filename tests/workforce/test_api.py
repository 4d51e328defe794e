"""The workforce through the API: courses and attendance, certificates, the yearly assessment computed from a
hand-built year of records (every indicator's inputs checked), its steps and their refusals, its immutability
once confirmed, scope, the certificate job's idempotence, the post subsidy's factor in the allowance run and the
street ranking's new indicator. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, MandatoryReport, Notification, Visit
from marketplace.procurement import allowances
from marketplace.procurement.allowance_models import AllowanceStandard
from marketplace.workforce import service
from marketplace.workforce.models import Assessment, Certificate
from tests.cases.support import Cases, add_child, add_need, add_referral
from tests.conftest import assert_problem

YEAR = 2025
UTC = dt.UTC


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(YEAR, month, day, 4, 0, tzinfo=UTC)


async def build_year(db: Any, world: Any, settings: Any, cases: Cases) -> None:
    """The director's community (福山) in 2025: visits 2 of 3 on time, referrals 1 of 2 closed with a verdict (a
    revoked one does not count), mandatory reports 1 of 2 made by the director, files 1 of 2 complete."""
    s1, _ = world.streets
    c1, c2, _ = world.communities
    director = world.users["director"]
    async with db.session() as s:
        a = await s.get(Child, cases.children["A"])
        for visited, due in ((dt.date(YEAR, 2, 1), dt.date(YEAR, 3, 1)), (dt.date(YEAR, 3, 5), dt.date(YEAR, 4, 5))):
            s.add(Visit(child_id=a.id, visited_on=visited, kind="home", next_visit_due=due))
        s.add(Visit(child_id=a.id, visited_on=dt.date(YEAR, 4, 1), kind="home", next_visit_due=dt.date(YEAR, 7, 1)))
        # Another community's visit (late) counts nowhere here.
        s.add(
            Visit(
                child_id=cases.children["B"],
                visited_on=dt.date(YEAR, 5, 1),
                kind="home",
                next_visit_due=dt.date(YEAR, 6, 1),
            )
        )
        complete = await add_child(s, settings, c1, s1, name="陈小雨", seq="997")
        c = field_cipher(settings)
        complete.guardian_relation = "母亲"
        complete.address_enc = c.encrypt("福山社区1栋", "children.address")
        complete.consent_recorded_on = dt.date(YEAR, 1, 10)
        complete.last_visit_on = dt.date(YEAR, 4, 1)
        need = await add_need(s, a, "psych_counselling")
        await add_referral(s, need, world.services[0], world.orgs[0], status="closed", verdict="met", sent_at=at(3, 1))
        need2 = await add_need(s, a, "psych_counselling")
        await add_referral(s, need2, world.services[0], world.orgs[0], status="in_service", sent_at=at(6, 1))
        need3 = await add_need(s, a, "psych_counselling")
        await add_referral(s, need3, world.services[0], world.orgs[0], status="revoked", sent_at=at(7, 1))
        for by in (director, None):
            s.add(
                MandatoryReport(
                    community_id=c1,
                    street_id=s1,
                    kind="lives_alone",
                    description="独自在家",
                    status="closed",
                    reporter_role="child_director",
                    reported_by=by,
                    created_at=at(8, 1),
                )
            )
        # Another community's report counts nowhere here.
        s.add(
            MandatoryReport(
                community_id=c2,
                street_id=s1,
                kind="lives_alone",
                description="x",
                reported_by=None,
                created_at=at(8, 2),
            )
        )


async def train(client: Any, auth: Any, world: Any) -> None:
    """12 of 24 hours passed in 2025 (a failed course counts nothing)."""
    admin = await auth("admin")
    r = await client.post(
        "/api/v1/workforce/courses",
        json={
            "title": "儿童主任业务培训",
            "kind": "business",
            "organizer": "福田区民政局",
            "starts_on": f"{YEAR}-05-10",
            "ends_on": f"{YEAR}-05-12",
            "hours": 16,
            "place": "福田区民政局三楼会议室",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    course = r.json()
    assert course["kind_label"] == "业务培训" and course["street_name"] == "区级"
    r = await client.post(
        f"/api/v1/workforce/courses/{course['id']}/attendance",
        json={"user_id": world.users["director"], "hours": 12},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["passed"] is True
    r = await client.post(
        "/api/v1/workforce/courses",
        json={
            "title": "心理急救专题",
            "kind": "thematic",
            "organizer": "福田街道",
            "starts_on": f"{YEAR}-09-01",
            "ends_on": f"{YEAR}-09-01",
            "hours": 8,
        },
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201 and r.json()["street_id"] == world.streets[0]
    street_course = r.json()["id"]
    r = await client.post(
        f"/api/v1/workforce/courses/{street_course}/attendance",
        json={"user_id": world.users["director"], "hours": 8, "passed": False},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201
    # Only the organiser records; nobody beyond the course's hours or outside its street.
    assert_problem(
        await client.post(
            f"/api/v1/workforce/courses/{course['id']}/attendance",
            json={"user_id": world.users["director"], "hours": 4},
            headers=await auth("supervisor"),
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"/api/v1/workforce/courses/{street_course}/attendance",
            json={"user_id": world.users["director3"], "hours": 4},
            headers=await auth("supervisor"),
        ),
        422,
    )
    assert_problem(
        await client.post(
            f"/api/v1/workforce/courses/{course['id']}/attendance",
            json={"user_id": world.users["director"], "hours": 17},
            headers=admin,
        ),
        422,
    )
    # The other street's supervisor does not see the street's course.
    assert_problem(
        await client.post(
            f"/api/v1/workforce/courses/{street_course}/attendance",
            json={"user_id": world.users["director3"], "hours": 4},
            headers=await auth("supervisor2"),
        ),
        404,
    )


def indicators(body: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    return {i["code"]: (i["numerator"], i["denominator"], i["score"]) for i in body["indicators"]}


async def open_for(client: Any, auth: Any, who: str, user_id: int, year: int = YEAR) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/workforce/assessments", json={"user_id": user_id, "year": year}, headers=await auth(who)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_assessment_computed_from_the_records_through_its_steps(
    client, auth, db, world, settings, cases: Cases
) -> None:
    await build_year(db, world, settings, cases)
    await train(client, auth, world)
    director = world.users["director"]
    # Only the reviewer (the street's supervisor) or the district opens it.
    assert_problem(
        await client.post(
            "/api/v1/workforce/assessments", json={"user_id": director, "year": YEAR}, headers=await auth("director")
        ),
        403,
    )
    assert_problem(
        await client.post(
            "/api/v1/workforce/assessments", json={"user_id": director, "year": YEAR}, headers=await auth("supervisor2")
        ),
        404,
    )
    assert_problem(
        await client.post(
            "/api/v1/workforce/assessments", json={"user_id": director, "year": 2099}, headers=await auth("supervisor")
        ),
        422,
    )
    opened = await open_for(client, auth, "supervisor", director)
    assert opened["status"] == "open" and opened["status_label"] == "待述职" and opened["result"] is None
    assert indicators(opened) == {
        "visits_on_time": (2, 3, 66.7),
        "referrals_closed": (1, 2, 50.0),
        "reports_made": (1, 2, 50.0),
        "files_complete": (1, 2, 50.0),
        "training_hours": (12, 24, 50.0),
    }
    assert all(i["method"] and i["label"] for i in opened["indicators"])
    assert_problem(
        await client.post(
            "/api/v1/workforce/assessments", json={"user_id": director, "year": YEAR}, headers=await auth("admin")
        ),
        409,
    )
    aid = opened["id"]
    url = f"/api/v1/workforce/assessments/{aid}"
    # The score comes after the self-report; the district confirms after the score.
    assert_problem(
        await client.post(f"{url}/score", json={"score": 80, "comment": "好"}, headers=await auth("supervisor")), 409
    )
    assert_problem(await client.post(f"{url}/confirm", json={}, headers=await auth("admin")), 409)
    # Only the person reports on their year.
    report = {"text": "全年走访困境儿童，完成档案更新。", "claims": ["组织暑期安全讲座2场", "协助处置强制报告1起"]}
    assert_problem(await client.post(f"{url}/self-report", json=report, headers=await auth("supervisor")), 403)
    assert_problem(await client.post(f"{url}/self-report", json=report, headers=await auth("director2")), 404)
    assert_problem(await client.post(f"{url}/self-report", json={"text": ""}, headers=await auth("director")), 400)
    r = await client.post(f"{url}/self-report", json=report, headers=await auth("director"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "self_reported" and r.json()["claims"] == report["claims"]
    # A visit recorded meanwhile is counted at the next step (late: 2 of 4 on time).
    async with db.session() as s:
        s.add(
            Visit(
                child_id=cases.children["A"],
                visited_on=dt.date(YEAR, 9, 1),
                kind="home",
                next_visit_due=dt.date(YEAR, 12, 1),
            )
        )
    for who, status in (("director", 403), ("director2", 404), ("supervisor2", 404), ("admin", 403), ("auditor", 403)):
        assert_problem(
            await client.post(f"{url}/score", json={"score": 80, "comment": "好"}, headers=await auth(who)), status
        )
    assert_problem(
        await client.post(f"{url}/score", json={"score": 101, "comment": "好"}, headers=await auth("supervisor")), 400
    )
    r = await client.post(
        f"{url}/score", json={"score": 80, "comment": "走访扎实，档案需补全"}, headers=await auth("supervisor")
    )
    assert r.status_code == 201, r.text
    scored = r.json()
    assert indicators(scored)["visits_on_time"] == (2, 4, 50.0)
    # 0.20×50 + 0.15×50 + 0.10×50 + 0.15×50 + 0.10×50 + 0.30×80 = 59.0
    assert scored["status"] == "scored" and scored["result"] == 59.0 and scored["grade"] is None
    assert_problem(await client.post(f"{url}/self-report", json=report, headers=await auth("director")), 409)
    for who, status in (("supervisor", 403), ("auditor", 403), ("director", 403)):
        assert_problem(await client.post(f"{url}/confirm", json={}, headers=await auth(who)), status)
    r = await client.post(f"{url}/confirm", json={}, headers=await auth("admin"))
    assert r.status_code == 201, r.text
    confirmed = r.json()
    assert confirmed["status"] == "confirmed" and confirmed["result"] == 59.0
    assert confirmed["grade"] == "fail" and confirmed["grade_label"] == "不合格"
    # Confirmed: nothing changes it, not even new records.
    async with db.session() as s:
        s.add(
            Visit(
                child_id=cases.children["A"],
                visited_on=dt.date(YEAR, 10, 1),
                kind="home",
                next_visit_due=dt.date(YEAR, 12, 1),
            )
        )
    for step, body, who in (
        ("confirm", {}, "admin"),
        ("score", {"score": 90, "comment": "x"}, "supervisor"),
        ("self-report", report, "director"),
    ):
        assert_problem(await client.post(f"{url}/{step}", json=body, headers=await auth(who)), 409)
    again = (await client.get(url, headers=await auth("director"))).json()
    assert again["indicators"] == confirmed["indicators"] and again["result"] == 59.0 and again["grade"] == "fail"
    # A correction is a new revision superseding it, with its reason; the confirmed row stays as it was.
    assert_problem(await client.post(f"{url}/correct", json={"reason": "x"}, headers=await auth("supervisor")), 403)
    assert_problem(await client.post(f"{url}/correct", json={"reason": ""}, headers=await auth("admin")), 400)
    r = await client.post(
        f"{url}/correct", json={"reason": "督导员评分录入有误，应为95分", "score": 95}, headers=await auth("admin")
    )
    assert r.status_code == 201, r.text
    fixed = r.json()
    assert fixed["revision"] == 2 and fixed["supersedes_id"] == aid and fixed["status"] == "scored"
    assert fixed["self_report"] == report["text"] and fixed["reviewer_score"] == 95
    assert indicators(fixed)["visits_on_time"] == (3, 5, 60.0)  # 1 Oct came before the 1 Dec due
    assert_problem(await client.post(f"{url}/correct", json={"reason": "again"}, headers=await auth("admin")), 409)
    r = await client.post(f"/api/v1/workforce/assessments/{fixed['id']}/confirm", json={}, headers=await auth("admin"))
    # 0.20×60 + 0.15×50 + 0.10×50 + 0.15×50 + 0.10×50 + 0.30×95 = 65.5
    assert r.json()["result"] == 65.5 and r.json()["grade"] == "basic" and r.json()["grade_label"] == "基本合格"
    old = (await client.get(url, headers=await auth("admin"))).json()
    assert old["superseded_by_id"] == fixed["id"] and old["result"] == 59.0 and old["grade"] == "fail"
    listed = (await client.get(f"/api/v1/workforce/assessments?year={YEAR}", headers=await auth("supervisor"))).json()
    assert [(i["id"], i["grade"]) for i in listed["items"]] == [(fixed["id"], "basic")]
    # Scope of the list: the director's own; the other street's supervisor none; the org nothing at all.
    assert (await client.get("/api/v1/workforce/assessments", headers=await auth("director2"))).json()["total"] == 0
    assert (await client.get("/api/v1/workforce/assessments", headers=await auth("supervisor2"))).json()["total"] == 0
    assert_problem(await client.get("/api/v1/workforce/assessments", headers=await auth("org")), 403)
    assert_problem(await client.get(url, headers=await auth("director2")), 404)
    # The person's page shows the hours, the grade and both revisions.
    person = (
        await client.get(f"/api/v1/workforce/people/{director}?year={YEAR}", headers=await auth("director"))
    ).json()
    assert person["person"]["hours"] == 12 and person["person"]["required_hours"] == 24
    assert person["person"]["latest_grade"]["grade"] == "basic"
    assert [a["revision"] for a in person["assessments"]] == [2, 1]
    # Notifications went to the director (opened, confirmed) and the supervisor (self-report).
    async with db.session(write=False) as s:
        kinds = (
            await s.scalars(select(Notification.recipient_id).where(Notification.kind == "workforce_assessment_step"))
        ).all()
    assert director in kinds and world.users["supervisor"] in kinds


async def test_people_scope_and_certificates(client, auth, db, world) -> None:
    director, director3 = world.users["director"], world.users["director3"]
    listed = (await client.get("/api/v1/workforce/people", headers=await auth("supervisor"))).json()
    assert {p["user_id"] for p in listed["items"]} == {world.users["supervisor"], director, world.users["director2"]}
    assert (await client.get("/api/v1/workforce/people", headers=await auth("director"))).json()["total"] == 1
    everyone = (await client.get("/api/v1/workforce/people?limit=50", headers=await auth("auditor"))).json()
    assert everyone["total"] == 5
    assert_problem(await client.get("/api/v1/workforce/people", headers=await auth("org")), 403)
    assert_problem(await client.get("/api/v1/workforce/people", headers=await auth("fund")), 403)
    assert_problem(await client.get(f"/api/v1/workforce/people/{director3}", headers=await auth("supervisor")), 404)
    assert_problem(
        await client.get(f"/api/v1/workforce/people/{world.users['admin']}", headers=await auth("admin")), 404
    )
    today = clock.today()
    cert = {
        "kind": "director_post",
        "number": "FT-2024-0031",
        "issued_on": (today - dt.timedelta(days=700)).isoformat(),
        "expires_on": (today + dt.timedelta(days=30)).isoformat(),
        "issuer": "深圳市福田区民政局",
    }
    r = await client.post(
        f"/api/v1/workforce/people/{director}/certificates", json=cert, headers=await auth("supervisor")
    )
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "expiring" and r.json()["days_left"] == 30
    assert_problem(
        await client.post(
            f"/api/v1/workforce/people/{director}/certificates", json=cert, headers=await auth("director")
        ),
        409,
    )
    bad = cert | {"number": "X-1", "expires_on": cert["issued_on"]}
    body = assert_problem(
        await client.post(
            f"/api/v1/workforce/people/{director}/certificates", json=bad, headers=await auth("director")
        ),
        422,
    )
    assert body["errors"][0]["field"] == "expires_on"
    assert_problem(
        await client.post(
            f"/api/v1/workforce/people/{director}/certificates",
            json=cert | {"number": "A"},
            headers=await auth("auditor"),
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"/api/v1/workforce/people/{director}/certificates",
            json=cert | {"number": "A"},
            headers=await auth("director2"),
        ),
        404,
    )
    assert_problem(
        await client.post(
            f"/api/v1/workforce/people/{director}/certificates",
            json=cert | {"kind": "x"},
            headers=await auth("director"),
        ),
        400,
    )
    person = (await client.get(f"/api/v1/workforce/people/{director}", headers=await auth("admin"))).json()
    assert person["person"]["certificates_expiring"] == 1 and person["certificates"][0]["number"] == "FT-2024-0031"


async def test_certificate_job_is_idempotent(db, world) -> None:
    today = clock.today()
    director = world.users["director"]
    async with db.session() as s:
        soon = Certificate(
            user_id=director,
            kind="director_post",
            number="A1",
            issued_on=today - dt.timedelta(days=700),
            expires_on=today + dt.timedelta(days=59),
            issuer="福田区民政局",
        )
        late = Certificate(
            user_id=director,
            kind="first_aid",
            number="B2",
            issued_on=today - dt.timedelta(days=900),
            expires_on=today - dt.timedelta(days=1),
            issuer="福田区红十字会",
        )
        far = Certificate(
            user_id=director,
            kind="social_worker",
            number="C3",
            issued_on=today - dt.timedelta(days=100),
            expires_on=today + dt.timedelta(days=61),
            issuer="人社部",
        )
        s.add_all([soon, late, far])
    from marketplace.workforce import jobs

    assert await jobs.certificates(db) == 3  # two announced, one of them expired and flagged
    assert await jobs.certificates(db) == 0
    async with db.session() as s:
        rows = (
            await s.execute(
                select(Notification.recipient_id, Notification.entity_id).where(
                    Notification.kind == "workforce_certificate_expiring"
                )
            )
        ).all()
        flagged = (await s.scalars(select(Certificate.number).where(Certificate.expired_flagged_at.is_not(None)))).all()
    # The holder and the street's supervisor, once per certificate.
    assert sorted(rows) == sorted(
        [
            (director, soon.id),
            (world.users["supervisor"], soon.id),
            (director, late.id),
            (world.users["supervisor"], late.id),
        ]
    )
    assert flagged == ["B2"]
    # Sixty days on: the first has expired (announced once more, another threshold, and flagged); the third is now
    # within sixty days (announced); the flagged one is done.
    async with db.session() as s:
        done = await service.check_certificates(s, today + dt.timedelta(days=60))
    assert done == {"noticed": 2, "flagged": 1}


async def _confirmed(db: Any, world: Any, username: str, year: int, result: float, grade: str) -> None:
    async with db.session() as s:
        s.add(
            Assessment(
                user_id=world.users[username],
                year=year,
                revision=1,
                role="child_director",
                street_id=world.streets[0] if username != "director3" else world.streets[1],
                community_id=None,
                status="confirmed",
                indicators={},
                claims=[],
                result=result,
                grade=grade,
                reviewer_score=80,
                confirmed_at=clock.now(),
            )
        )


async def test_post_subsidy_follows_the_previous_year_grade(db, world) -> None:
    """基本合格 in 2025: 80% in 2026; 不合格: not paid, with the reason; no assessment: in full. Idempotent."""
    from marketplace.procurement import service as procurement
    from marketplace.procurement.schemas import BudgetIn, BudgetLineIn

    officer = Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")
    year = 2026
    async with db.session() as s:
        await procurement.create_budget(
            s,
            officer,
            BudgetIn(
                name="岗位补贴",
                fiscal_year=year,
                total_fen=10_000_000,
                lines=[BudgetLineIn(code="director_subsidy", name="岗位补贴", appropriation_fen=10_000_000)],
            ),
        )
        s.add(AllowanceStandard(kind="director_subsidy", effective_from=dt.date(year, 1, 1), amount_fen=100_000))
    await _confirmed(db, world, "director", year - 1, 68.0, "basic")
    await _confirmed(db, world, "director2", year - 1, 50.0, "fail")
    await _confirmed(db, world, "director3", year - 2, 95.0, "excellent")  # too old: 2026 pays in full
    sources = {"director_subsidy": allowances.eligible_directors}
    async with db.session() as s:
        first = await allowances.run_month(s, officer, f"{year}-03", sources=sources, region="futian")
    assert first.paid_count == 2 and first.total_fen == 80_000 + 100_000
    assert first.withheld == [
        {
            "kind": "director_subsidy",
            "person_key": f"user:{world.users['director2']}",
            "name": "director2",
            "reason": "2025年度考核不合格，不发放岗位补贴",
        }
    ]
    async with db.session() as s:
        second = await allowances.run_month(s, officer, f"{year}-03", sources=sources, region="futian")
    assert second.run_id is None and second.paid_count == 0 and second.already_paid == 2
    assert len(second.withheld) == 1
    # An excellent grade pays 120% the year after.
    async with db.session() as s:
        rates = await handlers_factors(s, year + 1, [world.users["director3"]])
    assert rates == {}


async def handlers_factors(session: Any, year: int, ids: list[int]) -> dict[int, Any]:
    from marketplace.workforce import handlers

    return dict(await handlers.subsidy_factors(session, year, ids))


async def test_excellent_pays_more(db, world) -> None:
    from marketplace.workforce import handlers

    await _confirmed(db, world, "director3", 2025, 93.0, "excellent")
    async with db.session() as s:
        got = await handlers.subsidy_factors(s, 2026, [world.users["director3"], world.users["director"]])
    assert list(got) == [world.users["director3"]] and got[world.users["director3"]].percent == 120


async def test_street_ranking_counts_the_directors_assessment(client, auth, db, world) -> None:
    year = clock.today().year
    await _confirmed(db, world, "director", year, 90.0, "excellent")
    await _confirmed(db, world, "director2", year, 70.0, "basic")
    body = (await client.get(f"/api/v1/reports/street-ranking?year={year}", headers=await auth("admin"))).json()
    assert sum(body["weights"].values()) == pytest.approx(1.0)
    assert body["indicator_labels"]["director_assessment"] == "儿童主任考核"
    items = {i["street_id"]: i for i in body["items"]}
    futian, yuanling = items[world.streets[0]], items[world.streets[1]]
    assert futian["indicators"]["director_assessment"] == 0.8 and futian["directors_assessed"] == 2
    assert yuanling["indicators"]["director_assessment"] is None
    expected = 100 * sum(body["weights"][k] * (v or 0) for k, v in futian["indicators"].items())
    assert futian["score"] == pytest.approx(expected, abs=0.05)
    r = await client.get(f"/api/v1/reports/street-ranking?year={year}&format=csv", headers=await auth("admin"))
    assert r.status_code == 200 and "儿童主任考核" in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Assessment)) == 2


async def test_a_supervisor_is_assessed_by_the_district_over_the_street(client, auth, db, world, settings) -> None:
    """The supervisor's indicators cover the street (both communities); their reports indicator is the share of
    the street's mandatory reports they acknowledged. The district opens, scores and confirms; the director may not."""
    s1, _ = world.streets
    c1, c2, _ = world.communities
    sup = world.users["supervisor"]
    async with db.session() as s:
        for community, acked in ((c1, True), (c2, False), (c2, True)):
            s.add(
                MandatoryReport(
                    community_id=community,
                    street_id=s1,
                    kind="lives_alone",
                    description="独自在家",
                    reported_by=None,
                    supervisor_ack_at=at(8, 3) if acked else None,
                    created_at=at(8, 1),
                )
            )
    assert_problem(
        await client.post(
            "/api/v1/workforce/assessments", json={"user_id": sup, "year": YEAR}, headers=await auth("supervisor")
        ),
        403,
    )
    opened = await open_for(client, auth, "admin", sup)
    assert opened["community_id"] is None and indicators(opened)["reports_made"] == (2, 3, 66.7)
    assert indicators(opened)["training_hours"] == (0, 32, 0.0)
    url = f"/api/v1/workforce/assessments/{opened['id']}"
    r = await client.post(
        f"{url}/self-report", json={"text": "督导本街道儿童主任工作。"}, headers=await auth("supervisor")
    )
    assert r.status_code == 201
    # A supervisor does not score themselves; the district does.
    assert_problem(
        await client.post(f"{url}/score", json={"score": 90, "comment": "好"}, headers=await auth("supervisor")), 403
    )
    r = await client.post(f"{url}/score", json={"score": 90, "comment": "督导到位"}, headers=await auth("admin"))
    assert r.status_code == 201
    r = await client.post(
        f"{url}/confirm", json={"veto_reason": "辖区发生未及时报告的严重侵害事件"}, headers=await auth("admin")
    )
    assert r.json()["grade"] == "fail" and r.json()["veto_reason"]
    # The director sees neither the supervisor's assessment nor the supervisor.
    assert_problem(await client.get(url, headers=await auth("director")), 404)
    assert_problem(await client.get(f"/api/v1/workforce/people/{sup}", headers=await auth("director")), 404)


async def test_the_allowance_run_answers_who_was_withheld(client, auth, db, world) -> None:
    officer = await auth("procurement")
    year = clock.today().year
    r = await client.post(
        "/api/v1/budgets",
        json={
            "name": "岗位补贴",
            "fiscal_year": year,
            "total_fen": 2_000_000,
            "lines": [
                {"code": "director_subsidy", "name": "岗位补贴", "appropriation_fen": 1_000_000},
                {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 1_000_000},
            ],
        },
        headers=officer,
    )
    assert r.status_code == 201, r.text
    async with db.session() as s:
        s.add(AllowanceStandard(kind="director_subsidy", effective_from=dt.date(year, 1, 1), amount_fen=100_000))
    await _confirmed(db, world, "director2", year - 1, 40.0, "fail")
    r = await client.post("/api/v1/allowances/runs", json={"month": f"{year}-01"}, headers=officer)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["paid_count"] == 2 and body["total_fen"] == 200_000
    assert [(w["name"], w["reason"]) for w in body["withheld"]] == [
        ("director2", f"{year - 1}年度考核不合格，不发放岗位补贴")
    ]
