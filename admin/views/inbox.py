"""A provider's referral inbox (转介收件箱): the referrals sent to the organization, by what they wait for.

New ones are answered (accept, with the service's places left this month in view, or decline with a reason);
accepted ones are started; in service, the staff log each delivery and complete with the outcome they propose;
completed ones wait for the caseworker's follow-up visit and verdict. Every step is the referrals service's own
transition with the caller's scope (another organization's referral is not found), and every referral shown goes
through its presenter, which writes the same audit rows as the API (the minimal child only; the shared contact
fields while the organization holds the referral).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views.services import own_organization
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.taxonomy import GENDERS
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.ids import PathId
from marketplace.referrals import service as referrals
from marketplace.referrals.schemas import LogIn, OutcomeIn, ReferralOut
from marketplace.referrals.taxonomy import OUTCOMES
from marketplace.resources.readmodel import service_rows
from marketplace.settings import Settings

BASE = "/admin/referrals/inbox"
# Open referrals a provider holds at once are far fewer than this; the page reads each status up to it.
LIMIT = 200
# Finished ones (declined, closed, revoked) shown for reference, newest first.
RECENT = 20
SECTIONS = {
    "sent": "待答复",
    "accepted": "已接收，待开始服务",
    "in_service": "服务中",
    "completed": "服务完成，待儿童主任回访结案",
}
FINISHED = ("declined", "closed", "revoked")
ACTIONS = {
    "accept": "已接收",
    "decline": "已拒绝",
    "start": "已开始服务",
    "complete": "已记录服务完成",
    "log": "已记录服务",
}
SHOWN_LOGS = 3


async def _found(session: AsyncSession, principal: Principal, status: str, limit: int) -> list[Any]:
    rows, _ = await referrals.list_referrals(
        session, principal, status=status, organization_id=None, need_id=None, child_id=None, limit=limit, offset=0
    )
    return list(rows)


def _card(
    r: ReferralOut, capacity: dict[int, tuple[int, int]], logs: dict[int, tuple[int, list[Any]]]
) -> dict[str, Any]:
    left, per_month = capacity.get(r.service_id, (0, 0))
    total_logs, last_logs = logs.get(r.id, (0, []))
    child = r.child
    return {
        "id": r.id,
        "status": r.status,
        "status_label": r.status_label,
        "child": f"{child.surname_initial or ''} · {GENDERS.get(child.gender, child.gender)} · {child.age} 岁",
        "community": child.community_name,
        "category": r.need.category_label,
        "urgency": r.need.urgency,
        "share_note": r.share_note,
        "service_id": r.service_id,
        "service": r.service_title,
        "capacity_left": left,
        "capacity": per_month,
        "sent_at": r.sent_at,
        "response_due_at": r.response_due_at,
        "late": r.status == "sent" and clock.now() > r.response_due_at,
        "contact_due_at": r.contact_due_at,
        "contact": r.contact,
        "plan_director": (r.plan.get("community") or {}).get("director") if isinstance(r.plan, dict) else None,
        "accepted_at": r.accepted_at,
        "started_at": r.started_at,
        "completed_at": r.completed_at,
        "outcome_label": r.outcome_label,
        "outcome_note": r.outcome_note,
        "decline_reason": r.decline_reason,
        "verdict_label": r.verdict_label,
        "allowed": r.allowed_transitions,
        "logs_total": total_logs,
        "logs": last_logs,
        "may_log": r.status in ("in_service", "completed"),
    }


async def inbox_context(session: AsyncSession, principal: Principal, settings: Settings) -> dict[str, Any]:
    found: dict[str, list[Any]] = {status: await _found(session, principal, status, LIMIT) for status in SECTIONS}
    finished = sorted(
        [r for status in FINISHED for r in await _found(session, principal, status, RECENT)],
        key=lambda r: r.id,
        reverse=True,
    )[:RECENT]
    everything = [r for rows in found.values() for r in rows] + finished
    shown = await referrals.present(session, principal, settings, everything, action="list")
    # The places left this month on each service the referrals ask for: what an acceptance would take.
    rows = await service_rows(session, sorted({r.service_id for r in shown}))
    capacity = {s.id: (s.capacity_left, s.capacity_per_month) for s in rows}
    logs: dict[int, tuple[int, list[Any]]] = {}
    for r in shown:
        if r.status in ("in_service", "completed"):
            items, total = await referrals.list_logs(session, principal, r.id, limit=SHOWN_LOGS, offset=0)
            logs[r.id] = (total, list(items))
    cards = [_card(r, capacity, logs) for r in shown]
    sections = [(status, label, [c for c in cards if c["status"] == status]) for status, label in SECTIONS.items()]
    return {
        "sections": sections,
        "finished": [c for c in cards if c["status"] in FINISHED],
        "outcomes": OUTCOMES,
        "today": clock.today(),
        "waiting": len(found["sent"]),
    }


@get("/referrals/inbox", name="console-referral-inbox")
async def inbox_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    own_organization(principal)
    return web.render(
        "inbox.html",
        **(await inbox_context(session, principal, settings)),
        **web.page_context(request, principal, "inbox"),
    )


def _reason(form: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise Invalid.field("reason", "请填写拒绝理由 (a reason is required)")
    if len(reason) > 1000:
        raise Invalid.field("reason", "理由不超过1000字 (reason too long)")
    return reason


def _outcome(form: dict[str, str]) -> OutcomeIn:
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise Invalid.field("outcome", "请选择服务结果 (choose the outcome)")
    note = form.get("note", "").strip()
    if len(note) > 2000:
        raise Invalid.field("note", "说明不超过2000字 (note too long)")
    return OutcomeIn(outcome=outcome, note=note)  # type: ignore[arg-type]


def _log(form: dict[str, str]) -> LogIn:
    try:
        day = dt.date.fromisoformat(form.get("delivered_on", "").strip())
    except ValueError:
        raise Invalid.field("delivered_on", "请填写服务日期 (date required, YYYY-MM-DD)") from None
    minutes_text = form.get("minutes", "").strip() or "0"
    if not minutes_text.isdigit() or int(minutes_text) > 24 * 60:
        raise Invalid.field("minutes", "服务时长为0–1440分钟 (minutes between 0 and 1440)")
    note = form.get("note", "").strip()
    if not note:
        raise Invalid.field("note", "请填写服务内容 (what was delivered)")
    if len(note) > 5000:
        raise Invalid.field("note", "服务内容不超过5000字 (note too long)")
    return LogIn(delivered_on=day, note=note, minutes=int(minutes_text))


async def _act(
    session: AsyncSession, principal: Principal, referral_id: int, action: str, form: dict[str, str]
) -> None:
    if action == "log":
        await referrals.add_log(session, principal, referral_id, _log(form))
    elif action == "decline":
        await referrals.transition(session, principal, referral_id, "decline", reason=_reason(form))
    elif action == "complete":
        await referrals.transition(session, principal, referral_id, "complete", outcome=_outcome(form))
    else:
        await referrals.transition(session, principal, referral_id, action)


@post("/referrals/inbox/{referral_id:int}/{action:str}", name="console-referral-inbox-action")
async def inbox_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    referral_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    own_organization(principal)
    if action not in ACTIONS:
        raise Invalid.field("action", "未知操作 (unknown action)")
    # A refusal (no places left, a bad date, a missing reason) is the problem message in the flash area; the
    # request's transaction is rolled back, so nothing changes.
    await _act(session, principal, referral_id, action, form)
    if not web.is_htmx(request):
        return Response(content="", status_code=303, headers={"location": BASE, **web.SECURITY_HEADERS})
    return web.render(
        "_inbox.html",
        csrf=web.csrf_token(request),
        flash=f"转介 #{referral_id} {ACTIONS[action]}",
        **(await inbox_context(session, principal, settings)),
    )


ROUTES = [inbox_page, inbox_action]
