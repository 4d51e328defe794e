"""`/api/v1/escalations`: the supervisor (of the child's street, for the steps that reached them) or the district acts
on an escalation step: acknowledge it, remind the one responsible, reassign an overdue visit (``cases.escalation``)."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.cases import escalation
from marketplace.cases.escalation_schemas import (
    AcknowledgeIn,
    DirectorOption,
    EscalationList,
    EscalationOut,
    ReassignIn,
    RemindIn,
)
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import PathId
from marketplace.pagination import provide_page

Kind = Literal["accept", "first_contact", "visit", "report_ack"]


class EscalationController(Controller):
    path = "/api/v1/escalations"
    tags = ["cases"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    async def _one(self, session: AsyncSession, principal: Principal, escalation_id: int) -> EscalationOut:
        row = await escalation.visible(session, principal, escalation_id)
        return (await escalation.present(session, principal, [row]))[0]

    @get("/", operation_id="listEscalations", summary="升级事项（默认只列未解除的）")
    async def list_all(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        open: FromQuery[bool] = True,
        kind: FromQuery[Kind | None] = None,
    ) -> EscalationList:
        rows, total = await escalation.list_escalations(
            session, principal, open_only=open, kind=kind, limit=page.limit, offset=page.offset
        )
        return EscalationList(items=await escalation.present(session, principal, rows), total=total)

    @get("/{escalation_id:int}", operation_id="getEscalation", summary="升级事项详情")
    async def read(self, escalation_id: PathId, session: DbSession, principal: CurrentUser) -> EscalationOut:
        return await self._one(session, principal, escalation_id)

    @get("/{escalation_id:int}/directors", operation_id="listEscalationDirectors", summary="可改派的本街道儿童主任")
    async def directors(
        self, escalation_id: PathId, session: DbSession, principal: CurrentUser
    ) -> list[DirectorOption]:
        return await escalation.directors_for(session, principal, escalation_id)

    @post(
        "/{escalation_id:int}/acknowledge",
        operation_id="acknowledgeEscalation",
        summary="已阅并说明后续安排",
        status_code=200,
    )
    async def acknowledge(
        self, escalation_id: PathId, data: JSONBody[AcknowledgeIn], session: DbSession, principal: CurrentUser
    ) -> EscalationOut:
        await escalation.acknowledge(session, principal, escalation_id, data)
        return await self._one(session, principal, escalation_id)

    @post("/{escalation_id:int}/remind", operation_id="remindEscalation", summary="督促责任人", status_code=200)
    async def remind(
        self,
        escalation_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        data: JSONBody[RemindIn | None] = None,
    ) -> EscalationOut:
        await escalation.remind(session, principal, escalation_id, data or RemindIn())
        return await self._one(session, principal, escalation_id)

    @post(
        "/{escalation_id:int}/reassign",
        operation_id="reassignEscalation",
        summary="改派逾期走访给本街道另一名儿童主任",
        status_code=200,
    )
    async def reassign(
        self, escalation_id: PathId, data: JSONBody[ReassignIn], session: DbSession, principal: CurrentUser
    ) -> EscalationOut:
        await escalation.reassign(session, principal, escalation_id, data)
        return await self._one(session, principal, escalation_id)
