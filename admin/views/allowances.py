"""Allowances in the console: the district's approval of allowance decisions the street reviewed, the monthly runs
(prepare a month, preview its list, sign it off, fetch the bank file, record it paid, withdraw it), festival and
special (one-off) runs prepared in the background with their progress, the rates and the quarter's report.

The same services and rules as the API (marketplace.cases.eligibility, marketplace.procurement.allowances): the
district admin approves decisions and signs runs off; the procurement officer prepares, pays and withdraws runs and
adds rates; the auditor reads. Each form is shown only to the role its service accepts (the service still checks).
A refused form: the page again with the service's message beside the form and the values posted, nothing changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import web
from admin.views.children import redirect
from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import eligibility
from marketplace.cases.crypto import field_cipher
from marketplace.cases.eligibility_schemas import ApprovalIn
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import DomainError, Forbidden, Invalid
from marketplace.ids import PathId
from marketplace.procurement import allowance_controllers, allowance_jobs, allowance_reports, allowances
from marketplace.procurement import allowance_oneoff as oneoff
from marketplace.procurement import service as procurement
from marketplace.procurement.allowance_schemas import AllowanceRunIn, SignOffIn, StandardIn
from marketplace.procurement.models import AllowanceRun
from marketplace.procurement.schemas import ReasonIn
from marketplace.resources.taxonomy import CHILD_CATEGORIES
from marketplace.settings import Settings

PAGE = 100
S = TypeVar("S")
LABELS = {
    "month": "发放月份",
    "budget_id": "预算",
    "effective_month": "生效月份",
    "note": "备注",
    "reason": "撤销原因",
    "kind": "补贴类别",
    "effective_from": "生效日期",
    "amount_fen": "金额",
    "category": "儿童类别",
    "region": "地区",
    "title": "发放名称",
    "pay_date": "发放日期",
    "line_id": "列支科目",
    "category_amounts": "各类别金额",
    "payees": "补助对象",
}
# How many children a special run's form lists at once (more: prepare it again, or through the API).
SPECIAL_ROWS = 5
DONE = {
    "approved": "已批准补贴认定",
    "rejected": "已不予批准并退回",
    "prepared": "已编制发放名册，请核对后签批",
    "signed": "已签批发放名册",
    "paid": "已登记发放",
    "withdrawn": "已撤销发放名册，预算已释放",
    "standard": "已新增补贴标准",
    "queued": "已开始编制，可离开本页，稍后回来查看进度",
}


def _parse(schema: type[S], values: Mapping[str, Any]) -> S:
    """A posted form as the API's request schema, refused with a Chinese message naming the field."""
    return web.parse_form(schema, values, LABELS)


# The roles the section is for (the district, its auditor, the procurement officer who runs the months); the
# services also let the fund manager read budgets' runs through the API, but its console has no allowance page.
ROLES = frozenset({"district_admin", "auditor", "procurement_officer"})


def _require(principal: Principal) -> None:
    if principal.role not in ROLES:
        raise Forbidden("无权查看补贴发放 (this role has no allowances page)")


def _may(principal: Principal) -> dict[str, bool]:
    role = principal.role
    return {
        "decide": role == "district_admin",
        "sign": role in allowances.SIGNERS,
        "write": role in procurement.WRITERS,
        "bank_file": role in allowances.BANK_FILE_READERS,
    }


def _yuan(fen: int) -> str:
    return web.fen_text(fen)


def _fen(text: str) -> int | str:
    """Yuan as typed (e.g. 1,650 or 1650.50) as fen; anything else is left for the schema to refuse."""
    fen = web.parse_yuan(text)
    return text if fen is None or fen < 0 else fen


# ---------------------------------------------------------------- the overview


async def _overview(session: DbSession, principal: Principal) -> dict[str, Any]:
    _require(principal)
    runs = await allowances.list_runs(session, principal, limit=PAGE)
    try:
        # GET /allowance-decisions?status=reviewed: its scope and audit rows.
        waiting, waiting_total = await eligibility.list_decisions(
            session, principal, status="reviewed", child_id=None, limit=PAGE, offset=0
        )
        decisions: list[Any] | None = [eligibility.decision_out(d, name) for d, name in waiting]
    except Forbidden:
        decisions, waiting_total = None, 0
    standards = await allowances.list_standards(session, principal)
    may = _may(principal)
    today = clock.today()
    lines = await oneoff.lines_for(session, principal, today.year) if may["write"] else []
    if may["write"] and today.month == 12:
        lines += await oneoff.lines_for(session, principal, today.year + 1)
    # The children a special payment may go to (names: an audited read), only for who prepares runs.
    candidates = await oneoff.candidates(session, principal, clock.month_key()) if may["write"] else []
    return {
        "runs": [_run_row(r) for r in runs],
        "decisions": decisions,
        "decisions_total": waiting_total,
        "standards": [
            {
                "id": s.id,
                "kind": allowances.KINDS.get(s.kind, s.kind),
                "category": CHILD_CATEGORIES.get(s.category, s.category) if s.category else "全部类别",
                "region": s.region or "全部地区",
                "effective_from": s.effective_from,
                "amount_fen": s.amount_fen,
                "note": s.note,
            }
            for s in standards
        ],
        "kinds": allowances.KINDS,
        "categories": CHILD_CATEGORIES,
        "categories_label": CHILD_CATEGORIES,
        "this_month": clock.month_key(),
        "today": today.isoformat(),
        "may": may,
        "run_kinds": oneoff.RUN_KINDS,
        "lines": [{"id": x.id, "label": f"{x.name}（{x.code}）"} for x in lines],
        "candidates": [
            {"id": c.child_id, "label": f"{c.name}（{CHILD_CATEGORIES.get(c.category, c.category) or '—'}）"}
            for c in candidates
            if c.has_payee
        ],
        "special_rows": range(SPECIAL_ROWS),
    }


def _run_row(r: AllowanceRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "month": r.month,
        "kind": r.kind,
        "kind_label": oneoff.kind_label(r.kind),
        "title": oneoff.run_title(r),
        "pay_date": r.pay_date,
        "status": r.status,
        "status_label": allowances.RUN_STATUSES.get(r.status, r.status),
        "paid_count": r.paid_count,
        "total_fen": r.total_fen,
        "created_at": r.created_at,
        "steps_done": r.steps_done,
        "steps_total": r.steps_total,
        "progress": allowance_jobs.progress_percent(r),
        "error": r.error,
    }


async def _page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    *,
    done: str | None = None,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
    notes: list[tuple[str, str]] | None = None,
) -> Response[str]:
    messages = [("ok", DONE[done])] if done in DONE else []
    overview = await _overview(session, principal)
    failed = failed or {}
    if failed.get("message"):
        # A refused form the page does not show (e.g. a decision no longer waiting): its message on top.
        may = overview["may"]
        shown = {"prepare", "standard", "oneoff"} if may["write"] else set()
        if may["decide"]:
            shown |= {f"decision-{d.id}" for d in overview["decisions"] or []}
        if failed.get("form") not in shown:
            messages.append(("error", failed["message"]))
    return web.render(
        "allowances.html",
        status_code=status_code,
        failed=failed,
        messages=messages + (notes or []),
        **overview,
        **web.page_context(request, principal, "allowances"),
    )


@get("/allowances", name="console-allowances")
async def allowances_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    return await _page(request, session, principal, done=done)


async def _refused_overview(
    request: Request[Any, Any, Any], session: DbSession, principal: Principal, exc: DomainError, form: str, values: Any
) -> Response[str]:
    """The overview again with the refusal beside ``form`` and what was posted; nothing the request wrote stays."""
    if isinstance(exc, Forbidden) or exc.status_code == 404:
        raise exc
    await web.abandon(session)
    failed = {"form": form, "message": exc.detail, "values": dict(values)}
    return await _page(request, session, principal, failed=failed, status_code=exc.status_code)


@post("/allowances/decisions/{decision_id:int}/decide", name="console-allowance-decide")
async def decide_decision(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    decision_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Approve (from an effective month, by default the first the start rule allows) or refuse with a reason
    (POST /allowance-decisions/{id}/decide)."""
    choice = form.get("decision", "")
    note = form.get("note", "").strip()
    month = form.get("effective_month", "").strip()
    try:
        if choice not in ("approve", "reject"):
            raise Invalid.field("decision", "请选择批准或不予批准 (approve or refuse)")
        if choice == "reject" and not note:
            raise Invalid.field("note", "不予批准时请写明原因 (say why it is refused)")
        raw: dict[str, Any] = {"approve": choice == "approve", "note": note}
        if month and choice == "approve":
            raw["effective_month"] = month
        data = _parse(ApprovalIn, raw)
        await eligibility.decide(session, principal, settings, decision_id, data)
    except DomainError as exc:
        return await _refused_overview(request, session, principal, exc, f"decision-{decision_id}", form)
    return redirect(request, f"/admin/allowances?done={'approved' if choice == 'approve' else 'rejected'}")


@post("/allowances/runs", name="console-allowance-prepare")
async def prepare_run(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    """Prepare a month's run (POST /allowances/runs; or in the background, the second button): nobody is paid twice;
    a month with nobody left to pay says so (in the background: the run ends 编制失败 with that reason)."""
    try:
        data = _parse(AllowanceRunIn, {"month": form.get("month", "").strip()})
        if data.month is None:
            raise Invalid.field("month", "请填写发放月份 (month required)")
        if form.get("background") == "1":
            # A district-wide month in the background (POST /allowances/runs/prepare): the run's page shows progress.
            queued = await allowance_jobs.start_monthly(session, principal, data.month, budget_id=data.budget_id)
            return redirect(request, f"/admin/allowances/runs/{queued.id}?done=queued")
        result = await allowances.run_month(
            session, principal, data.month, budget_id=data.budget_id, region=settings.allowances.region
        )
    except DomainError as exc:
        return await _refused_overview(request, session, principal, exc, "prepare", form)
    if result.run_id is None:
        note = f"{result.month} 没有需要新列入名册的人员（已列入 {result.already_paid} 人次"
        note += f"，缺收款人 {result.missing_payee} 人）" if result.missing_payee else "）"
        await web.abandon(session)
        return await _page(
            request, session, principal, notes=[("warn", note)], failed={"form": "prepare", "values": dict(form)}
        )
    return redirect(request, f"/admin/allowances/runs/{result.run_id}?done=prepared&missing={result.missing_payee}")


def _one_off(form: Mapping[str, str]) -> oneoff.OneOffRequest:
    """The "节日/专项发放" form as the API's request (AllowanceRunIn): amounts typed in yuan."""
    kind = form.get("kind", "").strip()
    raw: dict[str, Any] = {
        "kind": kind,
        "title": form.get("title", "").strip(),
        "pay_date": form.get("pay_date", "").strip() or None,
        "line_id": form.get("line_id", "").strip() or None,
    }
    if kind == "festival":
        amount = form.get("amount_yuan", "").strip()
        if amount:
            raw["amount_fen"] = _fen(amount)
        raw["category_amounts"] = [
            {"category": code, "amount_fen": _fen(form.get(f"cat_{code}", "").strip())}
            for code in CHILD_CATEGORIES
            if form.get(f"cat_{code}", "").strip()
        ]
    elif kind == "special":
        rows: list[dict[str, Any]] = []
        for i in range(SPECIAL_ROWS):
            child, amount, reason = (form.get(f"{k}_{i}", "").strip() for k in ("child", "amount", "reason"))
            if not (child or amount or reason):
                continue
            if not child:
                raise Invalid.field(f"payees[{len(rows)}].child_id", f"第 {i + 1} 行请选择补助对象 (choose a child)")
            if not amount or isinstance(_fen(amount), str):
                raise Invalid.field(f"payees[{len(rows)}].amount_fen", f"第 {i + 1} 行请填写金额（元）(amount)")
            if not reason:
                raise Invalid.field(f"payees[{len(rows)}].reason", f"第 {i + 1} 行请填写补助事由 (reason required)")
            rows.append({"child_id": child, "amount_fen": _fen(amount), "reason": reason})
        raw["payees"] = rows
    else:
        raise Invalid.field("kind", "请选择节日慰问或临时/专项补助 (choose a kind)")
    if isinstance(raw.get("amount_fen"), str) or any(
        isinstance(c["amount_fen"], str) for c in raw.get("category_amounts", [])
    ):
        raise Invalid.field("amount_fen", "请填写金额（元，最多两位小数）(amount in yuan)")
    data = _parse(AllowanceRunIn, raw)
    return oneoff.OneOffRequest(
        kind=data.kind,
        title=data.title,
        pay_date=data.pay_date,
        line_id=data.line_id,
        amount_fen=data.amount_fen,
        category_amounts={c.category: c.amount_fen for c in data.category_amounts},
        payees=tuple(oneoff.SpecialPayee(p.child_id, p.amount_fen, p.reason) for p in data.payees),
    )


@post("/allowances/one-off", name="console-allowance-one-off")
async def prepare_one_off(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    form: web.ConsoleForm,
) -> Response[str]:
    """A festival or special run (POST /allowances/runs/prepare): checked now, its list prepared in the background;
    the run's page shows the progress."""
    try:
        run = await allowance_jobs.start_one_off(session, principal, _one_off(form))
    except DomainError as exc:
        return await _refused_overview(request, session, principal, exc, "oneoff", form)
    return redirect(request, f"/admin/allowances/runs/{run.id}?done=queued")


@get("/allowances/runs/{run_id:int}/progress", name="console-allowance-progress")
async def run_progress(session: DbSession, principal: CurrentUser, run_id: PathId) -> Response[str]:
    """A run's preparation as a fragment the page polls (GET /allowances/runs/{id}/progress)."""
    _require(principal)
    run = await allowances.run_status(session, principal, run_id)
    return web.render("allowance_progress.html", r=_run_row(run))


@get("/allowances/quarter", name="console-allowance-quarter")
async def quarter_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    quarter: Annotated[int | None, QueryParameter(ge=1, le=4)] = None,
    format: Annotated[str, QueryParameter(pattern="^(html|csv|xlsx)$")] = "html",
) -> Response[Any]:
    """The quarter's allowances (GET /reports/allowances): by kind and month, per-kind totals, by category and rate;
    CSV and XLSX are the API's bytes for the same query."""
    _require(principal)
    today = clock.today()
    year = year or today.year
    quarter = quarter or (today.month - 1) // 3 + 1
    if format != "html":
        table = await allowance_reports.allowance_table(session, principal, year, quarter)
        return allowance_controllers.download(table, format, f"allowances-{year}-Q{quarter}")
    monthly, totals = await allowances.quarter_report(session, principal, year, quarter)
    rates = await allowances.quarter_rates(session, principal, year, quarter)

    def label(kind: str) -> str:
        return allowances.PAYMENT_KINDS.get(kind, kind)

    return web.render(
        "allowances_quarter.html",
        year=year,
        quarter=quarter,
        years=list(range(today.year - 3, today.year + 2)),
        months=allowances.quarter_months(year, quarter),
        by_month=[
            {"label": label(r.kind), "month": r.month, "count": r.count, "total_fen": r.total_fen} for r in monthly
        ],
        totals=[
            {"kind": r.kind, "label": label(r.kind), "count": r.count, "persons": r.persons, "total_fen": r.total_fen}
            for r in totals
        ],
        by_rate=[
            {
                "label": label(r.kind),
                "category": CHILD_CATEGORIES.get(r.category, r.category) if r.category else "—",
                "amount_fen": r.amount_fen,
                "count": r.count,
                "persons": r.persons,
                "total_fen": r.total_fen,
            }
            for r in rates
        ],
        payments=sum(r.count for r in totals),
        total_fen=sum(r.total_fen for r in totals),
        **web.page_context(request, principal, "allowances"),
    )


@post("/allowances/standards", name="console-allowance-standard")
async def add_standard(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    form: web.ConsoleForm,
) -> Response[str]:
    """A new rate from a date (POST /allowances/standards); the amount typed in yuan."""
    raw: dict[str, Any] = {
        "kind": form.get("kind", "").strip(),
        "effective_from": form.get("effective_from", "").strip(),
        "amount_fen": _fen(form.get("amount_yuan", "")),
        "note": form.get("note", "").strip(),
        "category": form.get("category", "").strip(),
        "region": form.get("region", "").strip(),
    }
    try:
        if not raw["effective_from"]:
            raise Invalid.field("effective_from", "请填写生效日期 (effective date is required)")
        if isinstance(raw["amount_fen"], str):
            raise Invalid.field("amount_fen", "请填写金额（元，最多两位小数）(amount in yuan)")
        await allowances.add_standard(session, principal, _parse(StandardIn, raw))
    except DomainError as exc:
        return await _refused_overview(request, session, principal, exc, "standard", form)
    return redirect(request, "/admin/allowances?done=standard#standards")


# ---------------------------------------------------------------- a run


async def _run_context(session: DbSession, principal: Principal, run_id: int) -> dict[str, Any]:
    _require(principal)
    # GET /allowances/runs/{id}: its permission and its audit row (children's names).
    run, payments, signature = await allowances.read_run(session, principal, run_id)
    totals: dict[tuple[str, str, int], dict[str, Any]] = {}
    for p in payments:
        key = (p.kind, p.category, p.amount_fen)
        row = totals.setdefault(
            key,
            {
                "kind": oneoff.payment_kind_label(p.kind),
                "category": CHILD_CATEGORIES.get(p.category, p.category) if p.category else "—",
                "amount_fen": p.amount_fen,
                "count": 0,
                "total_fen": 0,
            },
        )
        row["count"] += 1
        row["total_fen"] += p.amount_fen
    signer = await session.get(User, signature.signed_by) if signature else None
    return {
        "run": {
            "id": run.id,
            "month": run.month,
            "status": run.status,
            "status_label": allowances.RUN_STATUSES.get(run.status, run.status),
            "kind": run.kind,
            "kind_label": oneoff.kind_label(run.kind),
            "title": oneoff.run_title(run),
            "pay_date": run.pay_date,
            "progress_row": _run_row(run),
            "paid_count": run.paid_count,
            "total_fen": run.total_fen,
            "created_at": run.created_at,
            "paid_at": run.paid_at,
            "withdrawn_at": run.withdrawn_at,
            "withdraw_reason": run.withdraw_reason,
        },
        "payments": [
            {
                "n": i,
                "kind": oneoff.payment_kind_label(p.kind),
                "reason": p.reason if p.kind == "special" else "",
                "person_name": p.person_name,
                "category": CHILD_CATEGORIES.get(p.category, p.category) if p.category else "—",
                "payee": (
                    f"{allowances.PAYEE_KINDS.get(p.payee_kind, p.payee_kind)} · {p.payee_name}"
                    if p.payee_kind
                    else "—"
                ),
                "amount_fen": p.amount_fen,
            }
            for i, p in enumerate(payments, 1)
        ],
        "totals": sorted(totals.values(), key=lambda r: (r["kind"], -r["amount_fen"], r["category"])),
        "list_sha256": allowances.list_digest(payments),
        "sign_off": (
            {
                "by": signer.display_name if signer else str(signature.signed_by),
                "at": signature.signed_at,
                "payments": signature.payments,
                "total_fen": signature.total_fen,
                "list_sha256": signature.list_sha256,
                "file_sha256": signature.file_sha256,
                "encoding": signature.file_encoding.upper(),
                "note": signature.note,
            }
            if signature
            else None
        ),
        "may": _may(principal),
    }


async def _run_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    run_id: int,
    *,
    messages: list[tuple[str, str]] | None = None,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
    queued: bool = False,
) -> Response[str]:
    return web.render(
        "allowances_run.html",
        status_code=status_code,
        queued=queued,
        messages=messages or [],
        failed=failed or {},
        **await _run_context(session, principal, run_id),
        **web.page_context(request, principal, "allowances"),
    )


@get("/allowances/runs/{run_id:int}", name="console-allowance-run")
async def run_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    run_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    missing: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
) -> Response[str]:
    messages = [("ok", DONE[done])] if done in DONE else []
    queued = done == "queued"
    if done == "prepared" and missing:
        messages.append(("warn", f"{missing} 名儿童尚未登记收款人，未列入本批；登记后可再次编制本月"))
    return await _run_page(request, session, principal, run_id, messages=messages, queued=queued)


async def _run_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    settings: Settings,
    run_id: int,
    action: str,
    form: Mapping[str, str],
) -> Response[str]:
    try:
        if action == "sign":
            data = _parse(SignOffIn, {"note": form.get("note", "").strip()})
            await allowances.sign_off(session, principal, settings, field_cipher(settings), run_id, data.note)
        elif action == "pay":
            await allowances.pay_run(session, principal, run_id)
        else:
            reason = form.get("reason", "").strip()
            if not reason:
                raise Invalid.field("reason", "请写明撤销原因 (say why the run is withdrawn)")
            await allowances.withdraw_run(session, principal, run_id, _parse(ReasonIn, {"reason": reason}).reason)
    except DomainError as exc:
        if isinstance(exc, Forbidden) or exc.status_code == 404:
            raise
        await web.abandon(session)
        failed = {"form": action, "message": exc.detail, "values": dict(form)}
        return await _run_page(request, session, principal, run_id, failed=failed, status_code=exc.status_code)
    done = {"sign": "signed", "pay": "paid", "withdraw": "withdrawn"}[action]
    return redirect(request, f"/admin/allowances/runs/{run_id}?done={done}")


@post("/allowances/runs/{run_id:int}/sign-off", name="console-allowance-sign-off")
async def sign_off_run(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    run_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _run_action(request, session, principal, settings, run_id, "sign", form)


@post("/allowances/runs/{run_id:int}/pay", name="console-allowance-pay")
async def pay_run(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    run_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _run_action(request, session, principal, settings, run_id, "pay", form)


@post("/allowances/runs/{run_id:int}/withdraw", name="console-allowance-withdraw")
async def withdraw_run(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    run_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _run_action(request, session, principal, settings, run_id, "withdraw", form)


@get("/allowances/runs/{run_id:int}/bank-file", name="console-allowance-bank-file")
async def bank_file(
    session: DbSession, principal: CurrentUser, settings: AppSettings, run_id: PathId
) -> Response[bytes]:
    """The signed run's bank file: the bytes GET /allowances/runs/{id}/bank-file returns (and its audit row)."""
    body, name, encoding = await allowances.bank_file(session, principal, field_cipher(settings), run_id)
    return Response(
        content=body,
        media_type="text/csv",
        encoding=encoding,  # Litestar appends "; charset=" to a text/ type
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": hashlib.sha256(body).hexdigest(),
            **web.SECURITY_HEADERS,
        },
    )


ROUTES = [
    allowances_page,
    decide_decision,
    prepare_run,
    prepare_one_off,
    run_progress,
    quarter_page,
    add_standard,
    run_page,
    sign_off_run,
    pay_run,
    withdraw_run,
    bank_file,
]
