"""The public-welfare fund for its manager (and read-only for the district and auditors): donations,
reconciliation runs with their differences, and resolving a difference with a note."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace.auth.principal import Principal
from marketplace.errors import Invalid
from marketplace.funds import donations, reconciling
from marketplace.funds import service as funds
from marketplace.funds.models import Reconciliation, ReconciliationDifference

PAGE = 50
DIFFERENCE_KINDS = {
    "missing_here": "平台无记录",
    "missing_there": "渠道无记录",
    "amount_differs": "金额不符",
    "status_differs": "状态不符",
}


def _difference_row(recon: Reconciliation, diff: ReconciliationDifference, may_resolve: bool) -> dict[str, Any]:
    return {
        "recon_id": recon.id,
        "n": diff.n,
        "kind": DIFFERENCE_KINDS.get(diff.kind, diff.kind),
        "donation_id": diff.donation_id,
        "external_id": diff.external_id or "",
        "expected_fen": diff.expected_fen,
        "actual_fen": diff.actual_fen,
        "expected_status": diff.expected_status or "",
        "actual_status": diff.actual_status or "",
        "resolved_at": diff.resolved_at,
        "resolution_note": diff.resolution_note,
        "may_resolve": may_resolve and diff.resolved_at is None,
    }


def _may_write(principal: Principal) -> bool:
    # The fund's own rule decides who may change it; the page only hides forms it would refuse.
    return principal.role in funds.WRITERS


@get("/funds", name="console-funds")
async def funds_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    page: int = Parameter(query="page", default=1, ge=1, le=10_000),
) -> Response[str]:
    rows, total = await donations.list_donations(
        session, principal, status=None, fund_id=None, limit=PAGE, offset=(page - 1) * PAGE
    )
    runs = await reconciling.list_for_fund(session, principal, None)
    may = _may_write(principal)
    return web.render(
        "funds.html",
        donations=[
            {
                "id": d.id,
                "donor": d.donor.name,
                "amount_fen": d.amount_fen,
                "refunded_fen": d.refunded_fen,
                "channel": d.channel,
                "status": donations.DONATION_STATUSES.get(d.status, d.status),
                "purpose": d.purpose,
                "received_on": d.received_on,
                "receipt_no": d.receipt_no or "",
            }
            for d in rows
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        runs=[
            {
                "id": r.id,
                "source": r.source,
                "since": r.since,
                "until": r.until,
                "matched": r.matched,
                "ours": r.ours_count,
                "theirs": r.theirs_count,
                "open": sum(1 for d in r.differences if d.resolved_at is None),
                "differences": [_difference_row(r, d, may) for d in r.differences],
            }
            for r in runs
        ],
        **web.page_context(request, principal, "funds"),
    )


@post("/funds/reconciliations/{recon_id:int}/differences/{n:int}/resolve", name="console-fund-resolve")
async def resolve_difference(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    recon_id: int,
    n: int,
    form: dict[str, str],
) -> Response[str]:
    note = form.get("note", "")
    if len(note) > 1000:
        raise Invalid.field("note", "说明不超过1000字 (note too long)")
    recon = await reconciling.resolve(session, principal, recon_id, n, note)
    diff = next(d for d in recon.differences if d.n == n)
    if not web.is_htmx(request):
        return Response(content="", status_code=303, headers={"location": "/admin/funds", **web.SECURITY_HEADERS})
    return web.render(
        "_difference_row.html",
        d=_difference_row(recon, diff, _may_write(principal)),
        csrf=web.console_session(request).csrf,
        flash=f"对账 {recon_id} 第 {n} 条差异已处理",
    )


ROUTES = [funds_page, resolve_difference]
