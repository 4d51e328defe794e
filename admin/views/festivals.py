"""Festival condolences in the console (节日慰问): the year's plans with their amounts per child category, the budget
line's figures, each plan's runs with their status and totals; a plan created or edited (a new version once it has a
run); "编制发放名册" prepares its run (or its 补发), whose sign-off, bank file and payment are on the run's page.

The same services and rules as the API (``marketplace.procurement.festivals``): the district admin and the
procurement officer write, the auditor reads. A refused form: the page again with the message beside the form and
the values posted, nothing changed (``web.render_form_error``). The page names no child (counts only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select

from admin import web
from marketplace import clock, tabular
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.ids import PathId
from marketplace.procurement import allowance_controllers, allowances, festivals
from marketplace.procurement import allowance_oneoff as oneoff
from marketplace.procurement.festival_schemas import FestivalPlanIn, FestivalPlanPatch
from marketplace.resources.taxonomy import CHILD_CATEGORIES

FORM_ERRORS = (Invalid, Conflict)
LABELS = {
    "year": "年度",
    "festival": "节日",
    "pay_date": "发放日期",
    "line_id": "列支科目",
    "amounts": "各类别金额",
    "note": "备注",
}
DONE = {
    "created": "已新建慰问计划",
    "saved": "已保存慰问计划",
    "versioned": "已另立慰问计划新版本，原版本留档",
    "nothing": "没有新增的发放对象：本节日已发放（或已编入名册）的儿童不会重复发放，未编制新名册",
}
ROLES = frozenset({"district_admin", "auditor", "procurement_officer"})


def _require(principal: Principal) -> None:
    if principal.role not in ROLES:
        raise Forbidden("无权查看节日慰问 (this role has no festival page)")


def _year(raw: int | None) -> int:
    return raw if raw is not None else clock.today().year


async def _context(session: DbSession, principal: Principal, year: int) -> dict[str, Any]:
    _require(principal)
    every = await festivals.list_plans(session, principal, year=year, all_versions=True)
    current = [p for p in every if p.current is True]
    runs = await festivals.runs_of(session, current)
    lines = await festivals.line_figures(session, sorted({p.line_id for p in every}))
    year_lines = await festivals.year_lines(session, principal, year)
    people = {p.created_by for p in current} | {p.updated_by for p in current}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_([i for i in people if i])))
    names = {int(uid): name for uid, name in rows.all()}
    plans = []
    for plan in current:
        line, _fig = lines[plan.line_id]
        plan_runs = runs[plan.id]
        plans.append(
            {
                "id": plan.id,
                "title": plan.title,
                "festival": plan.festival,
                "label": festivals.festival_label(plan.festival),
                "version": plan.version,
                "pay_date": plan.pay_date,
                "line_id": plan.line_id,
                "line_name": line.name,
                "note": plan.note,
                "set_by": names.get(plan.updated_by or 0) or names.get(plan.created_by or 0, ""),
                "set_at": plan.updated_at,
                "amounts": [
                    (c, CHILD_CATEGORIES[c], int(plan.amounts[c])) for c in CHILD_CATEGORIES if c in plan.amounts
                ],
                "raw_amounts": {c: int(v) for c, v in plan.amounts.items()},
                "editable": festivals.is_editable(plan, plan_runs),
                "older": [p for p in every if p.festival == plan.festival and p.current is not True],
                "runs": [
                    {
                        "id": r.run.id,
                        "title": oneoff.run_title(r.run),
                        "version": r.version,
                        "supplementary": r.link.supplementary,
                        "status": r.run.status,
                        "status_label": allowances.RUN_STATUSES.get(r.run.status, r.run.status),
                        "paid_count": r.run.paid_count,
                        "total_fen": r.run.total_fen,
                        "created_at": r.run.created_at,
                    }
                    for r in plan_runs
                ],
            }
        )
    figures = [{"line": line, "figures": fig} for line, fig in (lines[i] for i in sorted({p.line_id for p in current}))]
    return {
        "year": year,
        "plans": plans,
        "line_figures": figures,
        "lines": [{"id": line.id, "label": f"{line.name}（{line.code}）"} for line in year_lines],
        "festivals": festivals.FESTIVALS,
        "categories": CHILD_CATEGORIES,
        "free_festivals": {c: n for c, n in festivals.FESTIVALS.items() if c not in {p.festival for p in current}},
        "may_write": principal.role in festivals.WRITERS,
        "fen_input": _fen_input,
    }


def _fen_input(fen: int | None) -> str:
    """Fen as the yuan a form shows (60000 → 600, 60050 → 600.50)."""
    if fen is None:
        return ""
    yuan, cents = divmod(int(fen), 100)
    return f"{yuan}.{cents:02d}" if cents else str(yuan)


def _amounts(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-category amounts typed in yuan (blank: the category is not paid)."""
    out = []
    for code, label in CHILD_CATEGORIES.items():
        text = web.posted(form, f"cat_{code}")
        if not text:
            continue
        fen = web.parse_yuan(text)
        if fen is None or fen <= 0:
            raise Invalid.field("amounts", f"“{label}”的金额须为大于 0 的元数，最多两位小数 (amount in yuan)")
        out.append({"category": code, "amount_fen": fen})
    if not out:
        raise Invalid.field("amounts", "请至少为一个儿童类别填写慰问金额 (an amount per category is required)")
    return out


async def _page(
    request: Request[Any, Any, Any], session: DbSession, principal: Principal, year: int, **extra: Any
) -> Response[str]:
    context = await _context(session, principal, year)
    extra = {"failed_form": None, "values": {}, "error": None, "error_field": None, **extra}
    return web.render("festivals.html", **context, **extra, **web.page_context(request, principal, "festivals"))


@get("/allowances/festivals", name="console-festivals")
async def festivals_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    messages = [("ok", DONE[done])] if done in DONE else []
    return await _page(request, session, principal, _year(year), messages=messages)


async def _refused(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: Principal,
    exc: Exception,
    year: int,
    form_name: str,
    form: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _context(session, principal, year)

    return await web.render_form_error(
        request,
        session,
        exc,
        "festivals.html",
        principal=principal,
        active="festivals",
        reads=reads,
        failed_form=form_name,
        year=year,
        values={k: v for k, v in form.items() if isinstance(v, str)},
        messages=[],
    )


def _posted_year(form: Mapping[str, Any]) -> int:
    text = web.posted(form, "year")
    return int(text) if text.isdigit() and 2000 <= int(text) <= 2100 else clock.today().year


@post("/allowances/festivals", name="console-festival-create")
async def create_plan(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    """A new plan (POST /allowances/festival-plans): the amounts typed in yuan."""
    _require(principal)
    year = _posted_year(form)
    try:
        raw = {
            "year": web.posted(form, "year"),
            "festival": web.posted(form, "festival"),
            "pay_date": web.posted(form, "pay_date") or None,
            "line_id": web.posted(form, "line_id") or None,
            "note": web.posted(form, "note"),
            "amounts": _amounts(form),
        }
        if raw["pay_date"] is None:
            raise Invalid.field("pay_date", "请填写发放日期 (pay_date required)")
        if raw["line_id"] is None:
            raise Invalid.field("line_id", "请选择列支的预算科目 (line_id required)")
        plan = await festivals.create_plan(session, principal, web.parse_form(FestivalPlanIn, raw, LABELS))
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, year, "create", form)
    return web.after_change(request, f"/admin/allowances/festivals?year={plan.year}&done=created#plan-{plan.id}")


@post("/allowances/festivals/{plan_id:int}/edit", name="console-festival-edit")
async def edit_plan(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, plan_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    """Save a plan not yet run (PATCH /allowances/festival-plans/{id}) or, once it has a run, a new version of it
    (POST /allowances/festival-plans/{id}/versions)."""
    _require(principal)
    plan = await festivals.get_plan(session, principal, plan_id)
    year = plan.year
    try:
        raw: dict[str, Any] = {"note": web.posted(form, "note"), "amounts": _amounts(form)}
        if web.posted(form, "pay_date"):
            raw["pay_date"] = web.posted(form, "pay_date")
        if web.posted(form, "line_id"):
            raw["line_id"] = web.posted(form, "line_id")
        data = web.parse_form(FestivalPlanPatch, raw, LABELS)
        if web.posted(form, "mode") == "version":
            changed = await festivals.new_version(session, principal, plan_id, data)
            done = "versioned"
        else:
            changed = await festivals.update_plan(session, principal, plan_id, data)
            done = "saved"
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, year, f"edit-{plan_id}", form)
    return web.after_change(request, f"/admin/allowances/festivals?year={year}&done={done}#plan-{changed.id}")


@post("/allowances/festivals/{plan_id:int}/runs", name="console-festival-run")
async def run_plan(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, plan_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    """Prepare the plan's run (POST /allowances/festival-plans/{id}/runs): the run's page for its sign-off; with
    nobody new, the page says so and nothing is written."""
    _require(principal)
    plan = await festivals.get_plan(session, principal, plan_id)
    year = plan.year
    try:
        outcome = await festivals.run_plan(session, principal, plan_id)
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, year, f"run-{plan_id}", form)
    if outcome.created is None:
        return web.after_change(request, f"/admin/allowances/festivals?year={year}&done=nothing#plan-{plan_id}")
    missing = outcome.missing_payee
    return web.after_change(request, f"/admin/allowances/runs/{outcome.created.run.id}?done=prepared&missing={missing}")


@get("/allowances/runs/{run_id:int}/list", name="console-allowance-run-list")
async def run_list(
    session: DbSession,
    principal: CurrentUser,
    run_id: PathId,
    format: Annotated[str, QueryParameter(pattern="^(csv|xlsx)$")] = "xlsx",
) -> Response[bytes]:
    """A run's payment list as a file: the bytes GET /allowances/runs/{id}/list returns (and its audit row)."""
    _require(principal)
    run, payments, _ = await allowances.read_run(session, principal, run_id)
    response = tabular.download([allowance_controllers.payment_sheet(run, payments)], format, f"allowance-run-{run.id}")
    response.headers.update(web.SECURITY_HEADERS)
    return response


ROUTES = [festivals_page, create_plan, edit_plan, run_plan, run_list]
