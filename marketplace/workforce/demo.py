"""Demo data: the directors' and supervisors' training in 2025 and 2026 (the district's pre-service course for new
directors, the yearly rotation, a 十防 safety course, a street's own course, the national system's online course),
their certificates (a few expiring within sixty days, one already expired), the 2025 assessments confirmed for
every director and supervisor (computed from the demo's own records of 2025: the 2026 post subsidy follows their
grades), and 2026's under way in 福田街道: the demo director's with the self-report and the supervisor's score."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.geography.models import Street
from marketplace.workforce import indicators as calc
from marketplace.workforce.models import Assessment, Attendance, Certificate, Course
from marketplace.workforce.taxonomy import grade_for

ORDER: Final = 43

BUREAU: Final = "福田区民政局"
CENTRE: Final = "福田区未成年人救助保护中心"
# (year, title, kind, organizer, start (month, day), days, hours, place, who: director | supervisor | both)
COURSES: Final = (
    (2025, "2025年度儿童主任轮训", "rotation", BUREAU, (4, 15), 3, 24.0, "福田区民政局三楼培训室", "director"),
    (2025, "2025年度儿童督导员轮训", "rotation", BUREAU, (3, 18), 4, 32.0, "福田区民政局三楼培训室", "supervisor"),
    (2026, "2026年新任儿童主任岗前培训", "pre_service", BUREAU, (3, 10), 3, 16.0, "福田区民政局三楼培训室", "director"),
    (2026, "2026年度儿童督导员轮训", "rotation", BUREAU, (4, 8), 4, 32.0, "福田区社会工作者协会培训中心", "supervisor"),
    (
        2026,
        "“十防”安全专题培训：防溺水、防性侵、防欺凌",
        "thematic",
        CENTRE,
        (6, 18),
        1,
        8.0,
        "福田区未成年人救助保护中心",
        "both",
    ),
    (2026, "强制报告与应急处置业务培训", "business", BUREAU, (9, 15), 2, 12.0, "福田区委党校报告厅", "both"),
    (2026, "儿童福利政策网络培训（全国儿童福利信息系统）", "online", BUREAU, (7, 1), 31, 10.0, "线上", "both"),
)
# The demo supervisor's street holds a course of its own.
STREET_COURSE: Final = (
    "福田街道儿童主任家访技巧与档案规范培训",
    "business",
    (5, 20),
    1,
    6.0,
    "福田街道党群服务中心二楼",
)

SELF_REPORT: Final = (
    "2026年本人按照“一人一档”要求为社区在册儿童建立并更新档案，按走访计划开展入户走访，对留守、困境儿童"
    "重点关注；协助处置强制报告线索，及时向街道督导员报告；积极参加区、街道组织的业务培训。不足之处：部分儿童"
    "档案的住址、监护人电话仍待补全，明年将逐户核实。"
)
CLAIMS: Final = (
    "组织暑期防溺水安全教育活动2场，覆盖儿童60余人次",
    "联系社工机构为3名留守儿童链接心理疏导服务",
    "参加区“十防”专题培训并通过考核",
)


async def _course(
    session: AsyncSession,
    year: int,
    title: str,
    kind: str,
    organizer: str,
    start: tuple[int, int],
    days: int,
    hours: float,
    place: str,
    street_id: int | None,
    created_by: int | None,
) -> Course:
    starts = dt.date(year, *start)
    course = Course(
        title=title,
        kind=kind,
        organizer=organizer,
        starts_on=starts,
        ends_on=starts + dt.timedelta(days=days - 1),
        hours=hours,
        place=place,
        street_id=street_id,
        created_by=created_by,
    )
    session.add(course)
    await session.flush()
    return course


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    rng = random.Random(43)
    today = clock.today()
    people = list(
        (
            await session.scalars(
                select(User).where(User.role.in_(("child_director", "child_supervisor"))).order_by(User.id)
            )
        ).all()
    )
    if not people:
        return
    admin = await session.scalar(select(User.id).where(User.username == "admin"))
    directors = [u for u in people if u.role == "child_director"]
    supervisors = [u for u in people if u.role == "child_supervisor"]
    demo_supervisor = next((u for u in supervisors if u.username == "supervisor"), supervisors[0])
    for year, title, kind, organizer, start, days, hours, place, who in COURSES:
        if dt.date(year, *start) > today:
            continue
        course = await _course(session, year, title, kind, organizer, start, days, hours, place, None, admin)
        trainees = directors if who == "director" else supervisors if who == "supervisor" else people
        for u in trainees:
            if rng.random() < 0.12:  # on leave, a clash of duties
                continue
            attended = hours if rng.random() < 0.8 else max(1.0, hours - rng.choice((2.0, 4.0)))
            session.add(
                Attendance(
                    course_id=course.id, user_id=u.id, hours=attended, passed=rng.random() < 0.96, recorded_by=admin
                )
            )
    street_name = await session.scalar(select(Street.name).where(Street.id == demo_supervisor.street_id))
    title, kind, start, days, hours, place = STREET_COURSE
    if dt.date(today.year, *start) <= today:
        course = await _course(
            session,
            today.year,
            title,
            kind,
            street_name or "街道",
            start,
            days,
            hours,
            place,
            demo_supervisor.street_id,
            demo_supervisor.id,
        )
        for u in directors:
            if u.street_id == demo_supervisor.street_id and rng.random() < 0.9:
                session.add(
                    Attendance(
                        course_id=course.id, user_id=u.id, hours=hours, passed=True, recorded_by=demo_supervisor.id
                    )
                )

    # Certificates: every director's post certificate (three years), some social workers' and mental-health ones.
    for i, u in enumerate(people):
        post = "director_post" if u.role == "child_director" else "supervisor_post"
        if i % 23 == 5:
            expires = today + dt.timedelta(days=rng.randint(10, 55))  # expiring within sixty days
        elif i % 41 == 7:
            expires = today - dt.timedelta(days=rng.randint(5, 40))  # expired
        else:
            expires = today + dt.timedelta(days=rng.randint(90, 900))
        session.add(
            Certificate(
                user_id=u.id,
                kind=post,
                number=f"FTMZ-{expires.year - 3}-{u.id:04d}",
                issued_on=expires.replace(year=expires.year - 3)
                if not (expires.month == 2 and expires.day == 29)
                else expires - dt.timedelta(days=3 * 365),
                expires_on=expires,
                issuer=BUREAU,
                created_by=admin,
            )
        )
        if rng.random() < 0.3:
            session.add(
                Certificate(
                    user_id=u.id,
                    kind="social_worker",
                    number=f"SW{rng.randint(10**9, 10**10 - 1)}",
                    issued_on=dt.date(rng.randint(2016, 2024), rng.randint(1, 12), 1),
                    expires_on=None,
                    issuer="人力资源和社会保障部、民政部",
                    created_by=u.id,
                )
            )
        if rng.random() < 0.15:
            session.add(
                Certificate(
                    user_id=u.id,
                    kind="mental_health",
                    number=f"XL{rng.randint(10**7, 10**8 - 1)}",
                    issued_on=dt.date(2024, rng.randint(1, 12), 10),
                    expires_on=dt.date(2027, rng.randint(1, 12), 10),
                    issuer="广东省心理卫生协会",
                    created_by=u.id,
                )
            )
    await session.flush()

    # 2025: confirmed for everybody, computed from the demo's records of 2025.
    last = today.year - 1
    confirmed_at = dt.datetime(today.year, 1, 20, 2, 0, tzinfo=dt.UTC)
    for u in people:
        community = u.community_id if u.role == "child_director" else None
        if u.street_id is None or (u.role == "child_director" and community is None):
            continue
        found = await calc.compute(
            session, user_id=u.id, role=u.role, year=last, street_id=u.street_id, community_id=community
        )
        score = rng.randint(76, 96)
        result = calc.result_of(found, score) or 0.0
        session.add(
            Assessment(
                user_id=u.id,
                year=last,
                revision=1,
                role=u.role,
                street_id=u.street_id,
                community_id=community,
                status="confirmed",
                indicators=found,
                computed_at=confirmed_at,
                self_report=f"{last}年度述职：完成辖区儿童走访、档案更新与政策宣传等工作。",
                claims=[],
                self_reported_at=confirmed_at - dt.timedelta(days=12),
                reviewer_score=score,
                reviewer_comment="工作认真负责，走访及时。"
                if score >= 85
                else "基本完成工作任务，档案规范性有待提高。",
                scored_by=demo_supervisor.id if u.role == "child_director" else admin,
                scored_at=confirmed_at - dt.timedelta(days=5),
                result=result,
                grade=grade_for(result),
                confirmed_by=admin,
                confirmed_at=confirmed_at,
                opened_by=admin,
            )
        )
    # This year's, in the demo supervisor's street: the demo director's self-reported and scored, two others on the way.
    street_directors = [u for u in directors if u.street_id == demo_supervisor.street_id]
    street_directors.sort(key=lambda u: (u.username != "director", u.id))
    now = clock.now()
    for i, u in enumerate(street_directors[:3]):
        found = await calc.compute(
            session, user_id=u.id, role=u.role, year=today.year, street_id=u.street_id, community_id=u.community_id
        )
        a = Assessment(
            user_id=u.id,
            year=today.year,
            revision=1,
            role=u.role,
            street_id=u.street_id,
            community_id=u.community_id,
            status="open",
            indicators=found,
            computed_at=now,
            claims=[],
            opened_by=demo_supervisor.id,
        )
        if i <= 1:
            a.status, a.self_report, a.claims = "self_reported", SELF_REPORT, list(CLAIMS)
            a.self_reported_at = now - dt.timedelta(days=3)
        if i == 0:
            a.status, a.reviewer_score = "scored", 86
            a.reviewer_comment = "走访扎实、报告及时；档案完整率仍需提高，建议年底前补全住址和监护人电话。"
            a.scored_by, a.scored_at = demo_supervisor.id, now - dt.timedelta(days=1)
        session.add(a)
    await session.flush()
    ctx["workforce_people"] = len(people)
