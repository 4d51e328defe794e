"""The workforce: training courses and attendance, certificates, and the yearly assessment (述职考核).

Scope: a director sees themselves; a supervisor their street's directors and themselves; the district's admin and
auditor everybody (the auditor only reads); any other role nothing (403). A person outside the caller's scope is
"not found".

The assessment (one per person and year; a correction is a new revision): opened by the reviewer (a director's
is their street's supervisor, a supervisor's the district) or the district → the person's self-report (述职) →
the reviewer's score and comments → the district's confirmation (result = weighted indicators + the reviewer's
score, ``taxonomy.WEIGHTS``; the grade from ``taxonomy.GRADES``; a veto makes it 不合格). The indicators are
recomputed from the records at every step until it is confirmed; the confirmed row never changes again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import ROLES, Principal
from marketplace.cases import notifications
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community, Street
from marketplace.workforce import indicators as calc
from marketplace.workforce.models import Assessment, Attendance, Certificate, Course
from marketplace.workforce.schemas import (
    WorkforceAssessmentBrief,
    WorkforceAssessmentOpenIn,
    WorkforceAssessmentOut,
    WorkforceAttendanceIn,
    WorkforceAttendanceOut,
    WorkforceCertificateIn,
    WorkforceCertificateOut,
    WorkforceConfirmIn,
    WorkforceCorrectionIn,
    WorkforceCourseIn,
    WorkforceCourseOut,
    WorkforceGradeOut,
    WorkforceIndicatorOut,
    WorkforcePersonDetail,
    WorkforcePersonOut,
    WorkforceScoreIn,
    WorkforceSelfReportIn,
)
from marketplace.workforce.taxonomy import (
    ASSESSMENT_STATUSES,
    CERTIFICATE_KINDS,
    EXPIRY_NOTICE_DAYS,
    GRADE_LABELS,
    INDICATORS,
    REQUIRED_HOURS,
    TRAINING_KINDS,
    WEIGHTS,
    WORKFORCE_ROLES,
    grade_for,
)

READERS = frozenset({"child_director", "child_supervisor", "district_admin", "auditor"})
PERSON_FIELDS = ("name", "role", "hours", "certificates", "grades")
ASSESSMENT_FIELDS = ("indicators", "self_report", "claims", "reviewer_score", "reviewer_comment", "result", "grade")
# Courses may be recorded this far back (last year's courses count for last year's assessment) and ahead.
COURSE_YEARS_BACK = 2
COURSE_DAYS_AHEAD = 366


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("仅限儿童主任、督导员、区民政和审计查看 (workforce records: role may not read)")


def require_writer(principal: Principal) -> None:
    require_reader(principal)
    if principal.read_only:
        raise Forbidden("审计只读 (the auditor reads only)")


# ---------------------------------------------------------------- people and scope


def _people_query(principal: Principal) -> Select[User]:
    """The workforce accounts the caller may see."""
    stmt = select(User).where(User.role.in_(WORKFORCE_ROLES))
    if principal.role == "child_director":
        return stmt.where(User.id == principal.user_id)
    if principal.role == "child_supervisor":
        return stmt.where(
            or_(
                User.id == principal.user_id, and_(User.role == "child_director", User.street_id == principal.street_id)
            )
        )
    return stmt


async def person_in_scope(session: AsyncSession, principal: Principal, user_id: int) -> User:
    require_reader(principal)
    user = await session.scalar(_people_query(principal).where(User.id == user_id))
    if user is None:
        raise NotFound(f"人员 {user_id} 不存在 (person not found)")
    return user


def reviewer_of(principal: Principal, person: User) -> bool:
    """Whether the caller reviews (opens and scores) the person's assessment: a director's supervisor, or the
    district for a supervisor."""
    if person.role == "child_director":
        return principal.role == "child_supervisor" and principal.street_id == person.street_id
    return principal.role == "district_admin"


async def _names(session: AsyncSession, model: Any, ids: set[int]) -> dict[int, str]:
    # Always one statement, also for no ids (a page's statements do not depend on what its rows hold).
    ids = {i for i in ids if i is not None}
    return {int(i): str(n) for i, n in (await session.execute(select(model.id, model.name).where(model.id.in_(ids))))}


async def _user_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {int(i): str(n) for i, n in rows.all()}


def certificate_state(cert: Certificate, today: dt.date) -> tuple[str, int | None]:
    if cert.expires_on is None:
        return "valid", None
    days = (cert.expires_on - today).days
    if days < 0:
        return "expired", days
    if days <= EXPIRY_NOTICE_DAYS:
        return "expiring", days
    return "valid", days


CERTIFICATE_STATES = {"valid": "有效", "expiring": "即将到期", "expired": "已过期"}


def certificate_out(cert: Certificate, today: dt.date) -> WorkforceCertificateOut:
    state, days = certificate_state(cert, today)
    return WorkforceCertificateOut(
        id=cert.id,
        user_id=cert.user_id,
        kind=cert.kind,
        kind_label=CERTIFICATE_KINDS.get(cert.kind, cert.kind),
        number=cert.number,
        issued_on=cert.issued_on,
        expires_on=cert.expires_on,
        issuer=cert.issuer,
        state=state,
        state_label=CERTIFICATE_STATES[state],
        days_left=days,
    )


async def latest_grades(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, WorkforceGradeOut]:
    """Each person's latest confirmed assessment (the latest year; within it the latest revision)."""
    if not user_ids:
        return {}
    rows = (
        await session.scalars(
            select(Assessment)
            .where(Assessment.user_id.in_(user_ids), Assessment.status == "confirmed")
            .order_by(Assessment.user_id, Assessment.year, Assessment.revision)
        )
    ).all()
    out: dict[int, WorkforceGradeOut] = {}
    for a in rows:
        out[a.user_id] = WorkforceGradeOut(
            year=a.year,
            assessment_id=a.id,
            grade=a.grade or "",
            grade_label=GRADE_LABELS.get(a.grade or "", ""),
            result=float(a.result or 0.0),
        )
    return out


async def _present_people(session: AsyncSession, users: Sequence[User], year: int) -> list[WorkforcePersonOut]:
    ids = [u.id for u in users]
    hours = await calc.training_hours(session, ids, year)
    today = clock.today()
    certs: dict[int, list[Certificate]] = {}
    if ids:
        for c in (await session.scalars(select(Certificate).where(Certificate.user_id.in_(ids)))).all():
            certs.setdefault(c.user_id, []).append(c)
    grades = await latest_grades(session, ids)
    streets = await _names(session, Street, {u.street_id for u in users if u.street_id})
    communities = await _names(session, Community, {u.community_id for u in users if u.community_id})
    out = []
    for u in users:
        states = [certificate_state(c, today)[0] for c in certs.get(u.id, [])]
        out.append(
            WorkforcePersonOut(
                user_id=u.id,
                name=u.display_name,
                role=u.role,
                role_label=ROLES.get(u.role, u.role),
                street_id=u.street_id,
                street_name=streets.get(u.street_id or 0, ""),
                community_id=u.community_id,
                community_name=communities.get(u.community_id or 0, ""),
                year=year,
                hours=hours.get(u.id, 0.0),
                required_hours=REQUIRED_HOURS.get(u.role, 0.0),
                certificates=len(states),
                certificates_expiring=states.count("expiring"),
                certificates_expired=states.count("expired"),
                latest_grade=grades.get(u.id),
            )
        )
    return out


async def list_people(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int | None = None,
    role: str | None = None,
    street_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[WorkforcePersonOut], int]:
    require_reader(principal)
    stmt = _people_query(principal).where(User.is_active.is_(True))
    if role:
        stmt = stmt.where(User.role == role)
    if street_id is not None:
        stmt = stmt.where(User.street_id == street_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    users = list(
        (
            await session.scalars(stmt.order_by(User.role.desc(), User.street_id, User.id).limit(limit).offset(offset))
        ).all()
    )
    items = await _present_people(session, users, year or clock.today().year)
    await audit.record_read(session, principal, "list", "workforce_person", [u.id for u in users], PERSON_FIELDS)
    return items, total


async def get_person(
    session: AsyncSession, principal: Principal, user_id: int, *, year: int | None = None
) -> WorkforcePersonDetail:
    user = await person_in_scope(session, principal, user_id)
    year = year or clock.today().year
    person = (await _present_people(session, [user], year))[0]
    rows = await session.execute(
        select(Attendance, Course)
        .join(Course, Course.id == Attendance.course_id)
        .where(Attendance.user_id == user_id)
        .order_by(Course.starts_on.desc(), Attendance.id)
    )
    attendance = [_attendance_out(a, c, user.display_name) for a, c in rows.all()]
    today = clock.today()
    certs = (
        await session.scalars(
            select(Certificate).where(Certificate.user_id == user_id).order_by(Certificate.expires_on, Certificate.id)
        )
    ).all()
    assessments = (
        await session.scalars(
            select(Assessment)
            .where(Assessment.user_id == user_id)
            .order_by(Assessment.year.desc(), Assessment.revision.desc())
        )
    ).all()
    briefs = await _briefs(session, list(assessments))
    await audit.record_read(session, principal, "read", "workforce_person", [user_id], PERSON_FIELDS)
    return WorkforcePersonDetail(
        person=person,
        attendance=attendance,
        certificates=[certificate_out(c, today) for c in certs],
        assessments=briefs,
    )


async def add_certificate(
    session: AsyncSession, principal: Principal, user_id: int, data: WorkforceCertificateIn
) -> Certificate:
    require_writer(principal)
    if principal.role not in ("child_director", "child_supervisor", "district_admin"):
        raise Forbidden("证书由本人、所在街道督导员或区民政登记 (only the holder, their supervisor or the district)")
    user = await person_in_scope(session, principal, user_id)
    if not (user.id == principal.user_id or reviewer_of(principal, user) or principal.role == "district_admin"):
        raise Forbidden("证书由本人、所在街道督导员或区民政登记 (only the holder, their supervisor or the district)")
    if data.expires_on is not None and data.expires_on <= data.issued_on:
        raise Invalid.field("expires_on", "有效期至须晚于发证日期 (expires_on must be after issued_on)")
    if data.issued_on > clock.today():
        raise Invalid.field("issued_on", "发证日期不能晚于今天 (issued_on is in the future)")
    # The holder's row locked: the same certificate posted twice at once is recorded once.
    await session.scalar(select(User.id).where(User.id == user_id).with_for_update())
    clash = await session.scalar(
        select(Certificate.id).where(
            Certificate.user_id == user_id, Certificate.kind == data.kind, Certificate.number == data.number.strip()
        )
    )
    if clash is not None:
        raise Conflict("该证书已登记 (this certificate is already recorded)", existing_id=clash)
    cert = Certificate(
        user_id=user_id,
        kind=data.kind,
        number=data.number.strip(),
        issued_on=data.issued_on,
        expires_on=data.expires_on,
        issuer=data.issuer.strip(),
        created_by=principal.account_id,
    )
    session.add(cert)
    await session.flush()
    await audit.record(
        session, principal, "create", "workforce_certificate", cert.id, detail={"user_id": user_id, "kind": data.kind}
    )
    return cert


# ---------------------------------------------------------------- courses and attendance


def _courses_query(principal: Principal) -> Select[Course]:
    stmt = select(Course)
    if principal.role in ("child_director", "child_supervisor"):
        stmt = stmt.where(or_(Course.street_id.is_(None), Course.street_id == principal.street_id))
    return stmt


async def list_courses(
    session: AsyncSession, principal: Principal, *, year: int | None = None, limit: int, offset: int
) -> tuple[list[WorkforceCourseOut], int]:
    require_reader(principal)
    stmt = _courses_query(principal)
    if year is not None:
        stmt = stmt.where(Course.starts_on >= dt.date(year, 1, 1), Course.starts_on <= dt.date(year, 12, 31))
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    rows = list(
        (
            await session.scalars(stmt.order_by(Course.starts_on.desc(), Course.id.desc()).limit(limit).offset(offset))
        ).all()
    )
    return await present_courses(session, rows), total


async def present_courses(session: AsyncSession, rows: Sequence[Course]) -> list[WorkforceCourseOut]:
    ids = [c.id for c in rows]
    counts: dict[int, int] = {}
    if ids:
        counts = {
            int(cid): int(n)
            for cid, n in await session.execute(
                select(Attendance.course_id, func.count())
                .where(Attendance.course_id.in_(ids))
                .group_by(Attendance.course_id)
            )
        }
    streets = await _names(session, Street, {c.street_id for c in rows if c.street_id})
    return [
        WorkforceCourseOut(
            id=c.id,
            title=c.title,
            kind=c.kind,
            kind_label=TRAINING_KINDS.get(c.kind, c.kind),
            organizer=c.organizer,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            hours=c.hours,
            place=c.place,
            street_id=c.street_id,
            street_name=streets.get(c.street_id or 0, "区级"),
            created_by=c.created_by,
            attendees=counts.get(c.id, 0),
            created_at=c.created_at,
        )
        for c in rows
    ]


async def course_in_scope(session: AsyncSession, principal: Principal, course_id: int) -> Course:
    require_reader(principal)
    course = await session.scalar(_courses_query(principal).where(Course.id == course_id))
    if course is None:
        raise NotFound(f"培训 {course_id} 不存在 (course not found)")
    return course


async def create_course(session: AsyncSession, principal: Principal, data: WorkforceCourseIn) -> Course:
    principal.require("district_admin", "child_supervisor")
    street_id = data.street_id
    if principal.role == "child_supervisor":
        if street_id is not None and street_id != principal.street_id:
            raise Invalid.field(
                "street_id", "督导员只能组织本街道的培训 (a supervisor organises their street's courses)"
            )
        street_id = principal.street_id
    elif street_id is not None and await session.get(Street, street_id) is None:
        raise Invalid.field("street_id", f"街道 {street_id} 不存在 (unknown street)")
    if data.ends_on < data.starts_on:
        raise Invalid.field("ends_on", "结束日期不能早于开始日期 (ends_on is before starts_on)")
    today = clock.today()
    if data.starts_on.year < today.year - COURSE_YEARS_BACK or (data.starts_on - today).days > COURSE_DAYS_AHEAD:
        raise Invalid.field("starts_on", "开始日期须在前两年至一年后之间 (starts_on out of range)")
    if (data.ends_on - data.starts_on).days > 366:
        raise Invalid.field("ends_on", "培训不能超过一年 (a course lasts at most a year)")
    course = Course(
        title=data.title.strip(),
        kind=data.kind,
        organizer=data.organizer.strip(),
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        hours=round(data.hours, 1),
        place=data.place.strip(),
        street_id=street_id,
        created_by=principal.account_id,
    )
    session.add(course)
    await session.flush()
    await audit.record(session, principal, "create", "workforce_course", course.id, detail={"title": course.title})
    return course


def _attendance_out(a: Attendance, c: Course, user_name: str) -> WorkforceAttendanceOut:
    return WorkforceAttendanceOut(
        id=a.id,
        course_id=c.id,
        course_title=c.title,
        course_kind_label=TRAINING_KINDS.get(c.kind, c.kind),
        starts_on=c.starts_on,
        user_id=a.user_id,
        user_name=user_name,
        hours=a.hours,
        passed=a.passed,
        recorded_at=a.recorded_at,
    )


async def record_attendance(
    session: AsyncSession, principal: Principal, course_id: int, data: WorkforceAttendanceIn
) -> WorkforceAttendanceOut:
    # The organiser records: the district for its courses (and any), a street's supervisors for the street's.
    principal.require("district_admin", "child_supervisor")
    course = await course_in_scope(session, principal, course_id)
    if principal.role == "child_supervisor" and course.street_id != principal.street_id:
        raise Forbidden("区级培训的参训情况由区民政登记 (the district records its courses' attendance)")
    if data.hours > course.hours:
        raise Invalid.field("hours", f"参训学时不能超过培训学时 {course.hours:g} (hours exceed the course's)")
    if course.starts_on > clock.today():
        raise Invalid.field("course_id", "培训尚未开始，不能登记参训 (the course has not started)")
    person = await session.scalar(
        select(User).where(User.id == data.user_id, User.role.in_(WORKFORCE_ROLES), User.is_active.is_(True))
    )
    if person is None or (course.street_id is not None and person.street_id != course.street_id):
        raise Invalid.field("user_id", "参训人须为本培训范围内的儿童主任或督导员 (not a trainee of this course)")
    # The course's row locked first: two first records of one person at once cannot both insert (a unique pair).
    await session.scalar(select(Course.id).where(Course.id == course.id).with_for_update())
    row = await session.scalar(
        select(Attendance).where(Attendance.course_id == course.id, Attendance.user_id == person.id).with_for_update()
    )
    if row is None:
        row = Attendance(course_id=course.id, user_id=person.id, hours=round(data.hours, 1), passed=data.passed)
        session.add(row)
    else:
        row.hours, row.passed, row.recorded_at = round(data.hours, 1), data.passed, clock.now()
    row.recorded_by = principal.account_id
    await session.flush()
    await audit.record(
        session,
        principal,
        "update",
        "workforce_course",
        course.id,
        detail={"attendance_user_id": person.id, "hours": row.hours, "passed": row.passed},
    )
    return _attendance_out(row, course, person.display_name)


# ---------------------------------------------------------------- assessments


def _assessments_query(principal: Principal) -> Select[Assessment]:
    stmt = select(Assessment)
    if principal.role == "child_director":
        return stmt.where(Assessment.user_id == principal.user_id)
    if principal.role == "child_supervisor":
        return stmt.where(
            or_(
                Assessment.user_id == principal.user_id,
                and_(Assessment.role == "child_director", Assessment.street_id == principal.street_id),
            )
        )
    return stmt


async def _briefs(session: AsyncSession, rows: Sequence[Assessment]) -> list[WorkforceAssessmentBrief]:
    users = await _user_names(session, {a.user_id for a in rows})
    streets = await _names(session, Street, {a.street_id for a in rows if a.street_id})
    communities = await _names(session, Community, {a.community_id for a in rows if a.community_id})
    return [
        WorkforceAssessmentBrief(
            id=a.id,
            user_id=a.user_id,
            user_name=users.get(a.user_id, ""),
            role=a.role,
            role_label=ROLES.get(a.role, a.role),
            year=a.year,
            revision=a.revision,
            street_id=a.street_id,
            street_name=streets.get(a.street_id or 0, ""),
            community_id=a.community_id,
            community_name=communities.get(a.community_id or 0, ""),
            status=a.status,
            status_label=ASSESSMENT_STATUSES.get(a.status, a.status),
            result=a.result,
            grade=a.grade,
            grade_label=GRADE_LABELS.get(a.grade or "", ""),
        )
        for a in rows
    ]


async def list_assessments(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int | None = None,
    status: str | None = None,
    street_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[WorkforceAssessmentBrief], int]:
    """The current revision of each assessment in scope (superseded revisions are read through the person)."""
    require_reader(principal)
    latest = (
        select(Assessment.user_id, Assessment.year, func.max(Assessment.revision).label("revision"))
        .group_by(Assessment.user_id, Assessment.year)
        .subquery()
    )
    stmt = _assessments_query(principal).join(
        latest,
        and_(
            latest.c.user_id == Assessment.user_id,
            latest.c.year == Assessment.year,
            latest.c.revision == Assessment.revision,
        ),
    )
    if year is not None:
        stmt = stmt.where(Assessment.year == year)
    if status is not None:
        stmt = stmt.where(Assessment.status == status)
    if street_id is not None:
        stmt = stmt.where(Assessment.street_id == street_id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    rows = list(
        (
            await session.scalars(
                stmt.order_by(Assessment.year.desc(), Assessment.street_id, Assessment.user_id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    )
    await audit.record_read(
        session, principal, "list", "workforce_assessment", [a.id for a in rows], ("result", "grade")
    )
    return await _briefs(session, rows), total


async def assessment_in_scope(
    session: AsyncSession, principal: Principal, assessment_id: int, *, lock: bool = False
) -> Assessment:
    require_reader(principal)
    stmt = _assessments_query(principal).where(Assessment.id == assessment_id)
    if lock:
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(f"考核 {assessment_id} 不存在 (assessment not found)")
    return row


async def present_assessment(session: AsyncSession, a: Assessment) -> WorkforceAssessmentOut:
    brief = (await _briefs(session, [a]))[0]
    superseded_by = await session.scalar(select(Assessment.id).where(Assessment.supersedes_id == a.id))
    result = a.result if a.status == "confirmed" else calc.result_of(a.indicators, a.reviewer_score)
    grade = a.grade if a.status == "confirmed" else None
    items = [
        WorkforceIndicatorOut(
            code=code,
            label=label,
            method=method,
            numerator=float(a.indicators.get(code, {}).get("numerator", 0)),
            denominator=float(a.indicators.get(code, {}).get("denominator", 0)),
            score=float(a.indicators.get(code, {}).get("score", 0)),
            weight=WEIGHTS[code],
        )
        for code, (label, method) in INDICATORS.items()
    ]
    return WorkforceAssessmentOut(
        id=a.id,
        user_id=a.user_id,
        user_name=brief.user_name,
        role=a.role,
        role_label=brief.role_label,
        year=a.year,
        revision=a.revision,
        street_id=a.street_id,
        street_name=brief.street_name,
        community_id=a.community_id,
        community_name=brief.community_name,
        status=a.status,
        status_label=brief.status_label,
        indicators=items,
        computed_at=a.computed_at,
        self_report=a.self_report,
        claims=list(a.claims or []),
        self_reported_at=a.self_reported_at,
        reviewer_score=a.reviewer_score,
        reviewer_score_weight=WEIGHTS["reviewer_score"],
        reviewer_comment=a.reviewer_comment,
        scored_by=a.scored_by,
        scored_at=a.scored_at,
        result=result,
        grade=grade,
        grade_label=GRADE_LABELS.get(grade or "", ""),
        veto_reason=a.veto_reason,
        confirmed_by=a.confirmed_by,
        confirmed_at=a.confirmed_at,
        supersedes_id=a.supersedes_id,
        superseded_by_id=superseded_by,
        correction_reason=a.correction_reason,
    )


async def get_assessment(session: AsyncSession, principal: Principal, assessment_id: int) -> WorkforceAssessmentOut:
    row = await assessment_in_scope(session, principal, assessment_id)
    await audit.record_read(session, principal, "read", "workforce_assessment", [row.id], ASSESSMENT_FIELDS)
    return await present_assessment(session, row)


async def recompute(session: AsyncSession, a: Assessment) -> None:
    """Compute the indicators again from the records (never once confirmed)."""
    if a.status == "confirmed":
        raise Conflict("考核已确认，结果不再变更 (a confirmed assessment never changes)")
    a.indicators = await calc.compute(
        session, user_id=a.user_id, role=a.role, year=a.year, street_id=a.street_id, community_id=a.community_id
    )
    a.computed_at = clock.now()


async def _step_notice(session: AsyncSession, a: Assessment, recipients: list[int], step: str, title: str) -> None:
    await notifications.notify(
        session,
        recipients,
        key=f"workforce_assessment:{a.id}:{step}",
        kind="workforce_assessment_step",
        title=title,
        body=f"{a.year}年度述职考核",
        entity="workforce_assessment",
        entity_id=a.id,
        data={"year": a.year, "step": step},
    )


async def open_assessment(session: AsyncSession, principal: Principal, data: WorkforceAssessmentOpenIn) -> Assessment:
    require_writer(principal)
    person = await person_in_scope(session, principal, data.user_id)
    if not (reviewer_of(principal, person) or principal.role == "district_admin"):
        raise Forbidden("考核由督导员（儿童主任）或区民政（督导员）发起 (only the reviewer opens an assessment)")
    if data.year > clock.today().year:
        raise Invalid.field("year", "不能为将来的年度开展考核 (the year has not begun)")
    if not person.is_active:
        raise Invalid.field("user_id", "该账号已停用 (the account is disabled)")
    if person.role == "child_director" and person.community_id is None:
        raise Invalid.field("user_id", "该儿童主任未关联社区 (the director has no community)")
    if person.role == "child_supervisor" and person.street_id is None:
        raise Invalid.field("user_id", "该督导员未关联街道 (the supervisor has no street)")
    # Lock the person's row: two openings at once cannot both pass the check below.
    await session.scalar(select(User.id).where(User.id == person.id).with_for_update())
    existing = await session.scalar(
        select(Assessment.id).where(Assessment.user_id == person.id, Assessment.year == data.year)
    )
    if existing is not None:
        raise Conflict(f"{data.year}年度考核已存在 (the year's assessment exists)", existing_id=existing)
    a = Assessment(
        user_id=person.id,
        year=data.year,
        revision=1,
        role=person.role,
        street_id=person.street_id,
        community_id=person.community_id if person.role == "child_director" else None,
        status="open",
        indicators={},
        claims=[],
        opened_by=principal.account_id,
    )
    session.add(a)
    await recompute(session, a)
    await session.flush()
    await audit.record(
        session, principal, "create", "workforce_assessment", a.id, detail={"user_id": person.id, "year": a.year}
    )
    await _step_notice(session, a, [person.id], "opened", f"请提交{a.year}年度述职报告")
    return a


async def self_report(
    session: AsyncSession, principal: Principal, assessment_id: int, data: WorkforceSelfReportIn
) -> Assessment:
    require_writer(principal)
    a = await assessment_in_scope(session, principal, assessment_id, lock=True)
    if a.user_id != principal.user_id:
        raise Forbidden("述职报告由本人提交 (only the person reports on their own year)")
    if a.status not in ("open", "self_reported"):
        raise Conflict("已评分或确认，述职报告不能再修改 (the assessment is already scored)", state=a.status)
    a.self_report = data.text.strip()
    a.claims = [c.strip() for c in data.claims if c.strip()]
    a.self_reported_at = clock.now()
    a.status = "self_reported"
    await recompute(session, a)
    await session.flush()
    await audit.record(session, principal, "update", "workforce_assessment", a.id, detail={"step": "self_report"})
    reviewers = (
        await notifications.street_supervisors(session, a.street_id)
        if a.role == "child_director" and a.street_id is not None
        else await notifications.district_admins(session)
    )
    await _step_notice(session, a, reviewers, "self_reported", "述职报告待评分")
    return a


async def score(session: AsyncSession, principal: Principal, assessment_id: int, data: WorkforceScoreIn) -> Assessment:
    require_writer(principal)
    a = await assessment_in_scope(session, principal, assessment_id, lock=True)
    person = await session.get(User, a.user_id)
    assert person is not None
    if a.user_id == principal.user_id or not (
        (a.role == "child_director" and principal.role == "child_supervisor" and principal.street_id == a.street_id)
        or (a.role == "child_supervisor" and principal.role == "district_admin")
    ):
        raise Forbidden("儿童主任由所在街道督导员评分，督导员由区民政评分 (only the reviewer scores)")
    if a.status == "open":
        raise Conflict("尚未提交述职报告，不能评分 (the self-report comes first)", state=a.status)
    if a.status not in ("self_reported", "scored"):
        raise Conflict("考核已确认，不能再评分 (a confirmed assessment never changes)", state=a.status)
    a.reviewer_score = data.score
    a.reviewer_comment = data.comment.strip()
    a.scored_by = principal.account_id
    a.scored_at = clock.now()
    a.status = "scored"
    await recompute(session, a)
    await session.flush()
    await audit.record(
        session, principal, "update", "workforce_assessment", a.id, detail={"step": "score", "score": data.score}
    )
    await _step_notice(session, a, await notifications.district_admins(session), "scored", "述职考核待确认")
    return a


async def confirm(
    session: AsyncSession, principal: Principal, assessment_id: int, data: WorkforceConfirmIn
) -> Assessment:
    a = await assessment_in_scope(session, principal, assessment_id, lock=principal.role == "district_admin")
    principal.require("district_admin")
    if a.status == "confirmed":
        raise Conflict("考核已确认 (already confirmed)", state=a.status)
    if a.status != "scored":
        raise Conflict("尚未评分，不能确认 (the reviewer's score comes first)", state=a.status)
    await recompute(session, a)
    a.result = calc.result_of(a.indicators, a.reviewer_score)
    a.veto_reason = data.veto_reason.strip()
    a.grade = grade_for(a.result or 0.0, veto=bool(a.veto_reason))
    a.confirmed_by = principal.account_id
    a.confirmed_at = clock.now()
    a.status = "confirmed"
    await session.flush()
    await audit.record(
        session,
        principal,
        "update",
        "workforce_assessment",
        a.id,
        detail={"step": "confirm", "result": a.result, "grade": a.grade},
    )
    await _step_notice(session, a, [a.user_id], "confirmed", f"{a.year}年度考核结果：{GRADE_LABELS[a.grade]}")
    return a


async def correct(
    session: AsyncSession, principal: Principal, assessment_id: int, data: WorkforceCorrectionIn
) -> Assessment:
    """A confirmed assessment corrected: a new revision (scored, to be confirmed again) supersedes it; the
    confirmed row stays as it was."""
    old = await assessment_in_scope(session, principal, assessment_id, lock=principal.role == "district_admin")
    principal.require("district_admin")
    if old.status != "confirmed":
        raise Conflict("只有已确认的考核需要更正；未确认的可直接重新评分 (only a confirmed assessment is corrected)")
    newer = await session.scalar(select(Assessment.id).where(Assessment.supersedes_id == old.id))
    if newer is not None:
        raise Conflict("该考核已被更正，请更正最新的一版 (already superseded)", existing_id=newer)
    a = Assessment(
        user_id=old.user_id,
        year=old.year,
        revision=old.revision + 1,
        role=old.role,
        street_id=old.street_id,
        community_id=old.community_id,
        status="scored",
        indicators={},
        self_report=old.self_report,
        claims=list(old.claims or []),
        self_reported_at=old.self_reported_at,
        reviewer_score=data.score if data.score is not None else old.reviewer_score,
        reviewer_comment=data.comment.strip() or old.reviewer_comment,
        scored_by=principal.account_id if data.score is not None else old.scored_by,
        scored_at=clock.now() if data.score is not None else old.scored_at,
        supersedes_id=old.id,
        correction_reason=data.reason.strip(),
        opened_by=principal.account_id,
    )
    session.add(a)
    await recompute(session, a)
    await session.flush()
    await audit.record(
        session,
        principal,
        "create",
        "workforce_assessment",
        a.id,
        detail={"supersedes_id": old.id, "reason": a.correction_reason},
    )
    return a


async def confirmed_grades(session: AsyncSession, year: int, user_ids: Sequence[int]) -> dict[int, Assessment]:
    """The current confirmed assessment of each person for the year (the latest revision, if it is confirmed)."""
    if not user_ids:
        return {}
    rows = (
        await session.scalars(
            select(Assessment)
            .where(Assessment.year == year, Assessment.user_id.in_(user_ids))
            .order_by(Assessment.user_id, Assessment.revision)
        )
    ).all()
    latest: dict[int, Assessment] = {}
    for a in rows:
        latest[a.user_id] = a
    return {uid: a for uid, a in latest.items() if a.status == "confirmed"}


# ---------------------------------------------------------------- the daily certificate check


async def check_certificates(session: AsyncSession, today: dt.date | None = None) -> dict[str, int]:
    """A certificate expiring within ``EXPIRY_NOTICE_DAYS`` is announced to its holder and their street's
    supervisors, once per certificate and threshold (the notification's key); an expired one is flagged once (and
    announced the same way). Idempotent: running it again the same day changes nothing."""
    today = today or clock.today()
    horizon = today + dt.timedelta(days=EXPIRY_NOTICE_DAYS)
    rows = (
        await session.execute(
            select(Certificate, User)
            .join(User, User.id == Certificate.user_id)
            .where(
                Certificate.expires_on.is_not(None),
                Certificate.expires_on <= horizon,
                Certificate.expired_flagged_at.is_(None),
                User.is_active.is_(True),
            )
            .order_by(Certificate.id)
        )
    ).all()
    noticed = flagged = 0
    for cert, user in rows:
        assert cert.expires_on is not None
        expired = cert.expires_on < today
        recipients = [user.id]
        if user.street_id is not None:
            recipients += [
                uid for uid in await notifications.street_supervisors(session, user.street_id) if uid != user.id
            ]
        label = CERTIFICATE_KINDS.get(cert.kind, cert.kind)
        threshold = "expired" if expired else f"{EXPIRY_NOTICE_DAYS}d"
        added = await notifications.notify(
            session,
            recipients,
            key=f"workforce_certificate:{cert.id}:{threshold}",
            kind="workforce_certificate_expiring",
            title=f"{user.display_name}的{label}{'已过期' if expired else '即将到期'}",
            body=f"证书编号 {cert.number}，有效期至 {cert.expires_on.isoformat()}，请及时办理换证。",
            entity="workforce_certificate",
            entity_id=cert.id,
            data={"user_id": user.id, "expires_on": cert.expires_on.isoformat(), "expired": expired},
        )
        noticed += bool(added)
        if expired:
            cert.expired_flagged_at = clock.now()
            flagged += 1
    await session.flush()
    return {"noticed": noticed, "flagged": flagged}


async def street_director_results(session: AsyncSession, year: int) -> dict[int, tuple[float, int]]:
    """Per street: the mean result of its directors' confirmed assessments of the year (their current revisions,
    scope as assessed) and how many there are. The street ranking's indicator ``director_assessment``."""
    rows = (
        await session.scalars(
            select(Assessment)
            .where(Assessment.year == year, Assessment.role == "child_director")
            .order_by(Assessment.user_id, Assessment.revision)
        )
    ).all()
    latest: dict[int, Assessment] = {}
    for a in rows:
        latest[a.user_id] = a
    sums: dict[int, list[float]] = {}
    for a in latest.values():
        if a.status == "confirmed" and a.street_id is not None and a.result is not None:
            sums.setdefault(a.street_id, []).append(float(a.result))
    return {sid: (round(sum(v) / len(v), 1), len(v)) for sid, v in sums.items()}


async def course_attendance(
    session: AsyncSession, principal: Principal, course: Course
) -> list[WorkforceAttendanceOut]:
    """The course's attendance records of the people the caller may see (the course is in the caller's scope:
    ``course_in_scope``)."""
    people = _people_query(principal).with_only_columns(User.id).scalar_subquery()
    rows = await session.execute(
        select(Attendance, User.display_name)
        .join(User, User.id == Attendance.user_id)
        .where(Attendance.course_id == course.id, Attendance.user_id.in_(people))
        .order_by(Attendance.id)
    )
    return [_attendance_out(a, course, name) for a, name in rows.all()]
