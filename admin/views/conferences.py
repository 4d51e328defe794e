"""Case conferences (个案会商) in the console: the list (the caller's open decisions first, "my decisions"), the
convene form for a child (the staff of the child's circle and the outside parties), and the conference's page
(participants, minutes, decisions with owners and due dates; recording the conference held, adding a decision,
marking one done or cancelling it). The child's page shows its conferences (``child_section``).

Everything goes through ``conferences.service`` with the session's Principal: the API's scope (an organization's
participant reads the topic, the date, the share note and its own decisions only) and its audit rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.conferences import service as conferences
from marketplace.conferences.schemas import (
    ConferenceDecisionDoneIn,
    ConferenceDecisionIn,
    ConferenceDecisionReviseIn,
    ConferenceHeldIn,
    ConferenceIn,
    ConferenceOut,
    ConferenceReasonIn,
)
from marketplace.conferences.taxonomy import CONFERENCE_STATUSES, PARTY_KINDS
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Conflict, Invalid
from marketplace.ids import MAX_ID, PathId

PAGE = 30
# What a form shows again in place (a rule of the domain, a state that does not allow it); a 403/404 is a page.
FORM_ERRORS = (Invalid, Conflict)
MINE = 50
# Outside-party rows on the convene form, decision rows on the "held" form.
PARTY_ROWS = 3
DECISION_ROWS = 3
DONE = {
    "convened": "会商已召集，参会人员已收到通知",
    "held": "会商纪要和决定已保存，决定负责人已收到交办通知",
    "decision": "决定已补充",
    "done": "已标记落实",
    "cancelled": "已撤销",
    "revised": "决定已调整，新的负责人已收到通知",
    "conference_cancelled": "会商已取消",
}


_text = web.posted


def _id(raw: str, field: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise Invalid.field(field, "请从列表中选择 (choose from the list)")
    return int(raw)


def _local_instant(day: str, time: str, field: str) -> dt.datetime:
    try:
        on = dt.date.fromisoformat(day)
        at = dt.time.fromisoformat(time or "09:00")
    except ValueError:
        raise Invalid.field(field, "请填写有效的日期和时间 (not a date and time)") from None
    return dt.datetime.combine(on, at, tzinfo=clock.DISTRICT_TZ)


def _decision(values: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """One decision row of a form (``owner`` "u:<account>" or "p:<party>"), None when it is left empty."""
    text = _text(values, f"{prefix}text")
    if not text:
        return None
    owner = _text(values, f"{prefix}owner")
    kind, _, raw = owner.partition(":")
    row: dict[str, Any] = {"text": text, "due_on": _text(values, f"{prefix}due_on") or None}
    if kind == "u":
        row["owner_user_id"] = _id(raw, f"{prefix}owner")
    elif kind == "p":
        row["owner_party_id"] = _id(raw, f"{prefix}owner")
        row["follow_up_by"] = _id(_text(values, f"{prefix}follow_up_by"), f"{prefix}follow_up_by")
    else:
        raise Invalid.field(f"{prefix}owner", "请选择决定的负责人 (choose an owner)")
    return row


# Field labels for the messages of a form a schema refused.
LABELS = {
    "topic": "会商议题",
    "scheduled_at": "日期",
    "place": "地点",
    "parties": "外部参会方",
    "minutes": "会商纪要",
    "text": "决定内容",
    "due_on": "完成期限",
    "note": "落实情况",
    "reason": "原因",
}
S = TypeVar("S")


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    """A posted form as the API's request schema, refused with a Chinese message naming the field."""
    return web.parse_form(schema, values, LABELS)


redirect = web.after_change


# The input of a decision row a refusal of its field names ("decisions[1].follow_up_by" → "d1_follow_up_by").
ROW_FIELD = re.compile(r"^decisions\[(\d+)\]\.(\w+)$")
ROW_INPUTS = {"owner_user_id": "owner", "owner_party_id": "owner", "owner": "owner"}


def _row_field(exc: Invalid) -> Invalid:
    field = str(exc.errors[0].get("field", "")) if exc.errors else ""
    found = ROW_FIELD.match(field)
    if not found:
        return exc
    row, sub = found.groups()
    return Invalid.field(f"d{row}_{ROW_INPUTS.get(sub, sub)}", exc.detail)


# ---------------------------------------------------------------- the list


async def _my_decisions(session: AsyncSession, principal: Principal) -> list[Any]:
    items, _ = await conferences.my_decisions(session, principal, limit=MINE, offset=0)
    return items


@get("/conferences", name="console-conferences")
async def conferences_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    overdue: Annotated[bool, QueryParameter()] = False,
    done: Annotated[str | None, QueryParameter(max_length=30)] = None,
) -> Response[str]:
    if status and status not in CONFERENCE_STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    found, total = await conferences.list_conferences(
        session, principal, status=status or None, overdue=overdue, limit=PAGE, offset=(page - 1) * PAGE
    )
    return web.render(
        "conferences.html",
        message=DONE.get(done or ""),
        rows=await conferences.present(session, principal, found),
        mine=await _my_decisions(session, principal),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "",
        overdue=overdue,
        statuses=CONFERENCE_STATUSES,
        today=clock.today(),
        **web.page_context(request, principal, "conferences"),
    )


# ---------------------------------------------------------------- convening


async def _convene_context(session: AsyncSession, principal: Principal, child: Child) -> dict[str, Any]:
    return {
        "child": child,
        "candidates": await conferences.candidates_for(session, principal, child.id),
        "party_kinds": PARTY_KINDS,
        "party_rows": range(PARTY_ROWS),
        "today": clock.today(),
    }


@get("/conferences/new", name="console-conference-new")
async def new_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child: Annotated[int, QueryParameter(ge=1, le=MAX_ID)],
) -> Response[str]:
    found = await cases.visible_child(session, principal, child)
    context = await _convene_context(session, principal, found)
    return web.render(
        "conference_new.html",
        posted={"participant_ids": [principal.user_id], "date": (clock.today() + dt.timedelta(days=2)).isoformat()},
        **context,
        **web.page_context(request, principal, "conferences"),
    )


@post("/children/{child_id:int}/conferences", name="console-conference-convene")
async def convene(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, child_id: PathId
) -> Response[str]:
    posted = await request.form()
    values = {k: v for k, v in posted.items() if isinstance(v, str)}
    invited = [str(v) for v in posted.getall("participant_ids", []) if isinstance(v, str)]
    shown = {**values, "participant_ids": [int(v) for v in invited if v.isdigit()]}
    try:
        parties = []
        for i in range(PARTY_ROWS):
            name, org = _text(values, f"party{i}_name"), _text(values, f"party{i}_organisation")
            if not name and not org:
                continue
            parties.append(
                {
                    "name": name,
                    "organisation": org,
                    "kind": _text(values, f"party{i}_kind") or "other",
                    "contact": _text(values, f"party{i}_contact"),
                }
            )
        data = parse(
            ConferenceIn,
            {
                "topic": _text(values, "topic"),
                "scheduled_at": _local_instant(_text(values, "date"), _text(values, "time"), "date").isoformat(),
                "place": _text(values, "place"),
                "participant_ids": [_id(v, "participant_ids") for v in invited],
                "parties": parties,
            },
        )
        c = await conferences.convene(session, principal, child_id, data)
    except FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            child = await cases.visible_child(session, principal, child_id)
            return await _convene_context(session, principal, child)

        return await web.render_form_error(
            request, session, exc, "conference_new.html", principal=principal, active="conferences",
            reads=reads, posted=shown,
        )  # fmt: skip
    return redirect(request, f"/admin/conferences/{c.id}?done=convened")


# ---------------------------------------------------------------- a conference's page


async def _page_context(session: AsyncSession, principal: Principal, conference_id: int) -> dict[str, Any]:
    c = await conferences.visible(session, principal, conference_id)
    (out,) = await conferences.present(session, principal, [c])
    manage = conferences.may_manage(principal, c.community_id, c.street_id)
    internal = [p for p in out.participants or [] if p.user_id is not None]
    parties = [p for p in out.participants or [] if p.user_id is None]
    return {
        "c": out,
        "manage": manage,
        "internal": internal,
        "parties": parties,
        "decision_rows": range(DECISION_ROWS),
        "today": clock.today(),
        "now_local": clock.local_now(),
    }


def _may_mark(principal: Principal, c: ConferenceOut, manage: bool, responsible_id: int) -> bool:
    return manage or responsible_id == principal.user_id


@get("/conferences/{conference_id:int}", name="console-conference")
async def conference_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    conference_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=30)] = None,
) -> Response[str]:
    context = await _page_context(session, principal, conference_id)
    return web.render(
        "conference.html",
        message=DONE.get(done or ""),
        may_mark=_may_mark,
        **context,
        **web.page_context(request, principal, "conferences"),
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    exc: Exception,
    conference_id: int,
    **posted: Any,
) -> Response[str]:
    return await web.render_form_error(
        request, session, exc, "conference.html", principal=principal, active="conferences",
        reads=lambda: _page_context(session, principal, conference_id), may_mark=_may_mark, posted=posted,
    )  # fmt: skip


@post("/conferences/{conference_id:int}/held", name="console-conference-held")
async def held(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    conference_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        c = await conferences.visible(session, principal, conference_id)
        (out,) = await conferences.present(session, principal, [c])
        attendance = [
            {"participant_id": p.id, "attended": form.get(f"attended_{p.id}") == "1"} for p in out.participants or []
        ]
        decisions = [d for i in range(DECISION_ROWS) if (d := _decision(form, f"d{i}_")) is not None]
        held_at = None
        if _text(form, "held_date"):
            held_at = _local_instant(_text(form, "held_date"), _text(form, "held_time"), "held_date").isoformat()
        data = parse(
            ConferenceHeldIn,
            {"minutes": _text(form, "minutes"), "held_at": held_at, "attendance": attendance, "decisions": decisions},
        )
        await conferences.hold(session, principal, conference_id, data)
    except Invalid as exc:
        return await _refused(request, session, principal, _row_field(exc), conference_id, **form)
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    return redirect(request, f"/admin/conferences/{conference_id}?done=held")


@post("/conferences/{conference_id:int}/decisions", name="console-conference-decision")
async def decide(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    conference_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        row = _decision(form, "n_")
        if row is None:
            raise Invalid.field("n_text", "请填写决定内容 (the decision's text is required)")
        await conferences.add_decision(session, principal, conference_id, parse(ConferenceDecisionIn, row))
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    return redirect(request, f"/admin/conferences/{conference_id}?done=decision#decisions")


@post("/conferences/{conference_id:int}/cancel", name="console-conference-cancel")
async def cancel(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    conference_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        await conferences.cancel(
            session, principal, conference_id, parse(ConferenceReasonIn, {"reason": _text(form, "reason")})
        )
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    return redirect(request, f"/admin/conferences/{conference_id}?done=conference_cancelled")


async def _conference_of_decision(session: AsyncSession, principal: Principal, decision_id: int) -> int:
    """The conference of a decision the caller may see (404 otherwise): where its form is shown again."""
    return await conferences.decision_conference(session, principal, decision_id)


@post("/conferences/decisions/{decision_id:int}/done", name="console-conference-decision-done")
async def mark_done(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    decision_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    conference_id = await _conference_of_decision(session, principal, decision_id)
    try:
        await conferences.mark_done(
            session,
            principal,
            decision_id,
            parse(ConferenceDecisionDoneIn, {"note": _text(form, f"note_{decision_id}")}),
        )
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    back = _text(form, "back")
    target = "/admin/conferences?done=done" if back == "list" else f"/admin/conferences/{conference_id}?done=done"
    return redirect(request, f"{target}#decision-{decision_id}")


@post("/conferences/decisions/{decision_id:int}/cancel", name="console-conference-decision-cancel")
async def cancel_decision(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    decision_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    conference_id = await _conference_of_decision(session, principal, decision_id)
    try:
        await conferences.cancel_decision(
            session,
            principal,
            decision_id,
            parse(ConferenceReasonIn, {"reason": _text(form, f"reason_{decision_id}")}),
        )
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    return redirect(request, f"/admin/conferences/{conference_id}?done=cancelled#decision-{decision_id}")


@post("/conferences/decisions/{decision_id:int}/revise", name="console-conference-decision-revise")
async def revise_decision(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    decision_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """A new due date and/or owner, with the reason (a revision row; the decision's history stays on the page)."""
    conference_id = await _conference_of_decision(session, principal, decision_id)
    try:
        row: dict[str, Any] = {
            "reason": _text(form, f"revise_reason_{decision_id}"),
            "due_on": _text(form, f"revise_due_on_{decision_id}") or None,
        }
        owner = _text(form, f"revise_owner_{decision_id}")
        if owner:
            kind, _, raw = owner.partition(":")
            if kind == "u":
                row["owner_user_id"] = _id(raw, "owner")
            elif kind == "p":
                row["owner_party_id"] = _id(raw, "owner")
                row["follow_up_by"] = _id(_text(form, f"revise_follow_up_by_{decision_id}"), "follow_up_by")
        await conferences.revise(session, principal, decision_id, parse(ConferenceDecisionReviseIn, row))
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, conference_id, **form)
    return redirect(request, f"/admin/conferences/{conference_id}?done=revised#decision-{decision_id}")


# ---------------------------------------------------------------- the child's page


async def child_section(session: AsyncSession, principal: Principal, child: Child) -> dict[str, Any]:
    """The child's conferences for ``_child_conferences.html`` (the list's reads and audit rows)."""
    found, total = await conferences.list_conferences(session, principal, child_id=child.id, limit=10, offset=0)
    return {
        "conferences": await conferences.present(session, principal, found),
        "conferences_total": total,
        "may_convene": child.status == "active"
        and conferences.may_manage(principal, child.community_id, child.street_id),
    }


ROUTES = [
    conferences_page,
    new_page,
    convene,
    conference_page,
    held,
    decide,
    cancel,
    mark_done,
    cancel_decision,
    revise_decision,
]
