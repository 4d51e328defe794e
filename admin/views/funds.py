"""The public-welfare fund for its manager (and read-only for the district and auditors): donations filtered by
status and channel, reconciliation runs started from the console (a bank statement in GBK or UTF-8, read with a
saved bank layout) with their differences, and resolving a difference by its kind, which posts the correction."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views.funds_donations import account_label
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.funds import corrections, disclosures, donations, imports, purposes, reconciling, reports, statements
from marketplace.funds import service as funds
from marketplace.funds.models import Reconciliation, ReconciliationDifference
from marketplace.ids import PathId

PAGE = 50
# The API's limit for a statement (ReconciliationIn.file).
MAX_STATEMENT_BYTES = 8_000_000
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
        "expected_status": _status(diff.expected_status),
        "actual_status": _status(diff.actual_status),
        "resolved_at": diff.resolved_at,
        "resolution_note": diff.resolution_note,
        "may_resolve": may_resolve and diff.resolved_at is None,
        # The kinds that fit this difference, each with what it will post.
        "options": [
            (kind, label, what)
            for kind, label in corrections.RESOLUTION_KINDS.items()
            if (what := corrections.outline(kind, corrections.delta(diff))) is not None
            and (kind != "missing_gift" or (recon.source == "bank" and diff.kind == "missing_here"))
            and (kind != "refund" or diff.donation_id is not None)
        ],
    }


def _status(status: str | None) -> str:
    return donations.DONATION_STATUSES.get(status, status) if status else ""


def _run_row(r: Reconciliation, may: bool) -> dict[str, Any]:
    return {
        "id": r.id,
        "source": reconciling.SOURCES.get(r.source, r.source),
        "since": r.since,
        "until": r.until,
        "matched": r.matched,
        "ours": r.ours_count,
        "theirs": r.theirs_count,
        "automatic": r.created_by is None,
        "open": sum(1 for d in r.differences if d.resolved_at is None),
        "differences": [_difference_row(r, d, may) for d in r.differences],
    }


def _may_write(principal: Principal) -> bool:
    # The fund's own rule decides who may change it; the page only hides forms it would refuse.
    return principal.role in funds.WRITERS


@get("/funds", name="console-funds")
async def funds_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=30)] = None,
    channel: Annotated[str | None, QueryParameter(max_length=30)] = None,
    done: Annotated[str, QueryParameter(max_length=20)] = "",
) -> Response[str]:
    """The section's overview: each fund's balance by purpose (with its public accounts page), and the gifts."""
    if channel and channel not in donations.CHANNELS:
        raise Invalid.field("channel", f"未知渠道 {channel} (unknown channel)")
    # The donations service checks the status (and the caller) itself.
    rows, total = await donations.list_donations(
        session,
        principal,
        status=status or None,
        fund_id=None,
        channel=channel or None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    # The district-wide funds here; the streets' foundations and micro-project funds have their own section
    # (/admin/funds/sources, 慈善资源), which this page links to.
    fund_list = [f for f in await funds.list_funds(session, principal) if f.street_id is None]
    balances = await funds.funds_balances(session, fund_list)
    names = await purposes.labels(session, {p for b in balances for p in b.purposes})
    may = _may_write(principal)
    labels = await purposes.labels(session, {d.purpose for d in rows})
    return web.render(
        "funds.html",
        done="拨付已入账" if done == "disbursed" else "",
        balances=[
            {
                "id": b.fund.id,
                "name": b.fund.name,
                "balance_fen": b.balance_fen,
                "unrestricted_fen": b.unrestricted_fen,
                "restricted_fen": b.restricted_fen,
                "purposes": [{"label": names.get(p) or p, **v} for p, v in sorted(b.purposes.items())],
            }
            for b in balances
        ],
        donations=[
            {
                "id": d.id,
                "donor": d.donor.name,
                "amount_fen": d.amount_fen,
                "refunded_fen": d.refunded_fen,
                "channel": donations.CHANNELS.get(d.channel, d.channel),
                "status": d.status,
                "status_label": donations.DONATION_STATUSES.get(d.status, d.status),
                "purpose": labels[d.purpose],
                "received_on": d.received_on,
                "receipt_no": d.receipt_no or "",
            }
            for d in rows
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "",
        channel=channel or "",
        statuses=donations.DONATION_STATUSES,
        channels=donations.CHANNELS,
        may_write=may,
        funds=[{"id": f.id, "name": f.name} for f in fund_list],
        **web.page_context(request, principal, "funds"),
    )


async def _section_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    today = clock.today()
    return {
        "may_write": _may_write(principal),
        "funds": [{"id": f.id, "name": f.name} for f in await funds.list_funds(session, principal)],
        "mappings": await statements.list_mappings(session, principal),
        "statement_fields": statements.FIELD_LABELS,
        "sources": reconciling.SOURCES,
        "duties": {k: d.label for k, d in disclosures.DUTIES.items()},
        "today": today.isoformat(),
        "default_since": (today - dt.timedelta(days=7)).isoformat(),
        "default_until": (today - dt.timedelta(days=1)).isoformat(),
    }


@get("/funds/reconciliations", name="console-fund-reconciliations")
async def reconciliations_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser
) -> Response[str]:
    """Start a run; every run with its differences, each resolved by kind (what each kind posts is shown)."""
    runs = await reconciling.list_for_fund(session, principal, None)
    ctx = await _section_context(session, principal)
    return web.render(
        "funds_reconciliations.html",
        runs=[_run_row(r, ctx["may_write"]) for r in runs],
        **ctx,
        **web.page_context(request, principal, "funds"),
    )


@get("/funds/reconciliations/{recon_id:int}", name="console-fund-reconciliation")
async def reconciliation_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, recon_id: PathId
) -> Response[str]:
    recon = await reconciling.read(session, principal, recon_id)
    return web.render(
        "funds_reconciliation.html",
        run=_run_row(recon, _may_write(principal)),
        **web.page_context(request, principal, "funds"),
    )


@get("/funds/statements", name="console-fund-statements")
async def statements_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    """Upload a bank statement, preview it, import it; the banks' saved layouts; the imports kept."""
    ctx = await _section_context(session, principal)
    return web.render(
        "funds_statements.html",
        imports=await imports.list_imports(session, principal),
        **ctx,
        **web.page_context(request, principal, "funds"),
    )


@get("/funds/statements/imports/{import_id:int}", name="console-fund-statement-import-result")
async def import_result_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, import_id: PathId
) -> Response[str]:
    row = await imports.get_import(session, principal, import_id)
    return web.render("funds_import.html", i=row, **web.page_context(request, principal, "funds"))


@get("/funds/disclosures", name="console-fund-disclosures")
async def disclosures_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser
) -> Response[str]:
    """The disclosure calendar of each fund (what is due, published, overdue) and the form to record one."""
    ctx = await _section_context(session, principal)
    calendars = [
        {"id": f["id"], "name": f["name"], "calendar": await reports.disclosure_calendar(session, f["id"])}
        for f in ctx["funds"]
    ]
    return web.render(
        "funds_disclosures.html", calendars=calendars, **ctx, **web.page_context(request, principal, "funds")
    )


def _date(form: dict[str, str], name: str) -> dt.date:
    raw = form.get(name, "").strip()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid.field(name, "请填写日期，格式 YYYY-MM-DD (a date is required)") from None


def _int(form: dict[str, str], name: str) -> int:
    try:
        return int(form.get(name, "").strip())
    except ValueError:
        raise Invalid.field(name, "请选择基金 (choose a fund)") from None


async def _upload(request: Request[Any, Any, Any]) -> bytes | None:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile):
        return None
    raw = await upload.read(MAX_STATEMENT_BYTES + 1)
    if len(raw) > MAX_STATEMENT_BYTES:
        raise Invalid.field("file", "对账单不超过 8MB (statement too large)")
    return raw or None


async def _filename(request: Request[Any, Any, Any]) -> str:
    upload = (await request.form()).get("file")
    return upload.filename[:200] if isinstance(upload, UploadFile) and upload.filename else ""


async def _layout(request: Request[Any, Any, Any], session: AsyncSession) -> statements.Layout:
    raw_mapping = str((await request.form()).get("mapping_id") or "").strip()
    return await statements.layout_for(session, int(raw_mapping) if raw_mapping.isdigit() else None)


async def _statement(request: Request[Any, Any, Any], session: AsyncSession) -> list[statements.BankLine] | None:
    """The uploaded bank statement's lines (UTF-8 or GBK; English or Chinese headers, or a saved bank
    layout), or None when no file was sent."""
    raw = await _upload(request)
    if raw is None:
        return None
    parsed = statements.parse_file(raw, await _layout(request, session))
    parsed.raise_first()
    return parsed.lines


@post("/funds/reconciliations", name="console-fund-reconcile")
async def start_reconciliation(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    funds.require_writer(principal)
    source = form.get("source", "")
    if source not in reconciling.SOURCES:
        raise Invalid.field("source", "请选择对账来源 (choose stripe or bank)")
    recon = await reconciling.create(
        session,
        principal,
        settings,
        fund_id=_int(form, "fund_id"),
        source=source,
        since=_date(form, "since"),
        until=_date(form, "until"),
        statement=await _statement(request, session),
    )
    if not web.is_htmx(request):
        return Response(
            content="",
            status_code=303,
            headers={"location": f"/admin/funds/reconciliations/{recon.id}", **web.SECURITY_HEADERS},
        )
    found = len(recon.differences)
    return web.render(
        "_recon_run.html",
        run=_run_row(recon, True),
        csrf=web.csrf_token(request),
        flash=f"对账 #{recon.id} 完成：匹配 {recon.matched} 笔，" + (f"发现 {found} 条差异" if found else "没有差异"),
    )


@post("/funds/reconciliations/{recon_id:int}/differences/{n:int}/resolve", name="console-fund-resolve")
async def resolve_difference(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    recon_id: PathId,
    n: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    note = form.get("note", "")
    if len(note) > 1000:
        raise Invalid.field("note", "说明不超过1000字 (note too long)")
    kind = form.get("kind", "")
    if kind not in corrections.RESOLUTION_KINDS:
        raise Invalid.field("kind", "请选择差异类型 (choose how the difference is resolved)")
    recon = await reconciling.resolve(session, principal, recon_id, n, corrections.Choice(kind=kind, note=note))
    diff = next(d for d in recon.differences if d.n == n)
    if not web.is_htmx(request):
        return Response(
            content="",
            status_code=303,
            headers={"location": f"/admin/funds/reconciliations/{recon_id}", **web.SECURITY_HEADERS},
        )
    return web.render(
        "_difference_row.html",
        d=_difference_row(recon, diff, _may_write(principal)),
        csrf=web.csrf_token(request),
        flash=f"对账 {recon_id} 第 {n} 条差异已处理",
    )


# A preview changes nothing: a read-only session, no write lock.
@post(
    "/funds/reconciliations/{recon_id:int}/differences/{n:int}/preview",
    name="console-fund-resolve-preview",
    opt={"read_only": True},
)
async def preview_resolution(
    session: DbSession, principal: CurrentUser, recon_id: PathId, n: PathId, form: web.ConsoleForm
) -> Response[str]:
    """The correcting entry a kind would post for this difference (``corrections.plan``), shown beside the form
    before anything is posted; a kind that does not fit answers with its reason."""
    kind = form.get("kind", "")
    if not kind:
        return web.render("_difference_preview.html", plan=None, lines=[])
    if kind not in corrections.RESOLUTION_KINDS:
        raise Invalid.field("kind", "请选择差异类型 (choose how the difference is resolved)")
    recon = await reconciling.read(session, principal, recon_id)
    plan = await reconciling.preview_resolution(session, principal, recon_id, n, corrections.Choice(kind=kind))
    names = await purposes.labels(session, {a.split(":", 3)[3] for a, _ in plan.postings if a.count(":") >= 3})
    lines = [
        {"side": "借" if fen > 0 else "贷", "account": account_label(a, recon.fund_id, names), "amount_fen": abs(fen)}
        for a, fen in plan.postings
    ]
    return web.render("_difference_preview.html", plan=plan, lines=lines)


@post("/funds/statements/preview", name="console-fund-statement-preview")
async def preview_statement(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    """The parsed lines and every problem of an uploaded statement, storing nothing; the file rides along
    (base64) in the confirm form, so the import reads exactly what was previewed."""
    funds.require_writer(principal)
    raw = await _upload(request)
    if raw is None:
        raise Invalid.field("file", "请选择对账单文件 (choose a statement file)")
    layout = await _layout(request, session)
    parsed = statements.parse_file(raw, layout)
    known = await statements.known_references(session, [line.reference for line in parsed.lines])
    return web.render(
        "_statement_preview.html",
        parsed=parsed,
        known=known,
        fund_id=_int(form, "fund_id"),
        mapping_id=form.get("mapping_id", ""),
        file_b64=base64.b64encode(raw).decode(),
        filename=await _filename(request),
        csrf=web.csrf_token(request),
    )


@post("/funds/statements/import", name="console-fund-statement-import")
async def import_statement(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    try:
        raw = base64.b64decode(form.get("file_b64", ""), validate=True)
    except ValueError:
        raise Invalid.field("file", "对账单内容无效，请重新预览 (preview the statement again)") from None
    if not raw:
        raise Invalid.field("file", "请先预览对账单 (preview the statement first)")
    parsed = statements.parse_file(raw, await _layout(request, session))
    parsed.raise_first()
    raw_mapping = form.get("mapping_id", "").strip()
    kept = await imports.import_and_keep(
        session,
        principal,
        fund_id=_int(form, "fund_id"),
        lines=parsed.lines,
        filename=form.get("filename", "").strip(),
        mapping_id=int(raw_mapping) if raw_mapping.isdigit() and len(raw_mapping) < 10 else None,
    )
    outcome = kept.outcome
    flash = (
        f"已导入 {kept.created_count} 笔来款，共 ¥{kept.created_fen / 100:,.2f}；"
        f"已登记过 {len(outcome['already_recorded'])} 笔，支出 {len(outcome['not_gifts'])} 笔不作捐赠"
    )
    where = f"/admin/funds/statements/imports/{kept.id}"
    if not web.is_htmx(request):
        return Response(content="", status_code=303, headers={"location": where, **web.SECURITY_HEADERS})
    return web.render("_statement_imported.html", flash=flash, result_href=where)


@post("/funds/statement-mappings", name="console-fund-statement-mapping")
async def save_statement_mapping(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    """Save (or, for a known bank code, update) a bank's statement layout."""
    bank_code = form.get("bank_code", "").strip()
    name = form.get("name", "").strip()
    if not bank_code or len(bank_code) > 40 or not bank_code.replace("-", "").replace("_", "").isalnum():
        raise Invalid.field("bank_code", "银行代码为 1-40 位字母、数字、- 或 _ (bank code)")
    if not name or len(name) > 100:
        raise Invalid.field("name", "请填写银行名称（不超过100字）(bank name)")
    try:
        skip_rows = int(form.get("skip_rows", "0") or 0)
    except ValueError:
        raise Invalid.field("skip_rows", "表头前的行数应为整数 (skip_rows must be a number)") from None
    if not 0 <= skip_rows <= 50:
        raise Invalid.field("skip_rows", "表头前的行数应为 0-50 (skip_rows 0-50)")
    columns = {f: form.get(f"col_{f}", "").strip()[:60] for f in statements.FIELDS}
    existing = next((m for m in await statements.list_mappings(session, principal) if m.bank_code == bank_code), None)
    saved = await statements.save_mapping(
        session,
        principal,
        mapping_id=existing.id if existing else None,
        bank_code=bank_code,
        name=name,
        columns=columns,
        encoding=form.get("encoding", "auto"),
        date_format=form.get("date_format", "").strip()[:20],
        skip_rows=skip_rows,
    )
    if not web.is_htmx(request):
        return Response(
            content="", status_code=303, headers={"location": "/admin/funds/statements", **web.SECURITY_HEADERS}
        )
    return web.render("_statement_imported.html", flash=f"已保存对账单格式：{saved.name}（下次打开页面可选用）")


@post("/funds/disclosures", name="console-fund-disclosure")
async def record_disclosure(session: DbSession, principal: CurrentUser, form: web.ConsoleForm) -> Response[str]:
    """Record that a period's disclosure was published; the public page's calendar then shows it."""
    fund_id = _int(form, "fund_id")
    await disclosures.record(
        session,
        principal,
        fund_id,
        kind=form.get("kind", ""),
        period=form.get("period", "").strip()[:7],
        published_on=_date(form, "published_on"),
        channel=_text(form, "channel", "发布渠道", 100),
        title=_text(form, "title", "标题", 200),
        url=form.get("url", "").strip()[:500],
    )
    return Response(
        content="",
        status_code=303,
        headers={"location": f"/admin/public/funds/{fund_id}#disclosures", **web.SECURITY_HEADERS},
    )


def _text(form: dict[str, str], name: str, label: str, most: int) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > most:
        raise Invalid.field(name, f"请填写{label}（不超过{most}字）({name} required)")
    return value


PUBLIC_PAGE = 50


@get("/public/funds/{fund_id:int}", name="console-public-fund")
async def public_fund_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    fund_id: PathId,
    spending_page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    gifts_page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    """The fund's public accounts for donors, no login: purposes by name, every disbursement and gift (donors as
    they chose to be shown), the honour roll and the disclosure calendar."""
    summary = await reports.public_accounts(session, fund_id)
    spending = await reports.public_disbursements(
        session, fund_id, limit=PUBLIC_PAGE, offset=(spending_page - 1) * PUBLIC_PAGE
    )
    gifts = await reports.public_donations(session, fund_id, limit=PUBLIC_PAGE, offset=(gifts_page - 1) * PUBLIC_PAGE)
    roll = await reports.honour_roll(session, fund_id, limit=20, offset=0)
    calendar = await reports.disclosure_calendar(session, fund_id)
    return web.render(
        "public_fund.html",
        fund=summary,
        spending=spending,
        spending_page=spending_page,
        spending_pages=max(1, -(-spending.total // PUBLIC_PAGE)),
        gifts=gifts,
        gifts_page=gifts_page,
        gifts_pages=max(1, -(-gifts.total // PUBLIC_PAGE)),
        roll=roll,
        calendar=calendar,
        **web.page_context(request, None, ""),
    )


ROUTES = [
    public_fund_page,
    record_disclosure,
    funds_page,
    reconciliations_page,
    reconciliation_page,
    statements_page,
    import_result_page,
    disclosures_page,
    start_reconciliation,
    preview_resolution,
    resolve_difference,
    preview_statement,
    import_statement,
    save_statement_mapping,
]
