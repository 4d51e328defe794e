"""Volunteers in the console: /admin/volunteers (the register with filters and the year's totals), the registration
form (the identity number checked as it is typed), a volunteer's page (teams, hours, totals; join or leave a team,
log hours at a recent activity of the area's places or on a referral, reverse a row, issue a certificate), the
printable certificate of hours, a team's members, and the public verification page of a certificate (no login).

Every read and write goes through ``marketplace.volunteers.service`` with the session's Principal, as the API does:
its scope, masking and audit rows. A form the service refuses is shown again with the message and what was typed
(``web.render_form_error``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid, NotFound
from marketplace.geography.models import Street
from marketplace.ids import PathId
from marketplace.resources.models import VolunteerTeam
from marketplace.volunteers import service
from marketplace.volunteers.schemas import (
    VolunteerCertificateIn,
    VolunteerHoursIn,
    VolunteerIn,
    VolunteerMembershipIn,
    VolunteerPatch,
)
from marketplace.volunteers.taxonomy import GENDERS, SKILLS, STATUSES

PAGE = 30
HOURS_PAGE = 50
LABELS = {
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "street_id": "街道",
    "community_id": "社区",
    "skills": "技能",
    "availability": "可服务时间",
    "guardian_consent": "监护人同意",
    "team_id": "志愿服务队",
    "joined_on": "加入日期",
    "left_on": "退出日期",
    "activity_id": "活动",
    "referral_id": "转介个案",
    "served_on": "服务日期",
    "minutes": "服务时长",
    "task": "服务内容",
    "period_from": "开始日期",
    "period_to": "结束日期",
    "status": "状态",
}
DONE = {
    "registered": "已登记志愿者",
    "joined": "已加入服务队",
    "left": "已退出服务队（记录保留）",
    "hours": "已登记服务时长",
    "reversed": "已冲销该条时长（更正记录已保存）",
    "status": "已更新状态",
}


def _writer(principal: Principal) -> bool:
    return principal.role in service.WRITERS


async def _streets(session: AsyncSession) -> dict[int, str]:
    return {int(i): n for i, n in (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()}


# ---------------------------------------------------------------- the register


@get("/volunteers", name="console-volunteers")
async def volunteers_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    q: Annotated[str | None, QueryParameter(max_length=40)] = None,
    skill: Annotated[str | None, QueryParameter(max_length=20)] = None,
    status: Annotated[str | None, QueryParameter(max_length=10)] = None,
    street_id: Annotated[int | None, QueryParameter(ge=1, le=1_000_000)] = None,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    if skill and skill not in SKILLS:
        raise Invalid.field("skill", f"未知技能 {skill} (unknown skill)")
    if status and status not in STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    items, total = await service.list_volunteers(
        session,
        principal,
        street_id=street_id,
        skill=skill or None,
        status=status or None,
        q=q or None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    totals = (
        await service.totals(session, principal, clock.today().year)
        if principal.role in service.HOURS_READERS
        else None
    )
    query = "&".join(
        f"{k}={v}" for k, v in (("q", q), ("skill", skill), ("status", status), ("street_id", street_id)) if v
    )
    return web.render(
        "volunteers.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        query=query,
        filters={"q": q or "", "skill": skill or "", "status": status or "", "street_id": street_id},
        skills=SKILLS,
        statuses=STATUSES,
        streets=await _streets(session) if principal.is_district else {},
        totals=totals,
        writer=_writer(principal),
        message=DONE.get(done or ""),
        **web.page_context(request, principal, "volunteers"),
    )


def _new_context(streets: Mapping[int, str], values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "values": dict(values or {}),
        "skills": SKILLS,
        "streets": streets,
    }


@get("/volunteers/new", name="console-volunteer-new")
async def new_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    principal.require(*service.WRITERS)
    streets = await _streets(session) if principal.is_district else {}
    return web.render(
        "volunteers_new.html", error=None, **_new_context(streets), **web.page_context(request, principal, "volunteers")
    )


@post("/volunteers/new/check", name="console-volunteer-check", opt={"read_only": True})
async def check_id(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    """The identity number as it is typed (htmx): checksum, birth date, age, and whether the person is registered."""
    number = web.posted(form, "id_number").upper()
    if len(number) < 18:
        return web.render("volunteers_id_check.html", typed=len(number), reading=None)
    reading, held = await service.check_id_number(session, principal, settings, number)
    return web.render("volunteers_id_check.html", typed=len(number), reading=reading, held=held, genders=GENDERS)


@post("/volunteers/new", name="console-volunteer-create")
async def create(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    posted = await request.form()
    values: dict[str, Any] = {k: str(v).strip() for k, v in posted.items() if isinstance(v, str) and k != "skills"}
    values.pop("_csrf_token", None)
    skills = [str(v) for v in posted.getall("skills", []) if isinstance(v, str)]
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "id_number": values.get("id_number", "").upper(),
        "phone": values.get("phone", ""),
        "availability": values.get("availability", ""),
        "skills": skills,
        "guardian_consent": values.get("guardian_consent", "") in ("1", "on", "true"),
    }
    if values.get("street_id"):
        body["street_id"] = values["street_id"]
    try:
        data = web.parse_form(VolunteerIn, body, LABELS)
        volunteer = await service.register(session, principal, settings, data)
    except forms.FORM_ERRORS as exc:
        streets = await _streets(session) if principal.is_district else {}
        return await web.render_form_error(
            request,
            session,
            exc,
            "volunteers_new.html",
            principal=principal,
            active="volunteers",
            **_new_context(streets, {**values, "skills": skills}),
        )
    return web.after_change(request, f"/admin/volunteers/{volunteer.id}?done=registered")


# ---------------------------------------------------------------- a volunteer's page


async def _volunteer_context(
    session: AsyncSession, principal: Principal, volunteer_id: int, hours_page: int = 1
) -> dict[str, Any]:
    shown = await service.read(session, principal, volunteer_id)
    context: dict[str, Any] = {
        "v": shown,
        "writer": _writer(principal),
        "today": clock.today(),
        "year_start": clock.today().replace(month=1, day=1),
        "statuses": STATUSES,
        "hours": None,
        "certificates": [],
        "activities": [],
        "referrals": [],
        "teams": [],
    }
    if principal.role in service.HOURS_READERS:
        items, total, minutes = await service.list_hours(
            session, principal, volunteer_id, limit=HOURS_PAGE, offset=(hours_page - 1) * HOURS_PAGE
        )
        context["hours"] = {
            "items": items,
            "total": total,
            "minutes": minutes,
            "page": hours_page,
            "pages": max(1, -(-total // HOURS_PAGE)),
        }
        context["certificates"] = await service.certificates_of(session, volunteer_id)
    if context["writer"]:
        context["activities"] = await service.recent_activities(session, principal)
        context["referrals"] = await service.recent_referrals(session, principal)
        current = {m.team_id for m in shown.teams if m.left_on is None}
        teams = await session.execute(
            select(VolunteerTeam.id, VolunteerTeam.name)
            .where(
                VolunteerTeam.active.is_(True),
                (VolunteerTeam.street_id == shown.street_id) | VolunteerTeam.organization_id.is_not(None),
            )
            .order_by(VolunteerTeam.name)
        )
        context["teams"] = [(int(i), n) for i, n in teams.all() if i not in current]
    return context


@get("/volunteers/{volunteer_id:int}", name="console-volunteer")
async def volunteer_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    volunteer_id: PathId,
    hours_page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _volunteer_context(session, principal, volunteer_id, hours_page)
    return web.render(
        "volunteers_person.html",
        message=DONE.get(done or ""),
        posted={},
        form_name=None,
        **context,
        **web.page_context(request, principal, "volunteers"),
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    volunteer_id: int,
    exc: Exception,
    form_name: str,
    posted: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _volunteer_context(session, principal, volunteer_id)

    return await web.render_form_error(
        request,
        session,
        exc,
        "volunteers_person.html",
        principal=principal,
        active="volunteers",
        reads=reads,
        form_name=form_name,
        posted=dict(posted),
        message=None,
    )


@post("/volunteers/{volunteer_id:int}/memberships", name="console-volunteer-join")
async def join(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    volunteer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"team_id": web.posted(form, "team_id"), "joined_on": web.posted(form, "joined_on")}
    try:
        data = web.parse_form(
            VolunteerMembershipIn,
            {"team_id": posted["team_id"] or "0", "joined_on": posted["joined_on"] or None},
            LABELS,
        )
        await service.join(session, principal, volunteer_id, data)
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, volunteer_id, exc, "join", posted)
    return web.after_change(request, f"/admin/volunteers/{volunteer_id}?done=joined#teams")


@post("/volunteers/memberships/{membership_id:int}/leave", name="console-volunteer-leave")
async def leave(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, membership_id: PathId
) -> Response[str]:
    membership = await service.leave(session, principal, membership_id, None)
    return web.after_change(request, f"/admin/volunteers/{membership.volunteer_id}?done=left#teams")


@post("/volunteers/{volunteer_id:int}/hours", name="console-volunteer-hours")
async def log_hours(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    volunteer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Hours at an activity (``activity_id``) or on a referral (``referral_id`` + the day); hours and minutes typed
    apart on a phone."""
    posted = {
        name: web.posted(form, name) for name in ("what", "activity_id", "referral_id", "served_on", "hours", "task")
    }
    try:
        try:
            minutes = round(float(posted["hours"]) * 60)
        except (ValueError, OverflowError):  # not a number, NaN, infinity
            raise Invalid.field("minutes", "请填写服务时长（小时，如 2 或 1.5）(hours required)") from None
        body: dict[str, Any] = {"minutes": minutes, "task": posted["task"]}
        kind = posted["what"] or ("referral" if posted["referral_id"] else "activity")
        if kind == "referral":
            body["referral_id"] = posted["referral_id"] or "0"
            body["served_on"] = posted["served_on"] or None
        else:
            body["activity_id"] = posted["activity_id"] or "0"
        data = web.parse_form(VolunteerHoursIn, body, LABELS)
        await service.log_hours(session, principal, volunteer_id, data)
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, volunteer_id, exc, "hours", posted)
    return web.after_change(request, f"/admin/volunteers/{volunteer_id}?done=hours#hours")


@post("/volunteers/hours/{hours_id:int}/reverse", name="console-volunteer-reverse")
async def reverse(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, hours_id: PathId
) -> Response[str]:
    row = await service.reverse_hours(session, principal, hours_id)
    return web.after_change(request, f"/admin/volunteers/{row.volunteer_id}?done=reversed#hours")


@post("/volunteers/{volunteer_id:int}/status", name="console-volunteer-status")
async def change_status(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    volunteer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"status": web.posted(form, "status")}
    try:
        await service.update(session, principal, volunteer_id, web.parse_form(VolunteerPatch, posted, LABELS))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, volunteer_id, exc, "status", posted)
    return web.after_change(request, f"/admin/volunteers/{volunteer_id}?done=status")


@post("/volunteers/{volunteer_id:int}/certificates", name="console-volunteer-certificate-issue")
async def issue(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    volunteer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"period_from": web.posted(form, "period_from"), "period_to": web.posted(form, "period_to")}
    try:
        data = web.parse_form(VolunteerCertificateIn, posted, LABELS)
        cert = await service.issue_certificate(session, principal, settings, volunteer_id, data)
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, volunteer_id, exc, "certificate", posted)
    return web.after_change(request, f"/admin/volunteers/certificates/{cert.id}")


@get("/volunteers/certificates/{certificate_id:int}", name="console-volunteer-certificate")
async def certificate_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, certificate_id: PathId
) -> Response[str]:
    """The printable certificate (志愿服务时长证明) with its number and verification code."""
    cert, volunteer = await service.read_certificate(session, principal, certificate_id)
    shown = await service.certificate_out(session, principal, cert)
    [person] = await service.present(session, principal, [volunteer])
    return web.render(
        "volunteers_certificate.html",
        cert=shown,
        person=person,
        verify_url=str(request.base_url).rstrip("/") + shown.verify_url,
        **web.page_context(request, principal, "volunteers"),
    )


@get("/volunteers/teams/{team_id:int}", name="console-volunteer-team")
async def team_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, team_id: PathId
) -> Response[str]:
    """A team's members (current first, then who left), as far as the caller's scope reaches."""
    team = await session.get(VolunteerTeam, team_id)
    if team is None:
        raise NotFound(f"志愿服务队 {team_id} 不存在 (team not found)")
    members = await service.team_members(session, principal, team_id)
    return web.render(
        "volunteers_team.html",
        team=team,
        members=members,
        **web.page_context(request, principal, "volunteers"),
    )


@get("/public/volunteer-certificates/{code:str}", name="console-public-volunteer-certificate")
async def public_certificate(
    request: Request[Any, Any, Any],
    session: DbSession,
    settings: AppSettings,
    code: Annotated[str, PathParameter(max_length=80)],
) -> Response[str]:
    """The public check of a certificate's code, no login: valid or not, the masked name, the period and hours."""
    check = await service.verify(session, settings, code)
    return web.render("volunteers_verify.html", check=check, **web.page_context(request, None, ""))


ROUTES = [
    volunteers_page,
    new_page,
    check_id,
    create,
    volunteer_page,
    join,
    leave,
    log_hours,
    reverse,
    change_status,
    issue,
    certificate_page,
    team_page,
    public_certificate,
]
