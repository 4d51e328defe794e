"""十防 safety checks and graded warnings over HTTP (rules and scope in ``safety.service``)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace import clock
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.safety import service as safety
from marketplace.safety.schemas import (
    SafetyAcknowledgeIn,
    SafetyActionIn,
    SafetyCheckIn,
    SafetyCheckList,
    SafetyCheckOut,
    SafetyPreventionList,
    SafetyWarningList,
    SafetyWarningOut,
)

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
Grade = Literal["red", "orange", "yellow", "blue"]
Status = Literal["active", "open", "acknowledged", "escalated", "resolved"]


class PreventionController(Controller):
    path = "/api/v1/safety/preventions"
    tags = ["safety"]

    @get("/", operation_id="listSafetyPreventions", summary="十防类别、检查项与季节（当日应检查的标出）")
    async def list_all(self, principal: CurrentUser) -> SafetyPreventionList:
        return safety.preventions(clock.today())


class ChildCheckController(Controller):
    path = "/api/v1/children/{child_id:int}/safety-checks"
    tags = ["safety"]
    dependencies = PAGE

    @get("/", operation_id="listSafetyChecks", summary="儿童的十防检查（含本季应查未查的类别）")
    async def list_all(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> SafetyCheckList:
        rows, total, child = await safety.list_checks(
            session, principal, child_id, limit=page.limit, offset=page.offset
        )
        season, due, missing = await safety.due_status(session, child.id, clock.today())
        return SafetyCheckList(
            items=await safety.present_checks(session, rows), total=total, season=season, due=due, due_missing=missing
        )

    @post("/", operation_id="createSafetyCheck", summary="记录一次十防检查（逐项填写；更正须注明被更正的检查）")
    async def create(
        self, child_id: PathId, data: JSONBody[SafetyCheckIn], session: DbSession, principal: CurrentUser
    ) -> SafetyCheckOut:
        check = await safety.create_check(session, principal, child_id, data)
        return (await safety.present_checks(session, [check]))[0]


class SafetyController(Controller):
    path = "/api/v1/safety"
    tags = ["safety"]
    dependencies = PAGE

    @get("/checks/{check_id:int}", operation_id="getSafetyCheck", summary="十防检查详情")
    async def read_check(self, check_id: PathId, session: DbSession, principal: CurrentUser) -> SafetyCheckOut:
        check = await safety.read_check(session, principal, check_id)
        return (await safety.present_checks(session, [check]))[0]

    @get("/warnings", operation_id="listSafetyWarnings", summary="分级预警（含各等级数量；已升级的排在前）")
    async def list_warnings(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        grade: FromQuery[Grade | None] = None,
        status: FromQuery[Status | None] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        community_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> SafetyWarningList:
        rows, total, counts = await safety.list_warnings(
            session,
            principal,
            grade=grade,
            status=status,
            street_id=street_id,
            community_id=community_id,
            limit=page.limit,
            offset=page.offset,
        )
        return SafetyWarningList(items=await safety.present(session, principal, rows), total=total, counts=counts)

    @get("/warnings/{warning_id:int}", operation_id="getSafetyWarning", summary="预警详情（原因与历史）")
    async def read_warning(self, warning_id: PathId, session: DbSession, principal: CurrentUser) -> SafetyWarningOut:
        return await safety.read_warning(session, principal, warning_id)

    @post(
        "/warnings/{warning_id:int}/acknowledge",
        operation_id="acknowledgeSafetyWarning",
        summary="儿童主任处置预警并记录措施",
        status_code=200,
    )
    async def acknowledge(
        self, warning_id: PathId, data: JSONBody[SafetyAcknowledgeIn], session: DbSession, principal: CurrentUser
    ) -> SafetyWarningOut:
        await safety.acknowledge(session, principal, warning_id, data)
        return await safety.read_warning(session, principal, warning_id)

    @post(
        "/warnings/{warning_id:int}/actions",
        operation_id="addSafetyWarningAction",
        summary="记录处置措施（儿童主任）或督导意见（已升级的预警：街道督导员、区民政局）",
        status_code=200,
    )
    async def add_action(
        self, warning_id: PathId, data: JSONBody[SafetyActionIn], session: DbSession, principal: CurrentUser
    ) -> SafetyWarningOut:
        await safety.add_action(session, principal, warning_id, data)
        return await safety.read_warning(session, principal, warning_id)


ROUTES = [PreventionController, ChildCheckController, SafetyController]
