"""The charity resources of the five-society plan (慈善资源): every fund by kind and street with its balances (the
public-welfare fund, the streets' foundations and micro-project funds); a fund's page with the district's
allocations, its micro-projects and their states, gifts and disbursements; forms to set up a fund, record an
allocation, and declare, approve, start and accept a project. The fund manager and the district write, the auditor
reads, a street's supervisor reads the own street's funds. A form the service refuses is shown again in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views.accountforms import FORM_ERRORS
from admin.views.funds_donations import yuan_to_fen
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.funds import donations, purposes, sources
from marketplace.funds import service as funds
from marketplace.funds.schemas import FundAllocationIn, FundIn, FundProjectIn
from marketplace.funds.taxonomy import FUND_KINDS, PROJECT_STATUSES, STREET_KINDS
from marketplace.geography.models import Community, Street
from marketplace.ids import PathId
from marketplace.resources.taxonomy import SERVICE_CATEGORIES

ACTIVE = "fund_sources"
LABELS = {
    "code": "基金代码",
    "name": "名称",
    "kind": "类型",
    "street_id": "所属街道",
    "year": "年度",
    "amount": "金额（元）",
    "amount_fen": "金额（元）",
    "key": "拨款文号",
    "received_on": "到账日期",
    "memo": "说明",
    "title": "项目名称",
    "category": "服务类别",
    "requested_fen": "申报金额（元）",
    "community_id": "社区",
    "description": "项目内容",
}
DONE = {
    "created": "基金已设立",
    "allocated": "区级下达已入账",
    "declared": "项目已申报",
    "approve": "项目已立项，金额已占用基金余额",
    "start": "项目已开始实施",
    "complete": "项目已验收并拨付，结余已退回基金",
    "reject": "项目不予立项",
}
ACTIONS = ("approve", "start", "complete", "reject")


def _may_write(principal: Principal) -> bool:
    return principal.role in sources.SOURCE_WRITERS


def _text(form: Mapping[str, Any], name: str) -> str:
    return web.posted(form, name)


def _optional_int(raw: str, field: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid.field(field, f"请检查“{LABELS.get(field, field)}”的填写 (invalid {field})")
    return int(raw)


async def _streets(session: AsyncSession) -> list[tuple[int, str]]:
    return [(int(i), str(n)) for i, n in (await session.execute(select(Street.id, Street.name).order_by(Street.id)))]


async def _rows(session: AsyncSession, rows: list[Any]) -> list[dict[str, Any]]:
    balances = await funds.funds_balances(session, rows)
    streets = await sources.street_names(session, {f.street_id for f in rows})
    return [
        {
            "id": b.fund.id,
            "name": b.fund.name,
            "kind": b.fund.kind,
            "kind_label": FUND_KINDS.get(b.fund.kind, b.fund.kind),
            "street": streets.get(b.fund.street_id, "") if b.fund.street_id is not None else "全区",
            "year": b.fund.year,
            "cash_fen": b.cash_fen,
            "balance_fen": b.balance_fen,
            "available_fen": b.unrestricted_fen,
            "held_fen": sum(v["available_fen"] for p, v in b.purposes.items() if p.startswith("project:")),
            "restricted_fen": b.restricted_fen,
        }
        for b in balances
    ]


async def _list_context(
    session: AsyncSession, principal: Principal, kind: str | None, street: int | None
) -> dict[str, Any]:
    rows = await sources.list_sources(session, principal, kind=kind, street_id=street)
    return {
        "funds": await _rows(session, rows),
        "kinds": FUND_KINDS,
        "street_kinds": sorted(STREET_KINDS),
        "streets": await _streets(session),
        "kind": kind or "",
        "street": street,
        "may_write": _may_write(principal),
        "this_year": clock.today().year,
        "values": {},
    }


@get("/funds/sources", name="console-fund-sources")
async def sources_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
    street: Annotated[int | None, QueryParameter(ge=1, le=2_000_000_000)] = None,
    done: Annotated[str, QueryParameter(max_length=20)] = "",
) -> Response[str]:
    """Every fund by kind and street, with its cash, what is available and what projects hold."""
    ctx = await _list_context(session, principal, kind or None, street)
    return web.render(
        "fund_sources.html", message=DONE.get(done, ""), **ctx, **web.page_context(request, principal, ACTIVE)
    )


@post("/funds/sources", name="console-fund-source-create")
async def create_source(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    values = {n: _text(form, n) for n in ("code", "name", "kind", "street_id", "year", "description")}
    try:
        data = web.parse_form(
            FundIn,
            {
                "code": values["code"],
                "name": values["name"],
                "kind": values["kind"],
                "street_id": _optional_int(values["street_id"], "street_id"),
                "year": _optional_int(values["year"], "year"),
                "description": values["description"],
            },
            LABELS,
        )
        fund = await sources.create_source(
            session,
            principal,
            code=data.code,
            name=data.name,
            kind=data.kind,
            street_id=data.street_id,
            year=data.year,
            description=data.description,
            public=True,
        )
    except FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            return await _list_context(session, principal, None, None)

        return await web.render_form_error(
            request,
            session,
            exc,
            "fund_sources.html",
            principal=principal,
            active=ACTIVE,
            reads=reads,
            values=values,
            message="",
        )
    return web.after_change(request, f"/admin/funds/sources/{fund.id}?done=created")


# ---------------------------------------------------------------------------------------------- a fund's page


async def _fund_context(session: AsyncSession, principal: Principal, fund_id: int) -> dict[str, Any]:
    fund = await sources.readable_fund(session, principal, fund_id)
    [row] = await _rows(session, [fund])
    projects, _ = await sources.list_projects(session, principal, fund.id, limit=200, offset=0)
    held = await sources.held_by_project(session, projects)
    rows = await session.execute(select(Community.id, Community.name).where(Community.street_id == fund.street_id))
    communities = {int(i): str(n) for i, n in rows.all()}
    gifts: list[dict[str, Any]] = []
    paid: list[dict[str, Any]] = []
    if principal.role in funds.READERS:  # a street's supervisor plans with the balances, not the donors
        given, _ = await donations.list_donations(
            session, principal, status=None, fund_id=fund.id, channel=None, limit=50, offset=0
        )
        gifts = [
            {
                "id": d.id,
                "donor": d.donor.name,
                "amount_fen": d.amount_fen,
                "channel": donations.CHANNELS.get(d.channel, d.channel),
                "status_label": donations.DONATION_STATUSES.get(d.status, d.status),
                "received_on": d.received_on,
            }
            for d in given
        ]
        spent, _ = await funds.list_disbursements(session, principal, fund.id, limit=50, offset=0)
        names = await purposes.labels(session, {d.purpose for d in spent})
        paid = [
            {
                "id": d.id,
                "paid_on": d.paid_on,
                "amount_fen": d.amount_fen,
                "purpose": names[d.purpose],
                "memo": d.memo,
                "status": "已冲销" if d.status == "reversed" else "已拨付",
            }
            for d in spent
        ]
    may = _may_write(principal)
    return {
        "fund": row,
        "allocations": await sources.list_allocations(session, principal, fund.id)
        if fund.kind == "micro_project"
        else [],
        "projects": [
            {
                "id": p.id,
                "title": p.title,
                "community": communities.get(p.community_id, "") if p.community_id else "",
                "category": SERVICE_CATEGORIES.get(p.category, p.category),
                "requested_fen": p.requested_fen,
                "approved_fen": p.approved_fen,
                "paid_fen": p.paid_fen,
                "held_fen": held.get(p.id, 0),
                "status": p.status,
                "status_label": PROJECT_STATUSES.get(p.status, p.status),
                "actions": sources.PROJECT_LIFECYCLE.allowed(p.status) if may else [],
            }
            for p in projects
        ],
        "gifts": gifts,
        "paid": paid,
        "communities": sorted(communities.items()),
        "categories": SERVICE_CATEGORIES,
        "may_write": may,
        "today": clock.today().isoformat(),
        "values": {},
        "form_name": "",
    }


@get("/funds/sources/{fund_id:int}", name="console-fund-source")
async def fund_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    fund_id: PathId,
    done: Annotated[str, QueryParameter(max_length=20)] = "",
) -> Response[str]:
    ctx = await _fund_context(session, principal, fund_id)
    return web.render(
        "fund_sources_fund.html", message=DONE.get(done, ""), **ctx, **web.page_context(request, principal, ACTIVE)
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    exc: Exception,
    form_name: str,
    values: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _fund_context(session, principal, fund_id)

    return await web.render_form_error(
        request,
        session,
        exc,
        "fund_sources_fund.html",
        principal=principal,
        active=ACTIVE,
        reads=reads,
        form_name=form_name,
        values=dict(values),
        message="",
    )


@post("/funds/sources/{fund_id:int}/allocations", name="console-fund-source-allocate")
async def record_allocation(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, fund_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    values = {n: _text(form, n) for n in ("amount", "key", "received_on", "memo")}
    try:
        data = web.parse_form(
            FundAllocationIn,
            {
                "amount_fen": yuan_to_fen(values["amount"], "amount"),
                "key": values["key"],
                "received_on": values["received_on"] or None,
                "memo": values["memo"],
            },
            LABELS,
        )
        await sources.allocate(
            session,
            principal,
            fund_id,
            amount_fen=data.amount_fen,
            key=data.key,
            received_on=data.received_on,
            memo=data.memo,
        )
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, fund_id, exc, "allocation", values)
    return web.after_change(request, f"/admin/funds/sources/{fund_id}?done=allocated")


@post("/funds/sources/{fund_id:int}/projects", name="console-fund-source-declare")
async def declare_project(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, fund_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    values = {n: _text(form, n) for n in ("title", "category", "amount", "community_id", "description")}
    try:
        data = web.parse_form(
            FundProjectIn,
            {
                "title": values["title"],
                "category": values["category"],
                "requested_fen": yuan_to_fen(values["amount"], "amount"),
                "community_id": _optional_int(values["community_id"], "community_id"),
                "description": values["description"],
            },
            LABELS,
        )
        await sources.create_project(
            session,
            principal,
            fund_id,
            title=data.title,
            category=data.category,
            requested_fen=data.requested_fen,
            community_id=data.community_id,
            description=data.description,
        )
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, fund_id, exc, "project", values)
    return web.after_change(request, f"/admin/funds/sources/{fund_id}?done=declared")


@post("/funds/projects/{project_id:int}/{action:str}", name="console-fund-project-step")
async def project_step(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    project_id: PathId,
    action: Annotated[str, PathParameter(max_length=20)],
    form: web.ConsoleForm,
) -> Response[str]:
    """A project's next step: 立项 (with the approved amount), 开始实施, 验收 (with the amount paid), 不予立项."""
    project = await sources.read_project(session, principal, project_id)
    fund_id = project.fund_id
    values = {"amount": _text(form, "amount"), "project_id": str(project_id), "action": action}
    try:
        if action not in ACTIONS:
            raise Invalid.field("action", f"未知操作 {action[:20]} (unknown step)")
        amount = yuan_to_fen(values["amount"], "amount") if values["amount"] else None
        if action == "approve":
            await sources.approve_project(session, principal, project_id, approved_fen=amount)
        elif action == "start":
            await sources.start_project(session, principal, project_id)
        elif action == "complete":
            await sources.complete_project(session, principal, project_id, paid_fen=amount)
        else:
            await sources.reject_project(session, principal, project_id)
    except FORM_ERRORS as exc:
        return await _refused(request, session, principal, fund_id, exc, f"step-{project_id}", values)
    return web.after_change(request, f"/admin/funds/sources/{fund_id}?done={action}#project-{project_id}")


ROUTES = [sources_page, create_source, fund_page, record_allocation, declare_project, project_step]
