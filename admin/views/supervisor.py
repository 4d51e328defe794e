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
from marketplace.cases import eligibility, reports, transfers
from marketplace.cases import service as cases
from marketplace.cases.eligibility_schemas import ReviewIn
from marketplace.cases.models import Child, Escalation, MandatoryReport, Need
from marketplace.cases.taxonomy import ESCALATION_KINDS, ESCALATION_LEVELS, RISK_LEVELS, SETTLED_NEED_STATUSES
from marketplace.cases.transfer_schemas import TransferDecisionIn
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.ids import PathId
from marketplace.referrals import deadlines
from marketplace.referrals import service as referrals
from marketplace.referrals.models import Referral
from marketplace.resources.taxonomy import CHILD_CATEGORIES

PAGE = 100
OVERRIDES = 20
DONE = {
    "acknowledged": "已签收强制报告",
    "reviewed": "已审核通过，报区民政局审批",
    "returned": "已退回儿童主任",
    "approved": "已批准转档",
    "rejected": "已驳回转档",
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
    escalations = await _escalations(session, street)
    child_ids = sorted({c.id for c in overdue} | {r.child_id for r in late} | {e["child_id"] for e in escalations})
    if late or escalations:
        await audit.record_read(session, principal, "list", "child", child_ids, ["name"])
    warnings = []
    high = [v for v in visits if v["risk_level"] in ("high", "critical")]
    if high:
        warnings.append(f"{len(high)} 名高风险儿童走访逾期")
    if late:
        warnings.append(f"{len(late)} 个转介超时未获机构答复")
    if any(e["action"] for e in escalations):
        warnings.append("有强制报告待您签收")
    return web.render(
        "street.html",
        visits=visits,
        overdue_total=overdue_total,
        late=late_rows,
        escalations=escalations,
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


async def _escalations(session: DbSession, street: int) -> list[dict[str, Any]]:
    """The ladder's steps at the supervisor's level or above for the street's children, newest first; a report's
    step offers the acknowledgement while the supervisor has not signed it."""
    rows = (
        await session.execute(
            select(Escalation, Child.name)
            .join(Child, Child.id == Escalation.child_id)
            .where(Child.street_id == street, Escalation.level >= 2)
            .order_by(Escalation.created_at.desc(), Escalation.id.desc())
            .limit(PAGE)
        )
    ).all()
    report_ids = [e.entity_id for e, _ in rows if e.entity == "mandatory_report"]
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
    for e, name in rows:
        action = ACTIONS.get(e.kind) if e.entity == "mandatory_report" and e.entity_id in unsigned else None
        if e.entity == "referral":
            href = f"/admin/referrals/{e.entity_id}/follow"
        elif e.entity == "mandatory_report":
            href = "/admin/mandatory-reports"
        else:
            href = f"/admin/cases?child={e.child_id}"
        out.append(
            {
                "id": e.id,
                "child_id": e.child_id,
                "child": name,
                "kind": ESCALATION_KINDS.get(e.kind, e.kind),
                "level": ESCALATION_LEVELS.get(e.level, ""),
                "due": e.due_at,
                "at": e.created_at,
                "href": href,
                "action": action,
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
    """The action the services offer for this step: a report's acknowledgement (POST /mandatory-reports/{id}/ack)."""
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


ROUTES = [street_page, act_on_escalation, approvals_page, review_decision, approve_transfer, reject_transfer]
