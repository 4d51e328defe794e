"""The procurement officer's day in the console: a budget's lines and adjustments, a new procurement with the rules
engine's answer shown as it is typed, a procurement's bids, award, publicity countdown, contract signing and OCDS
download, and a contract's milestones with their evidence files, acceptance, payments, amendments and evaluation.

Every action calls the same service function as the API (so the same scope and rules); a refused action answers
in place, in the form's own message area, and changes nothing (the request's transaction is rolled back)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import DomainError, Invalid
from marketplace.ids import PathId
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import contracts, evidence, ocds_releases, preview, readmodels
from marketplace.procurement import service as procurement
from marketplace.procurement.rules import METHODS, SINGLE_SOURCE_GROUNDS, get_rules, last_day_of_term
from marketplace.procurement.schemas import (
    AdjustmentIn,
    AmendmentIn,
    ApprovalIn,
    AwardIn,
    BidIn,
    ContractIn,
    EvaluationIn,
    PaymentIn,
    ProcurementIn,
    ReasonIn,
    TerminationIn,
)
from marketplace.resources.taxonomy import SERVICE_CATEGORIES

S = TypeVar("S")
MAX_MILESTONE_ROWS = 6
LABELS = {
    "from_line_id": "调出科目",
    "to_line_id": "调入科目",
    "amount_fen": "金额",
    "document_no": "审批文号",
    "reason": "理由",
    "budget_line_id": "预算科目",
    "title": "项目名称",
    "method": "采购方式",
    "estimated_fen": "采购预算",
    "service_categories": "服务类别",
    "justification": "理由说明",
    "organization_id": "供应商",
    "price_fen": "报价",
    "technical_score": "技术得分",
    "bid_id": "中标响应",
    "awarded_on": "确定日期",
    "announced_on": "公告日期",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "signed_on": "签订日期",
    "milestones": "履约节点",
    "milestone_id": "节点",
    "paid_on": "支付日期",
    "memo": "备注",
    "delta_fen": "变更金额",
    "score": "评分",
    "comments": "评价意见",
    "term_reason": "期限理由",
    "note": "审批意见",
    "approved_on": "审批日期",
    "terminated_on": "解除日期",
}
DONE = {
    "adjusted": "调剂已登记",
    "created": "采购项目已建立",
    "bid": "响应文件已登记，评分已更新",
    "awarded": "已确定中标/成交供应商，公示期开始",
    "failed": "已登记采购失败，占用额度已释放",
    "cancelled": "采购已终止，占用或承诺的额度已释放",
    "signed": "合同已签订",
    "evidence": "证明材料已上传（已记录 SHA-256）",
    "accepted": "节点已验收",
    "paid": "支付已登记",
    "amended": "合同金额已变更",
    "evaluated": "绩效评价已登记，合同已完成",
    "approved": "采购方式审批已登记，采购预算已占用额度",
    "terminated": "合同已解除，未支付且未欠付的金额已退回预算科目",
}
Sha256 = Annotated[str, PathParameter(pattern="^[0-9a-f]{64}$")]


# ---------------------------------------------------------------- form helpers


def may_write(principal: Principal) -> bool:
    # Hides forms the service would refuse; the service still checks every action itself.
    return principal.role in procurement.WRITERS


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    """A posted form as the API's request schema, refused with a Chinese message naming the field."""
    return web.parse_form(schema, values, LABELS)


def text(form: Mapping[str, str], name: str, *, required: str = "") -> str:
    """A typed text, trimmed; ``required`` is the message (what to fill in) when it may not be left empty."""
    value = str(form.get(name, "")).strip()
    if required and not value:
        raise Invalid.field(name, f"请填写{required} ({name} required)")
    return value


def fen(form: Mapping[str, str], name: str, label: str, *, signed: bool = False, required: bool = True) -> int | None:
    """An amount typed in yuan (``12,345.67``) as fen; a clear message for anything else."""
    raw = text(form, name)
    if not raw:
        if required:
            raise Invalid.field(name, f"请填写{label}（元）({name} required)")
        return None
    cents = web.parse_yuan(raw)
    if cents is None:
        raise Invalid.field(name, f"{label}须为金额，最多两位小数 (amount in yuan, at most 2 decimals)")
    if cents < 0 and not signed:
        raise Invalid.field(name, f"{label}不能为负数 (amount must not be negative)")
    return cents


def number(form: Mapping[str, str], name: str, label: str) -> int:
    raw = text(form, name)
    if not raw.isdigit() or len(raw) > 12:
        raise Invalid.field(name, f"请选择或填写{label} ({name} required)")
    return int(raw)


def day(form: Mapping[str, str], name: str, label: str) -> dt.date | None:
    raw = text(form, name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid.field(name, f"{label}格式应为 YYYY-MM-DD ({name} must be a date)") from None


redirect = web.after_change


async def refused(
    request: Request[Any, Any, Any], session: AsyncSession, exc: DomainError, target: str
) -> Response[str]:
    """A refused action: nothing it did stays (rolled back), and the message shows in the form's own area."""
    await web.abandon(session)
    if not web.is_htmx(request):
        raise exc
    return web.render(
        "_flash.html",
        status_code=exc.status_code,
        headers={"HX-Retarget": target, "HX-Reswap": "innerHTML", **(exc.headers or {})},
        messages=[("error", exc.detail)],
    )


def done_message(done: str | None) -> str | None:
    return DONE.get(done or "")


# ---------------------------------------------------------------- budgets


@get("/procurement/budgets/{budget_id:int}", name="console-procurement-budget")
async def budget_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    budget_id: PathId,
) -> Response[str]:
    budget = await procurement.read_budget(session, principal, budget_id)
    out = (await readmodels.budgets_out(session, [budget]))[0]
    adjustments = await preview.adjustments_of(session, principal, budget.id)
    names = {line.id: line.name for line in budget.lines}
    return web.render(
        "procurement_budget.html",
        budget=out,
        adjustments=[
            {"row": a, "from": names.get(a.from_line_id, ""), "to": names.get(a.to_line_id, "")} for a in adjustments
        ],
        may_write=may_write(principal),
        done=done_message(request.query_params.get("done")),
        **web.page_context(request, principal, "procurement"),
    )


MOVEMENT_KINDS = {
    "adjustment_in": "调入",
    "adjustment_out": "调出",
    "hold": "采购占用",
    "hold_release": "释放占用",
    "commitment": "承诺",
    "release": "释放承诺",
    "payment": "支付",
}


@get("/procurement/budgets/{budget_id:int}/lines/{line_id:int}", name="console-procurement-line")
async def line_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, budget_id: PathId, line_id: PathId
) -> Response[str]:
    """A line's trail: every adjustment, hold, commitment, release and payment behind its figures (as
    ``budgetLineMovements``)."""
    line = await procurement.read_line(session, principal, budget_id, line_id)
    budget = await procurement.read_budget(session, principal, budget_id)
    figures = await ledger_side.line_figures(session, line)
    rows = await ledger_side.movements(session, line)
    return web.render(
        "procurement_line.html",
        budget=budget,
        line=line,
        f=figures,
        movements=[{"m": m, "kind": MOVEMENT_KINDS.get(m.kind, m.kind)} for m in rows],
        **web.page_context(request, principal, "procurement"),
    )


@post("/procurement/budgets/{budget_id:int}/adjustments", name="console-procurement-adjust")
async def adjust(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    budget_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        data = parse(
            AdjustmentIn,
            {
                "from_line_id": number(form, "from_line_id", "调出科目"),
                "to_line_id": number(form, "to_line_id", "调入科目"),
                "amount_fen": fen(form, "amount", "调剂金额"),
                "document_no": text(form, "document_no"),
                "reason": text(form, "reason"),
            },
        )
        if not data.document_no.strip():
            raise Invalid.field("document_no", "请填写审批文号 (document number required)")
        await procurement.adjust_budget(session, principal, budget_id, data)
    except DomainError as exc:
        return await refused(request, session, exc, "#adjust-errors")
    return redirect(request, f"/admin/procurement/budgets/{budget_id}?done=adjusted")


# ---------------------------------------------------------------- a new procurement


async def _line_choices(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    budgets, _ = await procurement.list_budgets(session, principal, fiscal_year=None, limit=100, offset=0)
    lines = [line for b in budgets for line in b.lines]
    figures = await ledger_side.figures(session, lines)
    return [
        {
            "id": line.id,
            "label": f"{b.fiscal_year} {b.name} · {line.name}",
            "available_fen": figures[line.id].available_fen,
        }
        for b in budgets
        for line in b.lines
    ]


@get("/procurement/new", name="console-procurement-new")
async def new_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    procurement.require_write(principal)
    raw_line = request.query_params.get("line", "")
    return web.render(
        "procurement_new.html",
        lines=await _line_choices(session, principal),
        chosen_line=int(raw_line) if raw_line.isdigit() and len(raw_line) < 12 else None,
        methods=METHODS,
        grounds=SINGLE_SOURCE_GROUNDS,
        categories=SERVICE_CATEGORIES,
        today=clock.today(),
        **web.page_context(request, principal, "procurement"),
    )


def _categories(posted: Any) -> list[str]:
    return [str(v) for v in posted.getall("service_categories", []) if isinstance(v, str)]


@post("/procurement/new/rules", name="console-procurement-rules", opt={"read_only": True})
async def rules_answer(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    """The rules engine's answer for what is typed so far (htmx, as the amounts are typed); nothing is written."""
    posted = await request.form()
    form = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
    try:
        estimated = fen(form, "estimated", "采购预算", required=False)
    except Invalid as exc:
        return web.render("_procurement_rules.html", result=None, problem=exc.detail)
    if not estimated:
        return web.render("_procurement_rules.html", result=None, problem="输入采购预算后显示规则判断")
    line_raw = text(form, "budget_line_id")
    original_raw = text(form, "original_contract_id")
    ground = text(form, "single_source_ground") or None
    result = await preview.preview(
        session,
        principal,
        budget_line_id=int(line_raw) if line_raw.isdigit() and len(line_raw) < 12 else None,
        method=text(form, "method"),
        estimated_fen=estimated,
        service_categories=_categories(posted),
        justification=text(form, "justification"),
        single_source_ground=ground if text(form, "method") == "single_source" else None,
        original_contract_id=int(original_raw) if original_raw.isdigit() and len(original_raw) < 12 else None,
    )
    return web.render("_procurement_rules.html", result=result, problem=None, methods=METHODS)


@post("/procurement/new", name="console-procurement-create")
async def create(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    posted = await request.form()
    form = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
    try:
        method = text(form, "method")
        values: dict[str, Any] = {
            "budget_line_id": number(form, "budget_line_id", "预算科目"),
            "title": text(form, "title"),
            "method": method,
            "estimated_fen": fen(form, "estimated", "采购预算"),
            "service_categories": _categories(posted),
            "justification": text(form, "justification"),
        }
        if not values["title"]:
            raise Invalid.field("title", "请填写项目名称 (title required)")
        if not values["service_categories"]:
            raise Invalid.field("service_categories", "请至少选择一个服务类别 (choose a category)")
        if method == "single_source":
            values["single_source_ground"] = text(form, "single_source_ground") or None
            notice = day(form, "notice_published_on", "公示日期")
            if notice is not None:
                values["notice_published_on"] = notice.isoformat()
        if text(form, "original_contract_id"):
            values["original_contract_id"] = number(form, "original_contract_id", "原合同编号")
        created = await procurement.create_procurement(session, principal, parse(ProcurementIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#create-errors")
    return redirect(request, f"/admin/procurement/{created.id}?done=created")


# ---------------------------------------------------------------- a procurement


def _countdown(p: Any, today: dt.date) -> dict[str, Any] | None:
    if p.publicity_ends_on is None:
        return None
    left = (p.publicity_ends_on - today).days
    return {
        "ends_on": p.publicity_ends_on,
        "days_left": max(left, 0),
        "over": today > p.publicity_ends_on,
        "sign_from": p.publicity_ends_on + dt.timedelta(days=1),
    }


def _contract_defaults(p: Any, price_fen: int, today: dt.date) -> dict[str, Any]:
    start = max(today, p.publicity_ends_on + dt.timedelta(days=1)) if p.publicity_ends_on else today
    end = last_day_of_term(start, 12)
    first = price_fen * 4 // 10
    middle = price_fen * 3 // 10
    return {
        "amount": ledger_side.yuan_text(price_fen),
        "starts_on": start,
        "ends_on": end,
        "signed_on": today,
        "rows": [
            {
                "name": "首期服务交付",
                "due_on": start + dt.timedelta(days=30),
                "amount": ledger_side.yuan_text(first),
                "kind": "delivery",
            },
            {
                "name": "中期评估",
                "due_on": start + dt.timedelta(days=180),
                "amount": ledger_side.yuan_text(middle),
                "kind": "assessment",
            },
            {
                "name": "末期验收",
                "due_on": end,
                "amount": ledger_side.yuan_text(price_fen - first - middle),
                "kind": "payment",
            },
        ]
        + [{"name": "", "due_on": None, "amount": "", "kind": "delivery"}] * (MAX_MILESTONE_ROWS - 3),
    }


@get("/procurement/{procurement_id:int}", name="console-procurement-item")
async def procurement_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, procurement_id: PathId
) -> Response[str]:
    found = await procurement.read_procurement(session, principal, procurement_id)
    p = (await readmodels.procurements_out(session, [found]))[0]
    today = clock.today()
    write = may_write(principal)
    winner = next((b for b in p.bids if b.id == p.awarded_bid_id), None)
    contract_id = await preview.contract_of(session, principal, p.id) if p.status == "contracted" else None
    budget_line = await preview.line_label(session, principal, p.budget_line_id)
    return web.render(
        "procurement_item.html",
        p=p,
        status_label=procurement.PROCUREMENT_STATUSES.get(p.status, p.status),
        categories=SERVICE_CATEGORIES,
        grounds=SINGLE_SOURCE_GROUNDS,
        suppliers=await preview.supplier_choices(session, principal) if write and p.status == "bidding" else [],
        countdown=_countdown(p, today),
        winner=winner,
        contract_id=contract_id,
        defaults=_contract_defaults(p, winner.price_fen, today) if winner and p.status == "awarded" else None,
        kinds=contracts.MILESTONE_KINDS,
        may_write=write,
        may_approve=principal.role == "district_admin"
        and p.status == "bidding"
        and p.method != "open_tender"
        and not p.approvals,
        today=today,
        line=budget_line,
        publicity_days=get_rules().publicity_working_days,
        done=done_message(request.query_params.get("done")),
        **web.page_context(request, principal, "procurement"),
    )


@post("/procurement/{procurement_id:int}/bids", name="console-procurement-bid")
async def add_bid(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    procurement_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        data = parse(
            BidIn,
            {
                "organization_id": number(form, "organization_id", "供应商"),
                "price_fen": fen(form, "price", "报价"),
                "technical_score": number(form, "technical_score", "技术得分") if text(form, "technical_score") else 0,
            },
        )
        await procurement.add_bid(session, principal, procurement_id, data)
    except DomainError as exc:
        return await refused(request, session, exc, "#bid-errors")
    return redirect(request, f"/admin/procurement/{procurement_id}?done=bid")


@post("/procurement/{procurement_id:int}/award", name="console-procurement-award")
async def award(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    procurement_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        values: dict[str, Any] = {}
        if text(form, "bid_id"):
            values["bid_id"] = number(form, "bid_id", "中标响应")
        for name, label in (("awarded_on", "确定日期"), ("announced_on", "公告日期")):
            when = day(form, name, label)
            if when is not None:
                values[name] = when.isoformat()
        await procurement.award(session, principal, procurement_id, parse(AwardIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#award-errors")
    return redirect(request, f"/admin/procurement/{procurement_id}?done=awarded")


@post("/procurement/{procurement_id:int}/end", name="console-procurement-end")
async def end(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    procurement_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """采购失败 or 终止采购, with the reason."""
    try:
        how = text(form, "how")
        if how not in ("fail", "cancel"):
            raise Invalid.field("how", "请选择“采购失败”或“终止采购” (choose fail or cancel)")
        reason = text(form, "reason", required="原因")
        data = parse(ReasonIn, {"reason": reason})
        if how == "fail":
            await procurement.fail_procurement(session, principal, procurement_id, data)
        else:
            await procurement.cancel_procurement(session, principal, procurement_id, data.reason)
    except DomainError as exc:
        return await refused(request, session, exc, "#end-errors")
    return redirect(request, f"/admin/procurement/{procurement_id}?done={'failed' if how == 'fail' else 'cancelled'}")


@post("/procurement/{procurement_id:int}/approve", name="console-procurement-approve")
async def approve(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    procurement_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """采购方式审批 of a method other than open tendering (the district bureau's document number and date)."""
    try:
        document_no = text(form, "document_no", required="审批文号")
        values: dict[str, Any] = {"document_no": document_no, "note": text(form, "note")}
        approved_on = day(form, "approved_on", "审批日期")
        if approved_on is not None:
            values["approved_on"] = approved_on.isoformat()
        await procurement.approve_procurement(session, principal, procurement_id, parse(ApprovalIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#approve-errors")
    return redirect(request, f"/admin/procurement/{procurement_id}?done=approved")


def _milestone_rows(form: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(MAX_MILESTONE_ROWS):
        name = text(form, f"m{i}_name")
        if not name:
            continue
        due = day(form, f"m{i}_due_on", f"节点 {i + 1} 日期")
        if due is None:
            raise Invalid.field(f"m{i}_due_on", f"请填写节点“{name}”的日期 (milestone date required)")
        rows.append(
            {
                "name": name,
                "due_on": due.isoformat(),
                "amount_fen": fen(form, f"m{i}_amount", f"节点“{name}”金额", required=False) or 0,
                "kind": text(form, f"m{i}_kind") or "delivery",
            }
        )
    if not rows:
        raise Invalid.field("milestones", "请至少填写一个履约节点 (at least one milestone)")
    return rows


@post("/procurement/{procurement_id:int}/contract", name="console-procurement-sign")
async def sign(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    procurement_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        found = await procurement.read_procurement(session, principal, procurement_id)
        bid = await procurement.awarded_bid(session, found)
        if bid is None:
            raise Invalid("尚未确定中标/成交供应商，不能签订合同 (award first)")
        values: dict[str, Any] = {
            "procurement_id": found.id,
            "organization_id": bid.organization_id,
            "amount_fen": fen(form, "amount", "合同金额"),
            "starts_on": text(form, "starts_on"),
            "ends_on": text(form, "ends_on"),
            "milestones": _milestone_rows(form),
            "title": text(form, "title"),
            "term_reason": text(form, "term_reason"),
        }
        for name, label in (("starts_on", "开始日期"), ("ends_on", "结束日期")):
            if day(form, name, label) is None:
                raise Invalid.field(name, f"请填写{label} ({name} required)")
        signed = day(form, "signed_on", "签订日期")
        if signed is not None:
            values["signed_on"] = signed.isoformat()
        contract = await contracts.create_contract(session, principal, parse(ContractIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#sign-errors")
    return redirect(request, f"/admin/procurement/contracts/{contract.id}?done=signed")


@get("/procurement/{procurement_id:int}/ocds", name="console-procurement-ocds")
async def ocds(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, procurement_id: PathId
) -> Response[bytes]:
    """The API's OCDS record package, served with the console session."""
    uri = str(request.url).replace("/admin/procurement/", "/api/v1/procurements/")
    body = await ocds_releases.record_package(session, principal, procurement_id, uri)
    return Response(
        content=body,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="ocds-procurement-{procurement_id}.json"',
            **web.SECURITY_HEADERS,
        },
    )


# ---------------------------------------------------------------- a contract


@get("/procurement/contracts/{contract_id:int}", name="console-procurement-contract")
async def contract_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, contract_id: PathId
) -> Response[str]:
    found = await contracts.read_contract(session, principal, contract_id)
    c = (await readmodels.contracts_out(session, [found]))[0]
    write = may_write(principal)
    rows: list[dict[str, Any]] = []
    for m in c.milestones:
        files = [e for e in m.evidence if e.get("sha256")]
        named = [e for e in m.evidence if not e.get("sha256")]
        rows.append(
            {
                "m": m,
                "kind": contracts.MILESTONE_KINDS.get(m.kind, m.kind),
                "files": files,
                "named": named,
                "payable_fen": m.amount_fen - m.paid_fen if m.status == "accepted" else 0,
                "overdue": m.status != "accepted" and m.due_on < clock.today(),
                "may_accept": write and c.status == "active" and m.status != "accepted",
            }
        )
    owed = sum(m.amount_fen - m.paid_fen for m in c.milestones if m.status == "accepted")
    return web.render(
        "procurement_contract.html",
        c=c,
        owed_fen=owed,
        release_fen=max(c.amount_fen - c.paid_fen - owed, 0),
        rows=rows,
        status_label=contracts.CONTRACT_STATUSES.get(c.status, c.status),
        payable=[r for r in rows if int(r["payable_fen"]) > 0],
        may_write=write,
        allowed=evidence.ALLOWED_TEXT,
        max_mb=evidence.MAX_BYTES // (1024 * 1024),
        today=clock.today(),
        done=done_message(request.query_params.get("done")),
        **web.page_context(request, principal, "procurement"),
    )


@post(
    "/procurement/contracts/{contract_id:int}/milestones/{milestone_id:int}/evidence",
    name="console-procurement-evidence",
)
async def upload_evidence(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    contract_id: PathId,
    milestone_id: PathId,
) -> Response[str]:
    target = f"#evidence-errors-{milestone_id}"
    try:
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid.field("file", "请选择要上传的证明材料文件 (choose a file)")
        raw = await upload.read(evidence.MAX_BYTES + 1)
        await evidence.add_file(
            session, principal, settings.data_dir, contract_id, milestone_id, upload.filename or "", raw
        )
    except DomainError as exc:
        return await refused(request, session, exc, target)
    return redirect(request, f"/admin/procurement/contracts/{contract_id}?done=evidence#milestone-{milestone_id}")


@get(
    "/procurement/contracts/{contract_id:int}/milestones/{milestone_id:int}/evidence/{sha256:str}",
    name="console-procurement-evidence-file",
)
async def evidence_file(
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    contract_id: PathId,
    milestone_id: PathId,
    sha256: Sha256,
) -> Response[bytes]:
    found = await evidence.read_file(session, principal, settings.data_dir, contract_id, milestone_id, sha256)
    return Response(
        content=found.content,
        media_type=found.content_type,
        headers={
            **web.SECURITY_HEADERS,
            "content-disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "x-content-sha256": found.sha256,
        },
    )


@post("/procurement/contracts/{contract_id:int}/payments", name="console-procurement-pay")
async def pay(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    contract_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        values: dict[str, Any] = {
            "milestone_id": number(form, "milestone_id", "节点"),
            "amount_fen": fen(form, "amount", "支付金额"),
            "memo": text(form, "memo"),
        }
        paid_on = day(form, "paid_on", "支付日期")
        if paid_on is not None:
            values["paid_on"] = paid_on.isoformat()
        await contracts.add_payment(session, principal, contract_id, parse(PaymentIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#pay-errors")
    return redirect(request, f"/admin/procurement/contracts/{contract_id}?done=paid")


@post("/procurement/contracts/{contract_id:int}/amendments", name="console-procurement-amend")
async def amend(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    contract_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        reason = text(form, "reason", required="变更理由")
        values = {
            "delta_fen": fen(form, "delta", "变更金额", signed=True),
            "reason": reason,
            "document_no": text(form, "document_no"),
        }
        await contracts.amend(session, principal, contract_id, parse(AmendmentIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#amend-errors")
    return redirect(request, f"/admin/procurement/contracts/{contract_id}?done=amended")


@post("/procurement/contracts/{contract_id:int}/evaluation", name="console-procurement-evaluate")
async def evaluate(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    contract_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    try:
        comments = text(form, "comments", required="评价意见")
        values = {"score": number(form, "score", "评分"), "comments": comments}
        await contracts.evaluate(session, principal, contract_id, parse(EvaluationIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#evaluate-errors")
    return redirect(request, f"/admin/procurement/contracts/{contract_id}?done=evaluated")


@post("/procurement/contracts/{contract_id:int}/terminate", name="console-procurement-terminate")
async def terminate(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    contract_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """解除合同, confirmed by a tick: the unpaid amount not owed for accepted work goes back to the line."""
    try:
        reason = text(form, "reason", required="解除合同的理由")
        if form.get("confirm") != "yes":
            raise Invalid.field("confirm", "请勾选确认：解除合同后不能恢复 (confirm the termination)")
        values: dict[str, Any] = {"reason": reason}
        on = day(form, "terminated_on", "解除日期")
        if on is not None:
            values["terminated_on"] = on.isoformat()
        await contracts.terminate(session, principal, contract_id, parse(TerminationIn, values))
    except DomainError as exc:
        return await refused(request, session, exc, "#terminate-errors")
    return redirect(request, f"/admin/procurement/contracts/{contract_id}?done=terminated")


ROUTES = [
    budget_page,
    line_page,
    adjust,
    new_page,
    rules_answer,
    create,
    procurement_page,
    add_bid,
    award,
    end,
    sign,
    ocds,
    contract_page,
    upload_evidence,
    evidence_file,
    pay,
    amend,
    evaluate,
    approve,
    terminate,
]
