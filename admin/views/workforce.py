"""The workforce in the console: /admin/workforce (the people in scope with their training hours, certificates and
latest grade; this year's assessments; the courses), a person's page (attendance, certificates, assessments), an
assessment's page (every indicator with its inputs, the result, and the step's form: the director's self-report on
a phone, the supervisor's score, the district's confirmation or correction), and the director's "我的考核".

Every read and write goes through ``marketplace.workforce.service`` with the session's Principal, as the API does:
its scope and its audit rows. A form the service refuses is shown again with the message and what was typed
(``web.render_form_error``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.geography.models import Street
from marketplace.ids import PathId
from marketplace.workforce import service
from marketplace.workforce.models import Assessment
from marketplace.workforce.schemas import (
    WorkforceAssessmentOpenIn,
    WorkforceAttendanceIn,
    WorkforceCertificateIn,
    WorkforceConfirmIn,
    WorkforceCorrectionIn,
    WorkforceCourseIn,
    WorkforceScoreIn,
    WorkforceSelfReportIn,
)
from marketplace.workforce.taxonomy import CERTIFICATE_KINDS, GRADES, TRAINING_KINDS, WEIGHTS

PAGE = 100
ACTIVE = "workforce"
S = TypeVar("S")
LABELS = {
    "title": "培训名称",
    "kind": "类别",
    "organizer": "主办单位",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "hours": "学时",
    "place": "地点",
    "street_id": "街道",
    "user_id": "人员",
    "passed": "是否合格",
    "number": "证书编号",
    "issued_on": "发证日期",
    "expires_on": "有效期至",
    "issuer": "发证机关",
    "year": "年度",
    "text": "述职报告",
    "claims": "主要工作",
    "score": "评分",
    "comment": "评语",
    "veto_reason": "一票否决理由",
    "reason": "更正理由",
}
DONE = {
    "opened": "已发起考核，已通知本人提交述职报告",
    "self_report": "述职报告已提交，已通知督导员评分",
    "score": "已评分，待区民政确认",
    "confirm": "考核结果已确认，此后不再变更",
    "correct": "已生成更正版本，待重新确认",
    "course": "已登记培训",
    "attendance": "已登记参训情况",
    "certificate": "已登记证书",
}


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    return web.parse_form(schema, values, LABELS)


_text = web.posted


def _year(value: int | None) -> int:
    return value or clock.today().year


# ---------------------------------------------------------------- the overview


async def _overview(session: AsyncSession, principal: Principal, year: int, page: int = 1) -> dict[str, Any]:
    people, people_total = await service.list_people(
        session, principal, year=year, limit=PAGE, offset=(page - 1) * PAGE
    )
    assessments, _ = await service.list_assessments(session, principal, year=year, limit=PAGE, offset=0)
    courses, courses_total = await service.list_courses(session, principal, year=year, limit=PAGE, offset=0)
    assessed = {a.user_id for a in assessments}
    reviewable = [
        p
        for p in people
        if p.user_id not in assessed
        and (
            (principal.role == "child_supervisor" and p.role == "child_director") or principal.role == "district_admin"
        )
    ]
    streets: list[tuple[int, str]] = []
    if principal.role == "district_admin":
        streets = [
            (int(i), str(n)) for i, n in (await session.execute(select(Street.id, Street.name).order_by(Street.id)))
        ]
    return {
        "year": year,
        "page": page,
        "pages": max(1, -(-people_total // PAGE)),
        "people": people,
        "people_total": people_total,
        "assessments": assessments,
        "courses": courses,
        "courses_total": courses_total,
        "reviewable": reviewable,
        "streets": streets,
        "kinds": TRAINING_KINDS,
        "can_course": principal.role in ("district_admin", "child_supervisor"),
        "today": clock.today(),
    }


@get("/workforce", name="console-workforce")
async def workforce_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    if principal.role == "child_director":
        return web.after_change(request, "/admin/workforce/mine")
    service.require_reader(principal)
    context = await _overview(session, principal, _year(year), page)
    return web.render(
        "workforce.html",
        message=DONE.get(done or ""),
        form_name="",
        posted={},
        **context,
        **web.page_context(request, principal, ACTIVE),
    )


@get("/workforce/mine", name="console-workforce-mine")
async def my_assessment(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    """The director's (or supervisor's) own: this year's assessment if it is open, else their page."""
    service.require_reader(principal)
    latest = await session.scalar(
        select(Assessment.id)
        .where(Assessment.user_id == principal.user_id)
        .order_by(Assessment.year.desc(), Assessment.revision.desc())
        .limit(1)
    )
    if latest is not None:
        return web.after_change(request, f"/admin/workforce/assessments/{latest}")
    return web.after_change(request, f"/admin/workforce/people/{principal.user_id}")


async def _overview_refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    exc: Exception,
    form_name: str,
    posted: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _overview(session, principal, clock.today().year)

    return await web.render_form_error(
        request,
        session,
        exc,
        "workforce.html",
        principal=principal,
        active=ACTIVE,
        reads=reads,
        form_name=form_name,
        posted=dict(posted),
        message=None,
    )


@post("/workforce/assessments", name="console-workforce-open")
async def open_assessment(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    posted = {"user_id": _text(form, "user_id"), "year": _text(form, "year")}
    try:
        row = await service.open_assessment(session, principal, parse(WorkforceAssessmentOpenIn, posted))
    except forms.FORM_ERRORS as exc:
        return await _overview_refused(request, session, principal, exc, "open", posted)
    return web.after_change(request, f"/admin/workforce/assessments/{row.id}?done=opened")


@post("/workforce/courses", name="console-workforce-course")
async def create_course(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    names = ("title", "kind", "organizer", "starts_on", "ends_on", "hours", "place", "street_id")
    posted = {name: _text(form, name) for name in names}
    body: dict[str, Any] = dict(posted)
    body["street_id"] = posted["street_id"] or None
    try:
        await service.create_course(session, principal, parse(WorkforceCourseIn, body))
    except forms.FORM_ERRORS as exc:
        return await _overview_refused(request, session, principal, exc, "course", posted)
    return web.after_change(request, "/admin/workforce?done=course#courses")


# ---------------------------------------------------------------- a course's attendance


async def _course_context(session: AsyncSession, principal: Principal, course_id: int) -> dict[str, Any]:
    course = await service.course_in_scope(session, principal, course_id)
    [shown] = await service.present_courses(session, [course])
    people, _ = await service.list_people(
        session, principal, street_id=course.street_id, year=course.starts_on.year, limit=PAGE, offset=0
    )
    records = await service.course_attendance(session, principal, course)
    return {
        "course": shown,
        "people": people,
        "records": records,
        "writer": principal.role == "district_admin"
        or (principal.role == "child_supervisor" and course.street_id == principal.street_id),
    }


@get("/workforce/courses/{course_id:int}", name="console-workforce-course-page")
async def course_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    course_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _course_context(session, principal, course_id)
    return web.render(
        "workforce_course.html",
        message=DONE.get(done or ""),
        posted={},
        **context,
        **web.page_context(request, principal, ACTIVE),
    )


@post("/workforce/courses/{course_id:int}/attendance", name="console-workforce-attendance")
async def record_attendance(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    course_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"user_id": _text(form, "user_id"), "hours": _text(form, "hours"), "passed": _text(form, "passed")}
    body = {**posted, "passed": posted["passed"] != "no"}
    try:
        await service.record_attendance(session, principal, course_id, parse(WorkforceAttendanceIn, body))
    except forms.FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            return await _course_context(session, principal, course_id)

        return await web.render_form_error(
            request,
            session,
            exc,
            "workforce_course.html",
            principal=principal,
            active=ACTIVE,
            reads=reads,
            posted=posted,
            message=None,
        )
    return web.after_change(request, f"/admin/workforce/courses/{course_id}?done=attendance")


# ---------------------------------------------------------------- a person


async def _person_context(session: AsyncSession, principal: Principal, user_id: int) -> dict[str, Any]:
    detail = await service.get_person(session, principal, user_id)
    person = await service.person_in_scope(session, principal, user_id)
    return {
        "detail": detail,
        "cert_kinds": CERTIFICATE_KINDS,
        "cert_writer": not principal.read_only
        and (
            user_id == principal.user_id or service.reviewer_of(principal, person) or principal.role == "district_admin"
        ),
        "today": clock.today(),
    }


@get("/workforce/people/{user_id:int}", name="console-workforce-person")
async def person_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    user_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _person_context(session, principal, user_id)
    return web.render(
        "workforce_person.html",
        message=DONE.get(done or ""),
        posted={},
        **context,
        **web.page_context(request, principal, ACTIVE),
    )


@post("/workforce/people/{user_id:int}/certificates", name="console-workforce-certificate")
async def add_certificate(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    user_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {name: _text(form, name) for name in ("kind", "number", "issued_on", "expires_on", "issuer")}
    body: dict[str, Any] = {**posted, "expires_on": posted["expires_on"] or None}
    try:
        await service.add_certificate(session, principal, user_id, parse(WorkforceCertificateIn, body))
    except forms.FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            return await _person_context(session, principal, user_id)

        return await web.render_form_error(
            request,
            session,
            exc,
            "workforce_person.html",
            principal=principal,
            active=ACTIVE,
            reads=reads,
            posted=posted,
            message=None,
        )
    return web.after_change(request, f"/admin/workforce/people/{user_id}?done=certificate#certificates")


# ---------------------------------------------------------------- an assessment and its steps


async def _assessment_context(session: AsyncSession, principal: Principal, assessment_id: int) -> dict[str, Any]:
    shown = await service.get_assessment(session, principal, assessment_id)
    own = shown.user_id == principal.user_id
    reviewer = not own and (
        (
            shown.role == "child_director"
            and principal.role == "child_supervisor"
            and principal.street_id == shown.street_id
        )
        or (shown.role == "child_supervisor" and principal.role == "district_admin")
    )
    return {
        "a": shown,
        "can_self_report": own and not principal.read_only and shown.status in ("open", "self_reported"),
        "can_score": reviewer and shown.status in ("self_reported", "scored"),
        "can_confirm": principal.role == "district_admin" and shown.status == "scored",
        "can_correct": principal.role == "district_admin"
        and shown.status == "confirmed"
        and shown.superseded_by_id is None,
        "grades": GRADES,
        "reviewer_weight": WEIGHTS["reviewer_score"],
    }


async def _assessment_refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    assessment_id: int,
    exc: Exception,
    form_name: str,
    posted: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _assessment_context(session, principal, assessment_id)

    return await web.render_form_error(
        request,
        session,
        exc,
        "workforce_assessment.html",
        principal=principal,
        active=ACTIVE,
        reads=reads,
        form_name=form_name,
        posted=dict(posted),
        message=None,
    )


@get("/workforce/assessments/{assessment_id:int}", name="console-workforce-assessment")
async def assessment_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _assessment_context(session, principal, assessment_id)
    return web.render(
        "workforce_assessment.html",
        message=DONE.get(done or ""),
        form_name="",
        posted={},
        **context,
        **web.page_context(request, principal, ACTIVE),
    )


Step = Callable[[AsyncSession, Principal, int, dict[str, str]], Awaitable[Assessment]]


async def _self_report(session: AsyncSession, principal: Principal, aid: int, posted: dict[str, str]) -> Assessment:
    claims = [line.strip() for line in posted["claims"].splitlines() if line.strip()]
    return await service.self_report(
        session, principal, aid, parse(WorkforceSelfReportIn, {"text": posted["text"], "claims": claims})
    )


async def _score(session: AsyncSession, principal: Principal, aid: int, posted: dict[str, str]) -> Assessment:
    return await service.score(session, principal, aid, parse(WorkforceScoreIn, posted))


async def _confirm(session: AsyncSession, principal: Principal, aid: int, posted: dict[str, str]) -> Assessment:
    return await service.confirm(session, principal, aid, parse(WorkforceConfirmIn, posted))


async def _correct(session: AsyncSession, principal: Principal, aid: int, posted: dict[str, str]) -> Assessment:
    body: dict[str, Any] = {**posted, "score": posted["score"] or None}
    return await service.correct(session, principal, aid, parse(WorkforceCorrectionIn, body))


STEPS: dict[str, tuple[tuple[str, ...], Step]] = {
    "self_report": (("text", "claims"), _self_report),
    "score": (("score", "comment"), _score),
    "confirm": (("veto_reason",), _confirm),
    "correct": (("reason", "score", "comment"), _correct),
}


async def _step(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    aid: int,
    form: Mapping[str, Any],
    step: str,
) -> Response[str]:
    names, run = STEPS[step]
    posted = {name: _text(form, name) for name in names}
    try:
        row = await run(session, principal, aid, posted)
    except forms.FORM_ERRORS as exc:
        return await _assessment_refused(request, session, principal, aid, exc, step, posted)
    return web.after_change(request, f"/admin/workforce/assessments/{row.id}?done={step}")


@post("/workforce/assessments/{assessment_id:int}/self-report", name="console-workforce-self-report")
async def self_report(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _step(request, session, principal, assessment_id, form, "self_report")


@post("/workforce/assessments/{assessment_id:int}/score", name="console-workforce-score")
async def score(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _step(request, session, principal, assessment_id, form, "score")


@post("/workforce/assessments/{assessment_id:int}/confirm", name="console-workforce-confirm")
async def confirm(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _step(request, session, principal, assessment_id, form, "confirm")


@post("/workforce/assessments/{assessment_id:int}/correct", name="console-workforce-correct")
async def correct(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _step(request, session, principal, assessment_id, form, "correct")


ROUTES = [
    workforce_page,
    my_assessment,
    open_assessment,
    create_course,
    course_page,
    record_attendance,
    person_page,
    add_certificate,
    assessment_page,
    self_report,
    score,
    confirm,
    correct,
]
