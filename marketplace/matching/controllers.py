from __future__ import annotations

import dataclasses

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import JSONBody

from marketplace.deps import AppSettings, CurrentUser, Db, DbSession, PageParams
from marketplace.ids import PathId
from marketplace.matching import batch
from marketplace.matching import service as matching
from marketplace.matching.models import MatchingRun
from marketplace.matching.schemas import (
    AssignmentOut,
    CandidateOut,
    MatchIn,
    MatchOut,
    RunIn,
    RunList,
    RunOut,
    UnassignedOut,
)
from marketplace.pagination import provide_page


def run_out(run: MatchingRun) -> RunOut:
    return RunOut(
        id=run.id,
        street_id=run.street_id,
        month=run.month,
        created_at=run.created_at,
        needs_count=run.needs_count,
        services_count=run.services_count,
        total_score=run.total_score,
        optimal=run.optimal,
        duration_ms=run.duration_ms,
        assignments=[AssignmentOut(**a) for a in run.assignments],
        unassigned=[UnassignedOut(**u) for u in run.unassigned],
    )


class MatchController(Controller):
    path = "/api/v1/needs"
    tags = ["matching"]

    @post(
        "/{need_id:int}/matches",
        operation_id="matchNeed",
        summary="为需求匹配服务（含五社联动方案）",
        status_code=200,
        opt={"read_only": True},  # computes a proposal and stores nothing: no write lock taken
    )
    async def match(
        self,
        need_id: PathId,
        db: Db,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        data: JSONBody[MatchIn | None] = None,
    ) -> MatchOut:
        limit = data.limit if data is not None else 10
        found, candidates, eligible = await matching.match_need(db, session, principal, settings, need_id, limit)
        return MatchOut(
            need_id=found,
            eligible=eligible,
            weights={k: float(v) for k, v in dataclasses.asdict(settings.match_weights).items()},
            candidates=[
                CandidateOut(
                    service_id=c.scored.service.service_id,
                    organization_id=c.scored.service.organization_id,
                    service_title=c.scored.service.title,
                    organization_name=c.scored.service.organization_name,
                    score=c.scored.score,
                    components=c.scored.components,
                    reasons=c.scored.reasons,
                    plan=c.plan,
                )
                for c in candidates
            ],
        )


class RunController(Controller):
    path = "/api/v1/matching/runs"
    tags = ["matching"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @post("/", operation_id="runMatching", summary="批量匹配（最小费用流，最优）", status_code=201)
    async def run(
        self, session: DbSession, principal: CurrentUser, settings: AppSettings, data: JSONBody[RunIn | None] = None
    ) -> RunOut:
        street_id = data.street_id if data is not None else None
        return run_out(await batch.run_batch(session, principal, settings, street_id))

    @get("/", operation_id="listMatchingRuns", summary="批量匹配记录")
    async def list(self, session: DbSession, principal: CurrentUser, page: PageParams) -> RunList:
        rows, total = await matching.list_runs(session, principal, limit=page.limit, offset=page.offset)
        return RunList(items=[run_out(r) for r in rows], total=total)

    @get("/{run_id:int}", operation_id="getMatchingRun", summary="批量匹配结果")
    async def read(self, run_id: PathId, session: DbSession, principal: CurrentUser) -> RunOut:
        return run_out(await matching.get_run(session, principal, run_id))


ROUTES = [MatchController, RunController]
