"""Hotline calls and public reports (来电与群众反映) in the console: the list (the untriaged first, the overdue
highlighted), the quick form for taking a call, and an intake's page with its triage: a mandatory report, a need
on a file, a new file, or no action with a reason; after a report about an unidentified child, the file it is
about (a new one, or one the community has).

Everything goes through ``marketplace.intake.service`` with the session's Principal, as the API calls it: its
scope decides what a role sees, its reads write the audit rows, and what a triage makes goes through the cases
services with their rules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views.children import parse, redirect
from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import reports
from marketplace.cases.models import Child
from marketplace.cases.report_schemas import ReportKind
from marketplace.cases.taxonomy import GENDERS, GUARDIANSHIP, REPORT_KINDS, RISK_LEVELS, URGENCY
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.geography.models import Community, Street
from marketplace.ids import MAX_ID, PathId
from marketplace.intake import service
from marketplace.intake.schemas import IntakeIn, IntakeOut, TriageIn
from marketplace.intake.taxonomy import CHANNELS, OUTCOMES, STATUSES
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES

PAGE = 30
# The files a triage may name: the community's active children, at most this many in the list.
CHILD_CHOICES = 500
TITLES = {
    "child_director": "本社区来电与反映",
    "child_supervisor": "本街道来电与反映",
    "district_admin": "全区来电与反映",
    "auditor": "全区来电与反映",
}
DONE = {
    "created": "来电已登记，已通知社区儿童主任研判",
    "triaged": "研判结果已记录",
}
INTAKE_FIELDS = (
    "channel",
    "urgency",
    "community_id",
    "received_at",
    "caller_name",
    "caller_phone",
    "caller_relation",
    "what",
    "place",
    "subject_name",
    "subject_description",
)
FILE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_number",
    "guardianship",
    "risk_level",
    "school",
    "guardian_name",
    "guardian_relation",
    "guardian_phone",
    "address",
    "household_notes",
)


_text = web.posted


def _id(form: dict[str, str], name: str, message: str) -> int | None:
    text = _text(form, name)
    if not text:
        return None
    if not (text.isdigit() and 1 <= int(text) <= MAX_ID):
        raise Invalid.field(name, message)
    return int(text)


async def _communities(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The communities this caller may take a call for, with their street's name."""
    stmt = select(Community.id, Community.name, Street.name).join(Street, Street.id == Community.street_id)
    if principal.role == "child_director":
        stmt = stmt.where(Community.id == principal.community_id)
    elif principal.role == "child_supervisor":
        stmt = stmt.where(Community.street_id == principal.street_id)
    elif principal.role != "district_admin":
        return []
    rows = (await session.execute(stmt.order_by(Community.street_id, Community.id))).all()
    return [{"id": i, "name": n, "street": s} for i, n, s in rows]


async def _names(session: AsyncSession, shown: list[IntakeOut]) -> tuple[dict[int, str], dict[int, str]]:
    """Community names, and the names of the files the intakes name (already in the caller's scope)."""
    communities: dict[int, str] = {}
    ids = {i.community_id for i in shown}
    if ids:
        communities = dict(
            (await session.execute(select(Community.id, Community.name).where(Community.id.in_(ids)))).all()
        )
    children: dict[int, str] = {}
    kids = {i.child_id for i in shown if i.child_id is not None}
    if kids:
        children = dict((await session.execute(select(Child.id, Child.name).where(Child.id.in_(kids)))).all())
    return communities, children


# ---------------------------------------------------------------- the list


@get("/intakes", name="console-intakes")
async def intakes_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    channel: Annotated[str | None, QueryParameter(max_length=30)] = None,
) -> Response[str]:
    if status and status not in STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    if channel and channel not in CHANNELS:
        raise Invalid.field("channel", f"未知来源 {channel} (unknown channel)")
    # The service applies the caller's scope (403 for roles without children's data) and writes the audit rows.
    found, total = await service.list_intakes(
        session, principal, status=status or None, channel=channel or None, limit=PAGE, offset=(page - 1) * PAGE
    )
    shown = await service.present(session, principal, found)
    communities, children = await _names(session, shown)
    return web.render(
        "intakes.html",
        title=TITLES.get(principal.role, "来电与反映"),
        rows=shown,
        communities=communities,
        children=children,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "",
        channel=channel or "",
        statuses=STATUSES,
        channels=CHANNELS,
        may_record=principal.role in service.RECORDERS,
        now=clock.now(),
        **web.page_context(request, principal, "intakes"),
    )


# ---------------------------------------------------------------- taking a call


async def _files(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The active files a call may be about, for the quick form: a director's community's, a supervisor's street's
    (the district names the child on the triage instead). Listing them is a read of their names, audited."""
    stmt = select(Child.id, Child.name, Community.name).join(Community, Community.id == Child.community_id)
    if principal.role == "child_director":
        stmt = stmt.where(Child.community_id == principal.community_id)
    elif principal.role == "child_supervisor":
        stmt = stmt.where(Child.street_id == principal.street_id)
    else:
        return []
    rows = (await session.execute(stmt.where(Child.status == "active").order_by(Child.id).limit(CHILD_CHOICES))).all()
    if rows:
        await audit.record_read(session, principal, "list", "child", [r[0] for r in rows], ["name"])
    return sorted(({"id": i, "name": n, "community": c} for i, n, c in rows), key=lambda f: (f["community"], f["name"]))


async def _new_context(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "values": values,
        "channels": CHANNELS,
        "urgencies": URGENCY,
        "communities": await _communities(session, principal),
        "files": await _files(session, principal),
    }


@get("/intakes/new", name="console-intake-new")
async def new_intake_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    principal.require(*service.RECORDERS)
    values = {"community_id": str(principal.community_id or ""), "urgency": "3", "channel": "hotline_12355"}
    return web.render(
        "intake_new.html",
        error=None,
        **await _new_context(session, principal, values),
        **web.page_context(request, principal, "intakes"),
    )


@post("/intakes/new", name="console-intake-create")
async def create_intake(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    principal.require(*service.RECORDERS)
    values: dict[str, Any] = {name: _text(form, name) for name in INTAKE_FIELDS}
    values["anonymous"] = form.get("anonymous", "") in ("1", "on", "true")
    try:
        if values["channel"] not in CHANNELS:
            raise Invalid.field("channel", "请选择来源 (choose the channel)")
        if not values["urgency"].isdigit() or int(values["urgency"]) not in URGENCY:
            raise Invalid.field("urgency", "请选择紧急程度 (choose the urgency)")
        community = _id(form, "community_id", "请选择所属社区 (choose the community)")
        if community is None:
            raise Invalid.field("community_id", "请选择所属社区 (choose the community)")
        if not values["what"]:
            raise Invalid.field("what", "请填写反映的情况 (what happened)")
        child = _id(form, "child_id", "请选择儿童档案 (choose the file)")
        values["child_id"] = str(child or "")
        if child is not None:
            if values["subject_name"] or values["subject_description"]:
                raise Invalid.field(
                    "subject_name",
                    "已选择儿童档案，无需填写未建档儿童的姓名或特征 (a file is chosen: no name or description)",
                )
        else:
            if not (values["subject_name"] or values["subject_description"]):
                raise Invalid.field(
                    "subject_description", "请选择儿童档案，或填写儿童姓名或特征 (a file, or a name or a description)"
                )
            if not values["place"]:
                raise Invalid.field("place", "请填写地点 (the place)")
        if values["anonymous"] and values["caller_name"]:
            raise Invalid.field("caller_name", "匿名来电不填写姓名 (an anonymous caller has no name)")
        received = _local_time(values["received_at"]) if values["received_at"] else None
        data = parse(
            IntakeIn,
            {
                **{
                    k: v
                    for k, v in values.items()
                    if k in IntakeIn.__struct_fields__ and k not in ("received_at", "child_id")
                },
                "urgency": int(values["urgency"]),
                "community_id": community,
                "child_id": child,
                "received_at": received.isoformat() if received else None,
            },
        )
        intake, _ = await service.create(session, principal, data)
    except forms.FORM_ERRORS as exc:
        return await web.render_form_error(
            request,
            session,
            exc,
            "intake_new.html",
            principal=principal,
            active="intakes",
            reads=lambda: _new_context(session, principal, values),
        )
    return redirect(request, f"/admin/intakes/{intake.id}?done=created")


def _local_time(text: str) -> dt.datetime:
    """A ``datetime-local`` value (the district's time, no offset) as an aware instant."""
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid.field("received_at", "来电时间格式不正确 (not a time)") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=clock.DISTRICT_TZ)


# ---------------------------------------------------------------- one intake and its triage


async def _children_of(session: AsyncSession, principal: Principal, intake: IntakeOut) -> list[dict[str, Any]]:
    """The community's active files a triage may name (for the community's director or the street's supervisor);
    listing them is a read of their names, audited."""
    if not (
        (principal.role == "child_director" and principal.community_id == intake.community_id)
        or (principal.role == "child_supervisor" and principal.street_id == intake.street_id)
    ):
        return []
    rows = (
        await session.execute(
            select(Child.id, Child.name)
            .where(Child.community_id == intake.community_id, Child.status == "active")
            .order_by(Child.id)
            .limit(CHILD_CHOICES)
        )
    ).all()
    if rows:
        await audit.record_read(session, principal, "list", "child", [r[0] for r in rows], ["name"])
    return sorted(({"id": i, "name": n} for i, n in rows), key=lambda c: c["name"])


async def _detail(session: AsyncSession, principal: Principal, intake_id: int) -> dict[str, Any]:
    intake = await service.read(session, principal, intake_id)
    (shown,) = await service.present(session, principal, [intake])
    communities, children = await _names(session, [shown])
    follow_up = False
    if shown.status == "triaged" and shown.report_id is not None and shown.child_id is None:
        report = await reports.load(session, shown.report_id)
        follow_up = report.child_id is None
    may = service.can_triage(principal, shown.community_id, shown.street_id)
    return {
        "intake": shown,
        "community": communities.get(shown.community_id, ""),
        "child_name": children.get(shown.child_id) if shown.child_id else None,
        "may_triage": may and shown.status == "new",
        # What the cases services let this role make: a report (the director or the supervisor), a need or a file
        # (the child's director); the district triages "no action" only.
        "may_report": principal.role in ("child_director", "child_supervisor"),
        "may_file": principal.role == "child_director",
        "may_follow_up": may and follow_up,
        "choices": await _children_of(session, principal, shown) if may else [],
        "report_kinds": REPORT_KINDS,
        "categories": SERVICE_CATEGORIES,
        "urgencies": URGENCY,
        "outcomes": OUTCOMES,
        "genders": GENDERS,
        "guardianships": GUARDIANSHIP,
        "risks": RISK_LEVELS,
        "child_categories": CHILD_CATEGORIES,
        "today": clock.today(),
        "now": clock.now(),
    }


@get("/intakes/{intake_id:int}", name="console-intake")
async def intake_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    intake_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    return web.render(
        "intake.html",
        error=None,
        values={},
        messages=[("ok", DONE[done])] if done in DONE else [],
        **await _detail(session, principal, intake_id),
        **web.page_context(request, principal, "intakes"),
    )


def _triage_of(form: dict[str, str], community_id: int, categories: list[str]) -> TriageIn:
    outcome = _text(form, "outcome")
    if outcome not in OUTCOMES:
        raise Invalid.field("outcome", "请选择研判结果 (choose the outcome)")
    values: dict[str, Any] = {"outcome": outcome}
    if outcome == "mandatory_report":
        kind = _text(form, "report_kind")
        if kind not in REPORT_KINDS:
            raise Invalid.field("report_kind", "请选择强制报告类型 (choose the kind)")
        report_kind: ReportKind = kind  # type: ignore[assignment]
        values.update(report_kind=report_kind, police_notified=form.get("police_notified", "") in ("1", "on", "true"))
    elif outcome == "need":
        values["child_id"] = _id(form, "child_id", "请选择儿童档案 (choose the file)")
        category = _text(form, "category")
        if category not in SERVICE_CATEGORIES:
            raise Invalid.field("category", "请选择需求类别 (choose the category)")
        values["category"] = category
        urgency = _text(form, "urgency")
        if urgency:
            values["urgency"] = urgency
        values["note"] = _text(form, "note")
    elif outcome == "new_file":
        if not categories:
            raise Invalid.field("categories", "请至少选择一个儿童类别 (choose at least one category)")
        child: dict[str, Any] = {name: _text(form, name) for name in FILE_FIELDS}
        child.update(community_id=community_id, id_number=child["id_number"].upper(), categories=categories)
        values["child"] = child
        if _text(form, "category"):
            values["category"] = _text(form, "category")
    elif outcome == "link_file":
        values["child_id"] = _id(form, "child_id", "请选择儿童档案 (choose the file)")
        if values["child_id"] is None:
            raise Invalid.field("child_id", "请选择儿童档案 (choose the file)")
        if _text(form, "category"):
            values["category"] = _text(form, "category")
    else:
        values["reason"] = _text(form, "reason")
    return parse(TriageIn, values)


@post("/intakes/{intake_id:int}/triage", name="console-intake-triage")
async def triage(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    intake_id: PathId,
) -> Response[str]:
    posted = await request.form()
    form = {k: str(v) for k, v in posted.items() if isinstance(v, str) and k not in ("_csrf_token", "categories")}
    categories = [str(v) for v in posted.getall("categories", []) if isinstance(v, str)]
    try:
        intake = await service.visible(session, principal, intake_id)
        data = _triage_of(form, intake.community_id, categories)
        intake = await service.triage(session, principal, settings, intake_id, data)
    except forms.FORM_ERRORS as exc:
        return await web.render_form_error(
            request,
            session,
            exc,
            "intake.html",
            principal=principal,
            active="intakes",
            reads=lambda: _detail(session, principal, intake_id),
            values={**form, "categories": categories},
            messages=[],
        )
    if data.outcome == "new_file" and intake.child_id is not None:
        return redirect(request, f"/admin/children/{intake.child_id}?done=created#timeline")
    if data.outcome == "link_file" and intake.child_id is not None:
        return redirect(request, f"/admin/children/{intake.child_id}#timeline")
    return redirect(request, f"/admin/intakes/{intake.id}?done=triaged")


ROUTES = [intakes_page, new_intake_page, create_intake, intake_page, triage]
