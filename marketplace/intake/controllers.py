"""``/api/v1/intakes``: hotline calls and public reports taken in, read and triaged (``intake.service``)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.intake import service
from marketplace.intake.schemas import Channel, IntakeIn, IntakeList, IntakeOut, TriageIn
from marketplace.pagination import provide_page


class IntakeController(Controller):
    path = "/api/v1/intakes"
    tags = ["intake"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @post("/", operation_id="createIntake", summary="登记来电或群众反映")
    async def create(self, data: JSONBody[IntakeIn], session: DbSession, principal: CurrentUser) -> IntakeOut:
        intake, told = await service.create(session, principal, data)
        (out,) = await service.present(session, principal, [intake], {intake.id: told})
        return out

    @get("/", operation_id="listIntakes", summary="来电与群众反映列表（逾期未研判在前）")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Literal["new", "triaged"] | None] = None,
        channel: FromQuery[Channel | None] = None,
        urgency: Annotated[int | None, QueryParameter(ge=1, le=4)] = None,
        community_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        child_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        overdue: FromQuery[bool | None] = None,
    ) -> IntakeList:
        rows, total = await service.list_intakes(
            session,
            principal,
            status=status,
            channel=channel,
            urgency=urgency,
            community_id=community_id,
            child_id=child_id,
            overdue=overdue,
            limit=page.limit,
            offset=page.offset,
        )
        return IntakeList(items=await service.present(session, principal, rows), total=total)

    @get("/{intake_id:int}", operation_id="getIntake", summary="来电登记详情")
    async def read(self, intake_id: PathId, session: DbSession, principal: CurrentUser) -> IntakeOut:
        (out,) = await service.present(session, principal, [await service.read(session, principal, intake_id)])
        return out

    @post(
        "/{intake_id:int}/triage",
        operation_id="triageIntake",
        summary="研判：强制报告、需求、建档或不予处理",
        status_code=200,
    )
    async def triage(
        self,
        intake_id: PathId,
        data: JSONBody[TriageIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> IntakeOut:
        intake = await service.triage(session, principal, settings, intake_id, data)
        (out,) = await service.present(session, principal, [intake])
        return out


ROUTES = [IntakeController]
