"""十防 safety in the console: the warnings board (/admin/safety: grade as text and colour, counts, filters; the
escalated ones first for the supervisor and the district), a warning's page (reasons, history, the director's
acknowledgement with the action taken and further actions, the supervisor's notes on an escalated one), the
seasonal checklist form of a child (one item a row, usable on a phone) and the child page's section.

Every read and write goes through ``marketplace.safety.service`` with the session's Principal, as the API does: its
scope decides what a role sees (a warning outside it is 404) and its reads and writes leave the audit rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.ids import PathId
from marketplace.safety import rules
from marketplace.safety import service as safety
from marketplace.safety.schemas import SafetyAcknowledgeIn, SafetyActionIn, SafetyCheckIn
from marketplace.safety.taxonomy import ANSWERS, GRADES, PREVENTIONS, WARNING_STATUSES

PAGE = 30
STATUS_LABELS = {"active": "未解除", "escalated": "已升级", **WARNING_STATUSES}
TITLES = {
    "child_director": "本社区安全预警",
    "child_supervisor": "本街道安全预警",
    "district_admin": "全区安全预警",
    "auditor": "全区安全预警",
}
DONE = {
    "ack": "已处置并记录措施",
    "action": "已记录处置措施",
    "note": "已记录督导意见",
}


_redirect = web.after_change


_text = web.posted


def _parse(schema: type[Any], values: Mapping[str, Any], field: str, label: str) -> Any:
    try:
        return msgspec.convert(dict(values), schema, strict=False)
    except msgspec.ValidationError as exc:
        raise Invalid.field(field, f"请检查“{label}”的填写 (invalid {field}: {exc})") from exc


# ---------------------------------------------------------------- the board


@get("/safety", name="console-safety")
async def board(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    grade: Annotated[str | None, QueryParameter(max_length=10)] = None,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    if grade and grade not in GRADES:
        raise Invalid.field("grade", f"未知预警等级 {grade} (unknown grade)")
    status = status if status is not None else "active"
    if status and status not in safety.STATUS_FILTERS:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    # The service applies the caller's scope (403 for roles without children's data) and writes the audit rows.
    rows, total, counts = await safety.list_warnings(
        session,
        principal,
        grade=grade or None,
        status=status or None,
        street_id=None,
        community_id=None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    return web.render(
        "safety.html",
        title=TITLES.get(principal.role, "安全预警"),
        warnings=await safety.present(session, principal, rows),
        counts=counts,
        total=total,
        grade=grade or "",
        status=status,
        grades=GRADES,
        statuses=STATUS_LABELS,
        page=page,
        pages=max(1, -(-total // PAGE)),
        query=f"grade={grade or ''}&status={status}",
        **web.page_context(request, principal, "safety"),
    )


# ---------------------------------------------------------------- a warning


async def _warning_reads(session: AsyncSession, principal: Principal, warning_id: int) -> dict[str, Any]:
    return {"w": await safety.read_warning(session, principal, warning_id)}


@get("/safety/warnings/{warning_id:int}", name="console-safety-warning")
async def warning_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    warning_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    return web.render(
        "safety_warning.html",
        message=DONE.get(done or ""),
        **await _warning_reads(session, principal, warning_id),
        **web.page_context(request, principal, "safety"),
    )


@post("/safety/warnings/{warning_id:int}/acknowledge", name="console-safety-acknowledge")
async def acknowledge(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    warning_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    note = _text(form, "note")
    try:
        if not note:
            raise Invalid.field("note", "请写明已采取的措施 (say what was done)")
        await safety.acknowledge(
            session, principal, warning_id, _parse(SafetyAcknowledgeIn, {"note": note}, "note", "措施")
        )
    except forms.FORM_ERRORS as exc:
        return await web.render_form_error(
            request,
            session,
            exc,
            "safety_warning.html",
            principal=principal,
            active="safety",
            reads=lambda: _warning_reads(session, principal, warning_id),
            ack_note=note,
        )
    return _redirect(request, f"/admin/safety/warnings/{warning_id}?done=ack")


@post("/safety/warnings/{warning_id:int}/actions", name="console-safety-action")
async def add_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    warning_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    note = _text(form, "note")
    try:
        if not note:
            raise Invalid.field("note", "请填写内容 (note required)")
        await safety.add_action(session, principal, warning_id, _parse(SafetyActionIn, {"note": note}, "note", "内容"))
    except forms.FORM_ERRORS as exc:
        return await web.render_form_error(
            request,
            session,
            exc,
            "safety_warning.html",
            principal=principal,
            active="safety",
            reads=lambda: _warning_reads(session, principal, warning_id),
            action_note=note,
        )
    done = "action" if principal.role == "child_director" else "note"
    return _redirect(request, f"/admin/safety/warnings/{warning_id}?done={done}")


# ---------------------------------------------------------------- a child's checklist


def _check_form(child: Child, prevention: str, posted: Mapping[str, Any] | None = None) -> dict[str, Any]:
    today = clock.today()
    p = PREVENTIONS[prevention]
    posted = posted or {}
    return {
        "child": child,
        "prevention": p,
        "preventions": PREVENTIONS,
        "answers": ANSWERS,
        "season_label": rules.season_label(rules.season_of(today)),
        "today": today,
        "posted": posted,
    }


async def _child_for_check(session: AsyncSession, principal: Principal, child_id: int) -> Child:
    child = await cases.read_child(session, principal, child_id)
    cases.require_director(principal, child)
    return child


@get("/children/{child_id:int}/safety-check", name="console-safety-check-form")
async def check_form(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    prevention: Annotated[str, QueryParameter(max_length=30)] = "drowning",
    correct: Annotated[int | None, QueryParameter(ge=1, le=2_147_483_647)] = None,
) -> Response[str]:
    if prevention not in PREVENTIONS:
        raise Invalid.field("prevention", f"未知的防范类别 {prevention} (unknown prevention)")
    child = await _child_for_check(session, principal, child_id)
    posted = {"supersedes_id": str(correct)} if correct else {}
    return web.render(
        "safety_check.html",
        **_check_form(child, prevention, posted),
        **web.page_context(request, principal, "children"),
    )


@post("/children/{child_id:int}/safety-checks", name="console-safety-check")
async def record_check(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """The checklist as posted: one answer (and note) per item; the service refuses what the API refuses."""
    prevention = _text(form, "prevention")
    posted = {k: v for k, v in form.items() if k != "_csrf_token"}
    try:
        if prevention not in PREVENTIONS:
            raise Invalid.field("prevention", f"未知的防范类别 {prevention} (unknown prevention)")
        items = []
        for code, label in PREVENTIONS[prevention].items.items():
            answer = _text(form, f"answer_{code}")
            if not answer:
                raise Invalid.field(f"answer_{code}", f"请填写“{label}” (answer every item)")
            items.append({"code": code, "answer": answer, "note": _text(form, f"note_{code}")})
        supersedes = _text(form, "supersedes_id")
        data = _parse(
            SafetyCheckIn,
            {
                "prevention": prevention,
                "items": items,
                "checked_on": _text(form, "checked_on") or None,
                "household_note": _text(form, "household_note"),
                "supersedes_id": supersedes or None,
            },
            "items",
            "检查项",
        )
        await safety.create_check(session, principal, child_id, data)
    except forms.FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            child = await _child_for_check(session, principal, child_id)
            return _check_form(child, prevention if prevention in PREVENTIONS else "drowning", posted)

        return await web.render_form_error(
            request, session, exc, "safety_check.html", principal=principal, active="children", reads=reads
        )
    return _redirect(request, f"/admin/children/{child_id}?done=safety#safety")


# ---------------------------------------------------------------- the child page's section


async def child_section(session: AsyncSession, principal: Principal, child: Child) -> dict[str, Any]:
    """What ``_child_safety.html`` shows: the open warning, this season's due checklists, the completed checks."""
    today = clock.today()
    rows, _, _ = await safety.list_warnings(
        session,
        principal,
        grade=None,
        status="active",
        street_id=None,
        community_id=None,
        child_id=child.id,
        limit=1,
        offset=0,
    )
    found, _, _ = await safety.list_checks(session, principal, child.id, limit=50, offset=0)
    season, due, missing = await safety.due_status(session, child.id, today)
    checks = await safety.present_checks(session, found)
    current = {c.prevention: c for c in checks if c.current and c.season == season}
    return {
        "safety_warning": (await safety.present(session, principal, rows))[0] if rows else None,
        "safety_season": rules.season_label(season),
        "safety_due": [{"code": code, "label": PREVENTIONS[code].label, "check": current.get(code)} for code in due],
        "safety_missing": missing,
        "safety_checks": checks,
        "safety_director": principal.role == "child_director" and principal.community_id == child.community_id,
    }


ROUTES = [board, warning_page, acknowledge, add_action, check_form, record_check]
