"""Budgets and contracts for the procurement officer (read-only for the district, auditors and, budgets only,
the fund manager): per-line money, contracts with their milestones and payments, and accepting a milestone."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post

from admin import web
from admin.views import procurement_work
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import DomainError, Forbidden, Invalid
from marketplace.ids import PathId
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import contracts, evidence, preview
from marketplace.procurement import service as procurement
from marketplace.procurement.models import Contract, Milestone
from marketplace.procurement.rules import METHODS
from marketplace.procurement.schemas import AcceptIn

PAGE = 100
MILESTONE_STATUSES = {"pending": "待验收", "accepted": "已验收"}


def _milestone_row(contract: Contract, m: Milestone, paid_fen: int, may_accept: bool) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "id": m.id,
        "seq": m.seq,
        "name": m.name,
        "kind": contracts.MILESTONE_KINDS.get(m.kind, m.kind),
        "due_on": m.due_on,
        "overdue": m.status != "accepted" and m.due_on < clock.today(),
        "amount_fen": m.amount_fen,
        "paid_fen": paid_fen,
        "status": m.status,
        "status_label": MILESTONE_STATUSES.get(m.status, m.status),
        "accepted_on": m.accepted_on,
        "note": m.acceptance_note,
        "may_accept": may_accept and m.status != "accepted" and contract.status == "active",
    }


def _may_write(principal: Principal) -> bool:
    # Hides forms the service would refuse; the service still checks every action itself.
    return principal.role in procurement.WRITERS


@get("/procurement", name="console-procurement")
async def procurement_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser
) -> Response[str]:
    budgets, _ = await procurement.list_budgets(session, principal, fiscal_year=None, limit=PAGE, offset=0)
    lines = [line for b in budgets for line in b.lines]
    figures = await ledger_side.figures(session, lines)
    try:
        found, _ = await contracts.list_contracts(
            session, principal, organization_id=None, status=None, limit=PAGE, offset=0
        )
    except Forbidden:
        # The fund manager may read budgets (to see what the fund complements) but not contracts.
        found = None
    money = await contracts.money(session, found or [])
    may = _may_write(principal)
    contract_rows = []
    for c in found or []:
        state = money[c.id]
        contract_rows.append(
            {
                "id": c.id,
                "title": c.title,
                "status": contracts.CONTRACT_STATUSES.get(c.status, c.status),
                "starts_on": c.starts_on,
                "ends_on": c.ends_on,
                "amount_fen": state.amount_fen,
                "paid_fen": state.paid_fen,
                "remaining_fen": state.remaining_fen,
                "milestones": [_milestone_row(c, m, state.paid_by_milestone.get(m.id, 0), may) for m in c.milestones],
                "payments": await contracts.payments_of(session, c.id),
            }
        )
    try:
        found_procurements, _ = await procurement.list_procurements(
            session, principal, status=None, budget_line_id=None, fiscal_year=None, limit=PAGE, offset=0
        )
    except Forbidden:
        found_procurements = None
    labels: dict[int, str] = {}
    for p in found_procurements or []:
        if p.budget_line_id not in labels:
            found_label = await preview.line_label(session, principal, p.budget_line_id)
            labels[p.budget_line_id] = found_label[1] if found_label else ""
    return web.render(
        "procurement.html",
        procurements=None
        if found_procurements is None
        else [
            {
                "id": p.id,
                "title": p.title,
                "method": METHODS.get(p.method, p.method),
                "estimated_fen": p.estimated_fen,
                "status": procurement.PROCUREMENT_STATUSES.get(p.status, p.status),
                "line": labels.get(p.budget_line_id, ""),
                "publicity_ends_on": p.publicity_ends_on,
            }
            for p in found_procurements
        ],
        may_write=may,
        budgets=[
            {
                "id": b.id,
                "name": b.name,
                "fiscal_year": b.fiscal_year,
                "total_fen": b.total_fen,
                "lines": [{"id": x.id, "code": x.code, "name": x.name, "f": figures[x.id]} for x in b.lines],
            }
            for b in budgets
        ],
        contracts=contract_rows if found is not None else None,
        **web.page_context(request, principal, "procurement"),
    )


def _accept_input(form: dict[str, str], uploaded: list[dict[str, Any]]) -> AcceptIn:
    named = form.get("evidence", "").strip()
    documents = [{"name": e["name"], "url": e.get("url", "")} for e in uploaded]
    if named:
        documents.append({"name": named})
    if not documents:
        raise Invalid.field("evidence", "请上传或填写验收证明材料 (evidence is required)")
    raw: dict[str, Any] = {
        "evidence": documents,
        "note": form.get("note", "").strip(),
        "shortfall_reason": form.get("shortfall_reason", "").strip(),
    }
    if form.get("accepted_on", "").strip():
        raw["accepted_on"] = form["accepted_on"].strip()
    try:
        return msgspec.convert(raw, AcceptIn, strict=False)
    except msgspec.ValidationError as exc:
        raise Invalid(f"验收信息有误：{exc} (invalid acceptance)") from exc


@post("/procurement/contracts/{contract_id:int}/milestones/{milestone_id:int}/accept", name="console-milestone-accept")
async def accept_milestone(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    contract_id: PathId,
    milestone_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    back = form.get("back") == "contract"
    try:
        current = await contracts.read_contract(session, principal, contract_id)
        uploaded = [evidence.files_of(m) for m in current.milestones if m.id == milestone_id]
        data = _accept_input(form, uploaded[0] if uploaded else [])
        contract = await contracts.accept_milestone(session, principal, contract_id, milestone_id, data)
    except DomainError as exc:
        if not back:
            raise
        return await procurement_work.refused(request, session, exc, f"#accept-errors-{milestone_id}")
    if back:
        return procurement_work.redirect(
            request, f"/admin/procurement/contracts/{contract_id}?done=accepted#milestone-{milestone_id}"
        )
    if not web.is_htmx(request):
        return Response(content="", status_code=303, headers={"location": "/admin/procurement", **web.SECURITY_HEADERS})
    state = await contracts.contract_money(session, contract)
    m = next(x for x in contract.milestones if x.id == milestone_id)
    return web.render(
        "_milestone_row.html",
        m=_milestone_row(contract, m, state.paid_by_milestone.get(m.id, 0), _may_write(principal)),
        csrf=web.csrf_token(request),
        flash=f"合同 {contract.id} 节点“{m.name}”已验收",
    )


# The officer's forms and pages live beside this overview (admin/views/procurement_work.py).
ROUTES = [procurement_page, accept_milestone, *procurement_work.ROUTES]
