"""`/api/v1/conferences` and `/api/v1/children/{child_id}/conferences`: case conferences (个案会商) for a child, their
decisions followed to done (``conferences.service``); `/api/v1/me/decisions`: the caller's open decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.conferences import service as conferences
from marketplace.conferences.schemas import (
    ConferenceCandidateOut,
    ConferenceDecisionDoneIn,
    ConferenceDecisionIn,
    ConferenceDecisionList,
    ConferenceDecisionReviseIn,
    ConferenceHeldIn,
    ConferenceIn,
    ConferenceList,
    ConferenceOut,
    ConferenceReasonIn,
)
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
Status = Literal["planned", "held", "closed", "cancelled"]


async def _one(session: AsyncSession, principal: Principal, conference_id: int) -> ConferenceOut:
    c = await conferences.visible(session, principal, conference_id)
    return (await conferences.present(session, principal, [c]))[0]


class ChildConferenceController(Controller):
    path = "/api/v1/children"
    tags = ["conferences"]

    @post("/{child_id:int}/conferences", operation_id="conveneConference", summary="为儿童召集个案会商")
    async def convene(
        self, child_id: PathId, data: JSONBody[ConferenceIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        c = await conferences.convene(session, principal, child_id, data)
        return (await conferences.present(session, principal, [c]))[0]

    @get(
        "/{child_id:int}/conference-candidates",
        operation_id="listConferenceCandidates",
        summary="可邀请参加个案会商的内部人员",
    )
    async def candidates(
        self, child_id: PathId, session: DbSession, principal: CurrentUser
    ) -> list[ConferenceCandidateOut]:
        return await conferences.candidates_for(session, principal, child_id)


class ConferenceController(Controller):
    path = "/api/v1/conferences"
    tags = ["conferences"]
    dependencies = PAGE

    @get("/", operation_id="listConferences", summary="个案会商列表")
    async def list_all(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Status | None] = None,
        child_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        mine: FromQuery[bool] = False,
        overdue: FromQuery[bool] = False,
    ) -> ConferenceList:
        rows, total = await conferences.list_conferences(
            session,
            principal,
            status=status,
            child_id=child_id,
            mine=mine,
            overdue=overdue,
            limit=page.limit,
            offset=page.offset,
        )
        return ConferenceList(items=await conferences.present(session, principal, rows), total=total)

    @get("/{conference_id:int}", operation_id="getConference", summary="个案会商详情")
    async def read(self, conference_id: PathId, session: DbSession, principal: CurrentUser) -> ConferenceOut:
        return await _one(session, principal, conference_id)

    @post("/{conference_id:int}/held", operation_id="holdConference", summary="记录会商召开（纪要、出席、决定）")
    async def held(
        self, conference_id: PathId, data: JSONBody[ConferenceHeldIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        await conferences.hold(session, principal, conference_id, data)
        return await _one(session, principal, conference_id)

    @post("/{conference_id:int}/decisions", operation_id="addConferenceDecision", summary="补充会商决定")
    async def decide(
        self, conference_id: PathId, data: JSONBody[ConferenceDecisionIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        await conferences.add_decision(session, principal, conference_id, data)
        return await _one(session, principal, conference_id)

    @post("/{conference_id:int}/cancel", operation_id="cancelConference", summary="取消会商", status_code=200)
    async def cancel(
        self, conference_id: PathId, data: JSONBody[ConferenceReasonIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        await conferences.cancel(session, principal, conference_id, data)
        return await _one(session, principal, conference_id)

    @post(
        "/decisions/{decision_id:int}/done", operation_id="completeConferenceDecision", summary="标记决定已落实",
        status_code=200,
    )  # fmt: skip
    async def done(
        self, decision_id: PathId, data: JSONBody[ConferenceDecisionDoneIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        d = await conferences.mark_done(session, principal, decision_id, data)
        return await _one(session, principal, d.conference_id)

    @post(
        "/decisions/{decision_id:int}/cancel", operation_id="cancelConferenceDecision", summary="撤销会商决定",
        status_code=200,
    )  # fmt: skip
    async def cancel_decision(
        self, decision_id: PathId, data: JSONBody[ConferenceReasonIn], session: DbSession, principal: CurrentUser
    ) -> ConferenceOut:
        d = await conferences.cancel_decision(session, principal, decision_id, data)
        return await _one(session, principal, d.conference_id)

    @post(
        "/decisions/{decision_id:int}/revise", operation_id="reviseConferenceDecision",
        summary="调整决定的负责人或完成期限（留存修订记录）", status_code=200,
    )  # fmt: skip
    async def revise(
        self,
        decision_id: PathId,
        data: JSONBody[ConferenceDecisionReviseIn],
        session: DbSession,
        principal: CurrentUser,
    ) -> ConferenceOut:
        d = await conferences.revise(session, principal, decision_id, data)
        return await _one(session, principal, d.conference_id)


class MyDecisionController(Controller):
    path = "/api/v1/me/decisions"
    tags = ["conferences"]
    dependencies = PAGE

    @get("/", operation_id="listMyDecisions", summary="我负责的待落实会商决定")
    async def mine(self, session: DbSession, principal: CurrentUser, page: PageParams) -> ConferenceDecisionList:
        items, total = await conferences.my_decisions(session, principal, limit=page.limit, offset=page.offset)
        return ConferenceDecisionList(items=items, total=total)


ROUTES = [ChildConferenceController, ConferenceController, MyDecisionController]
