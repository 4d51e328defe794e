"""HTTP for allowance decisions (propose → review → approve, with an effective month) and payees."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody

from marketplace.cases import eligibility
from marketplace.cases.crypto import field_cipher
from marketplace.cases.eligibility_schemas import (
    ApprovalIn,
    DecisionIn,
    DecisionList,
    DecisionOut,
    PayeeIn,
    PayeeOut,
    ReviewIn,
)
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import BodyId, PathId
from marketplace.pagination import provide_page


class ChildAllowanceController(Controller):
    path = "/api/v1/children"
    tags = ["cases"]

    @post(
        "/{child_id:int}/allowance-decisions",
        operation_id="proposeAllowanceDecision",
        summary="儿童主任申请认定或停发生活补贴（附证明材料）",
    )
    async def propose(
        self, child_id: PathId, data: JSONBody[DecisionIn], session: DbSession, principal: CurrentUser
    ) -> DecisionOut:
        decision = await eligibility.propose(session, principal, child_id, data)
        return await self._out(session, principal, decision.id)

    async def _out(self, session: DbSession, principal: CurrentUser, decision_id: int) -> DecisionOut:
        decision, name = await eligibility.read_decision(session, principal, decision_id)
        return eligibility.decision_out(decision, name)

    @post("/{child_id:int}/allowance-payee", operation_id="setAllowancePayee", summary="登记补贴收款人与银行账户")
    async def set_payee(
        self,
        child_id: PathId,
        data: JSONBody[PayeeIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> PayeeOut:
        payee = await eligibility.set_payee(session, principal, field_cipher(settings), child_id, data)
        return eligibility.payee_out(payee)

    @get("/{child_id:int}/allowance-payee", operation_id="getAllowancePayee", summary="补贴收款人（账号脱敏）")
    async def payee(self, child_id: PathId, session: DbSession, principal: CurrentUser) -> PayeeOut:
        return eligibility.payee_out(await eligibility.read_payee(session, principal, child_id))


class AllowanceDecisionController(Controller):
    path = "/api/v1/allowance-decisions"
    tags = ["cases"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @get("/", operation_id="listAllowanceDecisions", summary="补贴认定与停发（按权限范围）")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Literal["proposed", "reviewed", "approved", "rejected"] | None] = None,
        child_id: FromQuery[BodyId | None] = None,
    ) -> DecisionList:
        rows, total = await eligibility.list_decisions(
            session, principal, status=status, child_id=child_id, limit=page.limit, offset=page.offset
        )
        return DecisionList(items=[eligibility.decision_out(d, name) for d, name in rows], total=total)

    @get("/{decision_id:int}", operation_id="getAllowanceDecision", summary="补贴认定详情")
    async def one(self, decision_id: PathId, session: DbSession, principal: CurrentUser) -> DecisionOut:
        decision, name = await eligibility.read_decision(session, principal, decision_id)
        return eligibility.decision_out(decision, name)

    @post(
        "/{decision_id:int}/review", operation_id="reviewAllowanceDecision", summary="街道督导员审核", status_code=200
    )
    async def review(
        self, decision_id: PathId, data: JSONBody[ReviewIn], session: DbSession, principal: CurrentUser
    ) -> DecisionOut:
        decision = await eligibility.review(session, principal, decision_id, data)
        decision, name = await eligibility.read_decision(session, principal, decision.id)
        return eligibility.decision_out(decision, name)

    @post(
        "/{decision_id:int}/decide",
        operation_id="decideAllowanceDecision",
        summary="区民政局审批（批准时定生效月份）",
        status_code=200,
    )
    async def decide(
        self,
        decision_id: PathId,
        data: JSONBody[ApprovalIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> DecisionOut:
        decision = await eligibility.decide(session, principal, settings, decision_id, data)
        decision, name = await eligibility.read_decision(session, principal, decision.id)
        return eligibility.decision_out(decision, name)


ROUTES = [ChildAllowanceController, AllowanceDecisionController]
