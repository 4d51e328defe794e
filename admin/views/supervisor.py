"""The street supervisor's day: the street's board (overdue visits and referrals, the escalations that reached the
supervisor with the action each offers, warnings), the approvals waiting (allowance decisions to review with their
evidence, file transfers to approve or reject with a reason) and each community director's workload.

As everywhere in the console: the cases, eligibility, transfers, reports and referrals services with the session's
Principal, the same scope (a supervisor's street; another street's item is "not found") and audit rows as the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import func, select

from admin import web
from admin.views.children import parse, redirect
from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import eligibility, escalation, reports, transfers
from marketplace.cases import service as cases
from marketplace.cases.eligibility_schemas import ReviewIn
from marketplace.cases.escalation_schemas import AcknowledgeIn, ReassignIn, RemindIn
from marketplace.cases.models import Child, Escalation, MandatoryReport, Need
from marketplace.cases.taxonomy import RISK_LEVELS, SETTLED_NEED_STATUSES
from marketplace.cases.transfer_schemas import TransferDecisionIn
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.ids import PathId
from marketplace.referrals import deadlines
from marketplace.referrals import service as referrals
from marketplace.referrals.models import Referral
from marketplace.resources.taxonomy import CHILD_CATEGORIES
from marketplace.settings import Settings

PAGE = 100
OVERRIDES = 20
DONE = {
    "acknowledged": "已签收强制报告",
    "reviewed": "已审核通过，报区民政局审批",
    "returned": "已退回儿童主任",
    "approved": "已批准转档",
    "rejected": "已驳回转档",
    "noted": "已记录您的处理意见",
    "reminded": "已发出督办提醒",
    "reassigned": "已改派走访",
}
# The action the services offer on an escalation that reached the supervisor, by its kind.
ACTIONS = {"report_ack": "签收"}


def _supervisor(principal: Principal) -> int:
    principal.require("child_supervisor")
    assert principal.street_id is not None
    return principal.street_id


def _done(done: str | None) -> list[tuple[str, str]]:
    return [("ok", DONE[done])] if done in DONE else []


# ---------------------------------------------------------------- the street's board


@get("/street", name="console-street")
async def street_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    return await _board(request, session, principal, settings, done=done)


async def _board(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    settings: Settings,
    *,
    done: str | None = None,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    """The board; ``failed`` re-renders it with an action's error beside its escalation and the values posted."""
    street = _supervisor(principal)
    today, now = clock.today(), clock.now()
    # GET /visits/overdue: its scope and its audit rows.
    overdue, overdue_total = await cases.overdue_visits(session, principal, street_id=None, limit=PAGE, offset=0)
    visits = [
        {
            "id": c.id,
            "name": c.name,
            "risk": RISK_LEVELS.get(c.risk_level, c.risk_level),
            "risk_level": c.risk_level,
            "due": c.next_visit_due,
            "days": (today - c.next_visit_due).days,
        }
        for c in overdue
    ]
    # Referrals unanswered past their urgency's deadline (GET /referrals?status=sent, the deadlines' own rule).
    sent, _ = await referrals.list_referrals(
        session, principal, status="sent", organization_id=None, need_id=None, child_id=None, limit=PAGE, offset=0
    )
    urgency = await deadlines.urgencies(session, [r.need_id for r in sent])
    late = [r for r in sent if deadlines.is_overdue(r.status, r.sent_at, urgency[r.need_id], settings.deadlines, now)]
    names = await _names(session, [r.child_id for r in late])
    late_rows = [
        {
            "id": r.id,
            "child": names.get(r.child_id, ""),
            "sent_at": r.sent_at,
            "due": deadlines.response_due_at(r, urgency[r.need_id], settings.deadlines),
        }
        for r in late
    ]
    # GET /escalations: the open steps of the street (a resolved one has left), their actions and audit rows.
    escalations = await _escalations(session, principal, street)
    if late:
        await audit.record_read(session, principal, "list", "child", sorted({r.child_id for r in late}), ["name"])
    warnings = []
    high = [v for v in visits if v["risk_level"] in ("high", "critical")]
    if high:
        warnings.append(f"{len(high)} 名高风险儿童走访逾期")
    if late:
        warnings.append(f"{len(late)} 个转介超时未获机构答复")
    if any(e["sign"] for e in escalations):
        warnings.append("有强制报告待您签收")
    return web.render(
        "street.html",
        status_code=status_code,
        visits=visits,
        overdue_total=overdue_total,
        late=late_rows,
        escalations=escalations,
        directors=await escalation.street_directors(session, street),
        failed=failed or {},
        warnings=warnings,
        workload=await _workload(session, street),
        messages=_done(done),
        **web.page_context(request, principal, "street"),
    )


async def _names(session: DbSession, child_ids: list[int]) -> dict[int, str]:
    if not child_ids:
        return {}
    rows = await session.execute(select(Child.id, Child.name).where(Child.id.in_(set(child_ids))))
    return {cid: name for cid, name in rows.all()}


async def _escalations(session: DbSession, principal: Principal, street: int) -> list[dict[str, Any]]:
    """The open ladder steps at the supervisor's level or above for the street's children, newest first, with what
    was done about them and the actions the service still allows; a report's step also offers its signature while
    the supervisor has not signed it."""
    rows, _ = await escalation.list_escalations(session, principal, open_only=True, kind=None, limit=PAGE, offset=0)
    shown = await escalation.present(session, principal, rows)
    report_ids = [e.entity_id for e in shown if e.entity == "mandatory_report"]
    unsigned: set[int] = set()
    if report_ids:
        unsigned = set(
            (
                await session.scalars(
                    select(MandatoryReport.id).where(
                        MandatoryReport.id.in_(report_ids),
                        MandatoryReport.street_id == street,
                        MandatoryReport.supervisor_ack_at.is_(None),
                        MandatoryReport.status != "closed",
                    )
                )
            ).all()
        )
    out = []
    for e in shown:
        sign = ACTIONS.get(e.kind) if e.entity == "mandatory_report" and e.entity_id in unsigned else None
        if e.entity == "referral":
            href, link = f"/admin/referrals/{e.entity_id}/follow", f"转介 #{e.entity_id}"
        elif e.entity == "mandatory_report":
            href, link = "/admin/mandatory-reports", "强制报告"
        else:
            href, link = f"/admin/children/{e.child_id}", "儿童档案"
        out.append(
            {
                "id": e.id,
                "child_id": e.child_id,
                "child": e.child_name or "",
                "kind": e.kind_label,
                "level": e.level_label,
                "due": e.due_at,
                "at": e.created_at,
                "href": href,
                "link": link,
                "sign": sign,
                "allowed": e.allowed_actions,
                "actions": e.actions,
            }
        )
    return out


@post("/street/escalations/{escalation_id:int}/act", name="console-street-escalation-act")
async def act_on_escalation(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    escalation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """A report's step: the supervisor signs the report (POST /mandatory-reports/{id}/ack)."""
    street = _supervisor(principal)
    found = (
        await session.execute(
            select(Escalation)
            .join(Child, Child.id == Escalation.child_id)
            .where(Escalation.id == escalation_id, Child.street_id == street, Escalation.level >= 2)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"升级事项 {escalation_id} 不存在 (escalation not found)")
    if found.entity != "mandatory_report" or found.kind not in ACTIONS:
        raise Invalid.field("escalation", "此事项请在其页面处理 (act on it from its own page)")
    await reports.acknowledge(session, principal, found.entity_id)
    return redirect(request, "/admin/street?done=acknowledged")


async def _act(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    settings: Settings,
    escalation_id: int,
    action: str,
    form: dict[str, str],
) -> Response[str]:
    """One of the escalation service's actions (POST /escalations/{id}/{action}). A refusal: through htmx, the
    message in the flash area and the form as typed; a plain form, the board again with the message beside the
    escalation and the values posted (nothing changed: the request's transaction is rolled back)."""
    _supervisor(principal)
    try:
        if action == "acknowledge":
            if not form.get("note", "").strip():
                raise Invalid.field("note", "请写明后续安排 (say what happens next)")
            await escalation.acknowledge(
                session, principal, escalation_id, parse(AcknowledgeIn, {"note": form.get("note", "").strip()})
            )
        elif action == "remind":
            await escalation.remind(
                session, principal, escalation_id, parse(RemindIn, {"note": form.get("note", "").strip()})
            )
        else:
            director = form.get("director_id", "").strip()
            if not director.isdigit():
                raise Invalid.field("director_id", "请选择改派给哪位儿童主任 (choose a director)")
            if not form.get("note", "").strip():
                raise Invalid.field("note", "请写明改派原因 (say why)")
            await escalation.reassign(
                session,
                principal,
                escalation_id,
                parse(ReassignIn, {"director_id": int(director), "note": form.get("note", "").strip()}),
            )
    except (Invalid, Conflict) as exc:
        if web.is_htmx(request):
            raise
        await web.abandon(session)
        failed = {"id": escalation_id, "action": action, "message": exc.detail, "values": dict(form)}
        return await _board(request, session, principal, settings, failed=failed, status_code=exc.status_code)
    return redirect(request, f"/admin/street?done={DONE_ACTIONS[action]}#escalations")


DONE_ACTIONS = {"acknowledge": "noted", "remind": "reminded", "reassign": "reassigned"}


@post("/street/escalations/{escalation_id:int}/acknowledge", name="console-street-escalation-acknowledge")
async def acknowledge_escalation(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    escalation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _act(request, session, principal, settings, escalation_id, "acknowledge", form)


@post("/street/escalations/{escalation_id:int}/remind", name="console-street-escalation-remind")
async def remind_escalation(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    escalation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _act(request, session, principal, settings, escalation_id, "remind", form)


@post("/street/escalations/{escalation_id:int}/reassign", name="console-street-escalation-reassign")
async def reassign_escalation(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    escalation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _act(request, session, principal, settings, escalation_id, "reassign", form)


async def _workload(session: DbSession, street: int) -> list[dict[str, Any]]:
    """Per community of the street: its directors, active children, overdue visits, open needs and open referrals
    (counts only: no child is named)."""
    communities = (
        await session.execute(
            select(Community.id, Community.name).where(Community.street_id == street).order_by(Community.id)
        )
    ).all()
    ids = [cid for cid, _ in communities]
    if not ids:
        return []
    today = clock.today()
    children = dict(
        (
            await session.execute(
                select(Child.community_id, func.count())
                .where(Child.community_id.in_(ids), Child.status == "active")
                .group_by(Child.community_id)
            )
        ).all()
    )
    late = dict(
        (
            await session.execute(
                select(Child.community_id, func.count())
                .where(Child.community_id.in_(ids), Child.status == "active", Child.next_visit_due < today)
                .group_by(Child.community_id)
            )
        ).all()
    )
    needs = dict(
        (
            await session.execute(
                select(Need.community_id, func.count())
                .where(Need.community_id.in_(ids), Need.status.not_in(SETTLED_NEED_STATUSES))
                .group_by(Need.community_id)
            )
        ).all()
    )
    open_referrals = dict(
        (
            await session.execute(
                select(Referral.community_id, func.count())
                .where(Referral.community_id.in_(ids), Referral.status.in_(referrals.ACTIVE))
                .group_by(Referral.community_id)
            )
        ).all()
    )
    directors: dict[int | None, list[str]] = {}
    for cid, name in (
        await session.execute(
            select(User.community_id, User.display_name)
            .where(User.community_id.in_(ids), User.role == "child_director", User.is_active.is_(True))
            .order_by(User.id)
        )
    ).all():
        directors.setdefault(cid, []).append(name)
    return [
        {
            "community": name,
            "directors": "、".join(directors.get(cid, [])) or "（未配备）",
            "children": children.get(cid, 0),
            "overdue": late.get(cid, 0),
            "needs": needs.get(cid, 0),
            "referrals": open_referrals.get(cid, 0),
        }
        for cid, name in communities
    ]


# ---------------------------------------------------------------- approvals waiting


@get("/street/approvals", name="console-street-approvals")
async def approvals_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    _supervisor(principal)
    # GET /allowance-decisions?status=proposed and GET /child-transfers?status=pending: their scopes and audit rows.
    decisions, decisions_total = await eligibility.list_decisions(
        session, principal, status="proposed", child_id=None, limit=PAGE, offset=0
    )
    moves, moves_total = await transfers.list_transfers(session, principal, status="pending", limit=PAGE, offset=0)
    shown = await transfers.present(session, principal, moves)
    overrides = await _overrides(session, principal)
    return web.render(
        "street_approvals.html",
        decisions=[eligibility.decision_out(d, name) for d, name in decisions],
        decisions_total=decisions_total,
        transfers=[t for t in shown if "approve" in t.allowed_actions],
        transfers_total=moves_total,
        categories=CHILD_CATEGORIES,
        overrides=overrides,
        messages=_done(done),
        **web.page_context(request, principal, "approvals"),
    )


async def _overrides(session: DbSession, principal: Principal) -> list[dict[str, Any]]:
    """Referrals of the street sent without the guardian's consent on a supervisor's override (the referrals
    service's own step: a supervisor sends it with the reason; there is no separate approval), newest first."""
    rows = (
        await session.execute(
            select(Referral, Child.name)
            .join(Child, Child.id == Referral.child_id)
            .where(Referral.street_id == principal.street_id, Referral.consent_override_reason.is_not(None))
            .order_by(Referral.id.desc())
            .limit(OVERRIDES)
        )
    ).all()
    if rows:
        await audit.record_read(session, principal, "list", "child", sorted({r.child_id for r, _ in rows}), ["name"])
    return [
        {"id": r.id, "child": name, "reason": r.consent_override_reason, "sent_at": r.sent_at, "status": r.status}
        for r, name in rows
    ]


@post("/street/allowance-decisions/{decision_id:int}/review", name="console-street-review")
async def review_decision(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    decision_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Accept (pass on to the district) or return it to the director with a note (POST .../review)."""
    choice = form.get("decision", "")
    if choice not in ("accept", "return"):
        raise Invalid.field("decision", "请选择通过或退回 (accept or return)")
    note = form.get("note", "").strip()
    if choice == "return" and not note:
        raise Invalid.field("note", "退回时请写明原因 (say why it is returned)")
    data = parse(ReviewIn, {"approve": choice == "accept", "note": note})
    await eligibility.review(session, principal, decision_id, data)
    return redirect(request, f"/admin/street/approvals?done={'reviewed' if data.approve else 'returned'}")


async def _decide_transfer(
    request: Request[Any, Any, Any], session: DbSession, principal: Principal, transfer_id: int, action: str, note: str
) -> Response[str]:
    """Approve or reject a file transfer out of a community of the street (POST /child-transfers/{id}/...)."""
    note = note.strip()
    if action == "reject" and not note:
        raise Invalid.field("note", "驳回时请写明原因 (say why it is rejected)")
    data = parse(TransferDecisionIn, {"note": note})
    await transfers.decide(session, principal, transfer_id, action, note=data.note)
    return redirect(request, f"/admin/street/approvals?done={'approved' if action == 'approve' else 'rejected'}")


@post("/street/transfers/{transfer_id:int}/approve", name="console-street-transfer-approve")
async def approve_transfer(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    transfer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _decide_transfer(request, session, principal, transfer_id, "approve", form.get("note", ""))


@post("/street/transfers/{transfer_id:int}/reject", name="console-street-transfer-reject")
async def reject_transfer(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    transfer_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _decide_transfer(request, session, principal, transfer_id, "reject", form.get("note", ""))


ROUTES = [
    street_page,
    act_on_escalation,
    acknowledge_escalation,
    remind_escalation,
    reassign_escalation,
    approvals_page,
    review_decision,
    approve_transfer,
    reject_transfer,
]
