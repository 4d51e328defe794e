"""HTTP for festival plans (节日慰问计划) and their runs. Rules live in ``festivals``; the runs' sign-off, bank file
and payment are the allowance runs' own endpoints (/allowances/runs/{id}/...)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.deps import CurrentUser, DbSession
from marketplace.ids import PathId
from marketplace.procurement import allowances, festivals
from marketplace.procurement.festival_models import FestivalPlan
from marketplace.procurement.festival_schemas import (
    FestivalAmountOut,
    FestivalLineOut,
    FestivalPlanIn,
    FestivalPlanOut,
    FestivalPlanPatch,
    FestivalPlanRunsOut,
    FestivalRunOut,
)
from marketplace.resources.taxonomy import CHILD_CATEGORIES


def run_out(r: festivals.PlanRun) -> FestivalRunOut:
    return FestivalRunOut(
        run_id=r.run.id,
        plan_id=r.link.plan_id,
        plan_version=r.version,
        supplementary=r.link.supplementary,
        title=r.run.title,
        status=r.run.status,
        status_label=allowances.RUN_STATUSES.get(r.run.status, r.run.status),
        month=r.run.month,
        pay_date=r.run.pay_date,
        paid_count=r.run.paid_count,
        total_fen=r.run.total_fen,
        created_at=r.run.created_at,
    )


async def plans_out(session: AsyncSession, plans: list[FestivalPlan]) -> list[FestivalPlanOut]:
    lines = await festivals.line_figures(session, sorted({p.line_id for p in plans}))
    runs = await festivals.runs_of(session, plans)
    out = []
    for plan in plans:
        line, fig = lines[plan.line_id]
        out.append(
            FestivalPlanOut(
                id=plan.id,
                year=plan.year,
                festival=plan.festival,
                festival_label=festivals.festival_label(plan.festival),
                version=plan.version,
                current=plan.current is True,
                supersedes_id=plan.supersedes_id,
                title=plan.title,
                pay_date=plan.pay_date,
                line=FestivalLineOut(
                    id=line.id,
                    code=line.code,
                    name=line.name,
                    budget_id=line.budget_id,
                    appropriation_fen=fig.appropriation_fen,
                    committed_fen=fig.committed_fen,
                    paid_fen=fig.paid_fen,
                    available_fen=fig.available_fen,
                ),
                amounts=[
                    FestivalAmountOut(category=c, label=CHILD_CATEGORIES.get(c, c), amount_fen=int(plan.amounts[c]))
                    for c in CHILD_CATEGORIES
                    if c in plan.amounts
                ],
                note=plan.note,
                editable=festivals.is_editable(plan, runs[plan.id]),
                created_by=plan.created_by,
                created_at=plan.created_at,
                updated_at=plan.updated_at,
            )
        )
    return out


async def plan_out(session: AsyncSession, plan: FestivalPlan) -> FestivalPlanOut:
    return (await plans_out(session, [plan]))[0]


class FestivalPlanController(Controller):
    path = "/api/v1/allowances/festival-plans"
    tags = ["procurement"]

    @get("/", operation_id="listFestivalPlans", summary="节日慰问计划（按年度；默认只列在用版本）")
    async def list_plans(
        self,
        session: DbSession,
        principal: CurrentUser,
        year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
        all_versions: Annotated[bool, QueryParameter(description="含已被取代的旧版本")] = False,
    ) -> list[FestivalPlanOut]:
        plans = await festivals.list_plans(session, principal, year=year, all_versions=all_versions)
        return await plans_out(session, plans)

    @post("/", operation_id="createFestivalPlan", summary="新建某年某节日的慰问计划（发放日期、列支科目、各类别金额）")
    async def create(
        self, data: JSONBody[FestivalPlanIn], session: DbSession, principal: CurrentUser
    ) -> FestivalPlanOut:
        return await plan_out(session, await festivals.create_plan(session, principal, data))

    @get("/{plan_id:int}", operation_id="getFestivalPlan", summary="节日慰问计划及其列支科目的当前数字")
    async def one(self, plan_id: PathId, session: DbSession, principal: CurrentUser) -> FestivalPlanOut:
        return await plan_out(session, await festivals.get_plan(session, principal, plan_id))

    @patch("/{plan_id:int}", operation_id="updateFestivalPlan", summary="修改尚未编制名册的慰问计划")
    async def update(
        self, plan_id: PathId, data: JSONBody[FestivalPlanPatch], session: DbSession, principal: CurrentUser
    ) -> FestivalPlanOut:
        return await plan_out(session, await festivals.update_plan(session, principal, plan_id, data))

    @post(
        "/{plan_id:int}/versions",
        operation_id="versionFestivalPlan",
        summary="另立慰问计划的新版本（原版本留档；已编制名册后只能这样修改）",
    )
    async def version(
        self, plan_id: PathId, data: JSONBody[FestivalPlanPatch], session: DbSession, principal: CurrentUser
    ) -> FestivalPlanOut:
        return await plan_out(session, await festivals.new_version(session, principal, plan_id, data))

    @get("/{plan_id:int}/runs", operation_id="listFestivalPlanRuns", summary="该节日本年度的发放批次（含补发）")
    async def runs(self, plan_id: PathId, session: DbSession, principal: CurrentUser) -> list[FestivalRunOut]:
        _, runs = await festivals.plan_runs(session, principal, plan_id)
        return [run_out(r) for r in runs]

    @post(
        "/{plan_id:int}/runs",
        operation_id="runFestivalPlan",
        summary="按计划编制发放名册（可重复执行：只补发尚未发放的儿童；无新增时返回 200 与已有批次）",
        responses={200: ResponseSpec(FestivalPlanRunsOut, description="没有新增对象：已有批次，未编制新名册")},
    )
    async def run(self, plan_id: PathId, session: DbSession, principal: CurrentUser) -> Response[FestivalPlanRunsOut]:
        outcome = await festivals.run_plan(session, principal, plan_id)
        body = FestivalPlanRunsOut(
            plan_id=outcome.plan.id,
            created=outcome.created is not None,
            run=run_out(outcome.created) if outcome.created else None,
            runs=[run_out(r) for r in outcome.runs],
            already_paid=outcome.already_paid,
            missing_payee=outcome.missing_payee,
            not_covered=outcome.not_covered,
        )
        return Response(body, status_code=201 if outcome.created else 200)


ROUTES = [FestivalPlanController]
