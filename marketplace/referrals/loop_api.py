"""The closed loop's endpoints: a matching run's proposals sent as referrals, and a child's loop timeline."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.ids import PathId
from marketplace.referrals import dispatch as dispatching
from marketplace.referrals import timeline
from marketplace.referrals.loop_schemas import DispatchedOut, DispatchIn, DispatchOut, SkippedOut, TimelineOut


class RunReferralController(Controller):
    path = "/api/v1/matching/runs"
    tags = ["matching", "referrals"]

    @post(
        "/{run_id:int}/referrals",
        operation_id="dispatchMatchingRun",
        summary="将批量匹配方案转为转介（逐个核对同意）",
        status_code=200,
    )
    async def dispatch(
        self,
        run_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        data: JSONBody[DispatchIn | None] = None,
    ) -> DispatchOut:
        body = data if data is not None else DispatchIn()
        done = await dispatching.dispatch(
            session, principal, settings, run_id, need_ids=body.need_ids, share_note=body.share_note
        )
        return DispatchOut(
            run_id=done.run_id,
            created=[DispatchedOut(**c) for c in done.created],
            skipped=[SkippedOut(**s) for s in done.skipped],
        )


class ChildTimelineController(Controller):
    path = "/api/v1/children"
    tags = ["cases"]

    @get(
        "/{child_id:int}/timeline",
        operation_id="getChildTimeline",
        summary="儿童闭环时间线（监测→报告→处置→评估→帮扶→干预）",
    )
    async def read(self, child_id: PathId, session: DbSession, principal: CurrentUser) -> TimelineOut:
        return await timeline.build(session, principal, child_id)
