"""The referral board: a supervisor's street, a director's own community, the district; and for a provider's
staff, the referrals sent to their organization with accept and decline.

Everything goes through the referrals service: its scope decides what a role sees, its presenter decides which of
the child's fields a role gets (the minimal form for providers) and writes the audit rows, its state machine
decides who may accept or decline. The board only adds what needs chasing:

- sent and not answered within its need's urgency's accept deadline (``settings.deadlines.accept_hours``);
- accepted and not started within its first-contact deadline (``settings.deadlines.first_contact_hours``);
- escalated by the ladder job and not yet in service (the step reached is shown);
- in service with no delivery log for ``STALE_SERVICE_DAYS`` (counted from the last log, or the start).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.taxonomy import GENDERS, RISK_LEVELS, VERDICTS
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.ids import PathId
from marketplace.referrals import service as referrals
from marketplace.referrals.models import ReferralLog
from marketplace.referrals.schemas import ReferralOut, VerdictIn
from marketplace.referrals.taxonomy import REFERRAL_STATUSES
from marketplace.settings import Settings

PAGE = 50
# How long a referral may stay in service without a delivery log before the board flags it.
STALE_SERVICE_DAYS = 14
# The attention list reads open referrals in batches, up to a cap per status far above a district's caseload.
ATTENTION_BATCH = 500
ATTENTION_CAP = 5000
# Who answers or closes referrals on the board: a provider's staff (accept, decline), the caseworkers (close).
ACTING_ROLES = frozenset({"org_staff", "child_director", "child_supervisor"})
TITLES = {
    "child_supervisor": "本街道转介看板",
    "child_director": "本社区转介",
    "org_staff": "本机构收到的转介",
    "district_admin": "全区转介看板",
    "auditor": "全区转介看板",
}


async def _last_logs(session: AsyncSession, ids: Sequence[int]) -> dict[int, dt.date]:
    """The latest delivery date per referral, for referrals the service has already shown to this caller."""
    if not ids:
        return {}
    rows = await session.execute(
        select(ReferralLog.referral_id, func.max(ReferralLog.delivered_on))
        .where(ReferralLog.referral_id.in_(ids))
        .group_by(ReferralLog.referral_id)
    )
    return {int(rid): day for rid, day in rows.all()}


def _flags(r: ReferralOut, last_log: dt.date | None, now: dt.datetime, today: dt.date) -> list[str]:
    flags: list[str] = []
    if r.status == "sent" and now > r.response_due_at:
        hours = int((now - r.sent_at).total_seconds() // 3600)
        flags.append(f"超时未答复（已 {hours} 小时）")
    if r.status == "accepted" and r.contact_due_at is not None and now > r.contact_due_at and r.accepted_at:
        hours = int((now - r.accepted_at).total_seconds() // 3600)
        flags.append(f"接收后超时未开始服务（已 {hours} 小时）")
    if r.escalated_at is not None and r.status in ("sent", "accepted"):
        flags.append(f"已升级督办（{r.escalation_label}）" if r.escalation_label else "已升级督办")
    if r.status == "in_service":
        since = last_log or (clock.local_date(r.started_at) if r.started_at else None)
        if since is not None and (today - since).days > STALE_SERVICE_DAYS:
            what = "无服务记录" if last_log is None else "未更新服务记录"
            flags.append(f"{(today - since).days} 天{what}")
    return flags


def row_of(r: ReferralOut, last_log: dt.date | None, section: str, now: dt.datetime, today: dt.date) -> dict[str, Any]:
    child = r.child
    return {
        "id": r.id,
        "section": section,
        "status": r.status,
        "status_label": r.status_label,
        "category": r.need.category_label,
        "urgency": r.need.urgency,
        # Providers get the minimal child: surname initial, age, gender, community (no id, no name, no risk).
        "child_id": child.id,
        "child": child.name if child.name is not None else (child.surname_initial or ""),
        "age": child.age,
        "gender": GENDERS.get(child.gender, child.gender),
        "community": child.community_name,
        "risk": RISK_LEVELS.get(child.risk_level, child.risk_level) if child.risk_level else None,
        "risk_level": child.risk_level,
        "service": r.service_title,
        "organization": r.organization_name,
        "share_note": r.share_note,
        "sent_at": r.sent_at,
        "response_due_at": r.response_due_at,
        "contact_due_at": r.contact_due_at,
        "last_log": last_log,
        "flags": _flags(r, last_log, now, today),
        "may_accept": "accept" in r.allowed_transitions,
        "may_decline": "decline" in r.allowed_transitions,
        # The provider's proposed outcome, and the caseworker's verdict that closes the loop.
        "outcome_label": r.outcome_label,
        "verdict": r.verdict,
        "verdict_label": r.verdict_label,
        "need_status_label": r.need_status_label,
        "may_close": "close" in r.allowed_transitions,
    }


async def rows_for(
    session: AsyncSession, principal: Principal, settings: Settings, found: Sequence[Any], section: str
) -> list[dict[str, Any]]:
    shown = await referrals.present(session, principal, settings, found, action="list")
    logs = await _last_logs(session, [r.id for r in shown if r.status == "in_service"])
    now, today = clock.now(), clock.today()
    return [row_of(r, logs.get(r.id), section, now, today) for r in shown]


# Showing a referral shows the child: the presenter's audit rows are committed (by the app's audit writer) before the
# page is sent.
@get("/referrals", name="console-referrals")
async def referrals_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    if status and status not in REFERRAL_STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    # What needs chasing: every open referral in scope that is late (the service applies the caller's scope).
    attention: list[dict[str, Any]] = []
    for open_status in ("sent", "in_service", "accepted"):
        # The service lists newest first and the late ones are the oldest: read every open one, a batch at a time.
        offset, total_open = 0, 1
        while offset < min(total_open, ATTENTION_CAP):
            found, total_open = await referrals.list_referrals(
                session,
                principal,
                status=open_status,
                organization_id=None,
                need_id=None,
                child_id=None,
                limit=ATTENTION_BATCH,
                offset=offset,
            )
            offset += ATTENTION_BATCH
            rows_found = await rows_for(session, principal, settings, found, "attention")
            attention += [row for row in rows_found if row["flags"]]
            if not found:
                break
    attention.sort(key=lambda row: (row["sent_at"], row["id"]))
    found, total = await referrals.list_referrals(
        session,
        principal,
        status=status or None,
        organization_id=None,
        need_id=None,
        child_id=None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    rows = await rows_for(session, principal, settings, found, "all")
    return web.render(
        "referrals.html",
        title=TITLES.get(principal.role, "转介看板"),
        attention=attention,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "",
        statuses=REFERRAL_STATUSES,
        sla_hours="、".join(
            f"紧急程度{u}：{h}" for u, h in sorted(settings.deadlines.accept_hours.items(), reverse=True)
        ),
        stale_days=STALE_SERVICE_DAYS,
        minimal=principal.role == "org_staff",
        actions=principal.role in ACTING_ROLES,
        verdicts=VERDICTS,
        **web.page_context(request, principal, "referrals"),
    )


async def _answer(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    referral_id: int,
    form: dict[str, str],
    name: str,
) -> Response[str]:
    reason = form.get("reason", "").strip()
    verdict = _verdict(form) if name == "close" else None
    if name == "decline":
        if not reason:
            raise Invalid.field("reason", "请填写拒绝理由 (a reason is required)")
        if len(reason) > 1000:
            raise Invalid.field("reason", "理由不超过1000字 (reason too long)")
    r = await referrals.transition(session, principal, referral_id, name, reason=reason, verdict=verdict)
    if not web.is_htmx(request):
        return Response(content="", status_code=303, headers={"location": "/admin/referrals", **web.SECURITY_HEADERS})
    section = form.get("section", "all") if form.get("section") in ("all", "attention") else "all"
    (row,) = await rows_for(session, principal, settings, [r], section)
    # The same referral may sit in both lists: update the other one too, or drop it from "needs chasing".
    other = {**row, "section": "all" if section == "attention" else "attention"}
    done = {"accept": "已接收", "decline": "已拒绝", "close": f"已结案：{row['verdict_label']}"}[name]
    return web.render(
        "_referral_answer.html",
        r=row,
        other=other if other["section"] == "all" or other["flags"] else None,
        minimal=principal.role == "org_staff",
        actions=principal.role in ACTING_ROLES,
        verdicts=VERDICTS,
        csrf=web.csrf_token(request),
        flash=f"转介 {r.id} {done}",
    )


def _verdict(form: dict[str, str]) -> VerdictIn:
    verdict = form.get("verdict", "")
    if verdict not in VERDICTS:
        raise Invalid.field("verdict", "请选择回访结论 (choose the verdict)")
    note = form.get("note", "").strip()
    if len(note) > 2000:
        raise Invalid.field("note", "说明不超过2000字 (note too long)")
    reopen = form.get("reopen_need", "") in ("1", "on", "true")
    return VerdictIn(verdict=verdict, note=note, reopen_need=reopen)  # type: ignore[arg-type]


@post("/referrals/{referral_id:int}/accept", name="console-referral-accept")
async def accept_referral(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    referral_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _answer(request, session, principal, settings, referral_id, form, "accept")


@post("/referrals/{referral_id:int}/decline", name="console-referral-decline")
async def decline_referral(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    referral_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _answer(request, session, principal, settings, referral_id, form, "decline")


@post("/referrals/{referral_id:int}/close", name="console-referral-close")
async def close_referral(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    referral_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """The child's director or the street's supervisor closes a completed referral with the verdict."""
    return await _answer(request, session, principal, settings, referral_id, form, "close")


ROUTES = [referrals_page, accept_referral, decline_referral, close_referral]
