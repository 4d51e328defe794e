"""`/api/v1/guardianship`, `/api/v1/children/{child_id}/...`: guardianship assessments under the instrument kept as
data, entrusted guardianship confirmations, temporary and long-term state guardianship (``guardianship.service``).

The child's director records; the street's supervisor and the district read; org staff and the money side see
nothing (403 on the lists, 404 on an object)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.errors import Forbidden
from marketplace.guardianship import service
from marketplace.guardianship.models import EntrustedGuardianship
from marketplace.guardianship.schemas import (
    AssessmentIn,
    AssessmentList,
    AssessmentOut,
    EndIn,
    EntrustedIn,
    EntrustedList,
    EntrustedOut,
    GuardianshipOut,
    InstrumentOut,
    LongTermIn,
    LongTermOut,
    RenewIn,
    TemporaryEndIn,
    TemporaryIn,
    TemporaryOut,
)
from marketplace.ids import PathId
from marketplace.pagination import provide_page

EntrustedStatus = Literal["active", "renewed", "ended", "lapsed"]


async def _entrusted(session: AsyncSession, principal: Principal, row: EntrustedGuardianship) -> EntrustedOut:
    child = await cases.load_child(session, row.child_id)
    return service.entrusted_out(row, child.name, principal.role)


class GuardianshipController(Controller):
    path = "/api/v1/guardianship"
    tags = ["guardianship"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @get("/instrument", operation_id="getGuardianshipInstrument", summary="监护评估量表（当前版本）")
    async def instrument(self, principal: CurrentUser) -> InstrumentOut:
        if principal.role in cases.NO_FILE_ACCESS:
            raise Forbidden("此角色无权进行监护评估 (this role does not assess guardianship)")
        return service.instrument_out()

    @get("/assessments/{assessment_id:int}", operation_id="getGuardianshipAssessment", summary="监护评估详情")
    async def assessment(self, assessment_id: PathId, session: DbSession, principal: CurrentUser) -> AssessmentOut:
        row = await service.read_assessment(session, principal, assessment_id)
        return (await service.present_assessments(session, [row]))[0]

    @get("/entrusted", operation_id="listEntrustedGuardianships", summary="委托监护确认书（按复核日期排序）")
    async def entrusted(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[EntrustedStatus | None] = None,
        due_within_days: Annotated[int | None, QueryParameter(ge=0, le=366)] = None,
    ) -> EntrustedList:
        rows, total = await service.list_entrusted(
            session,
            principal,
            service.EntrustedFilters(status=status, due_within_days=due_within_days),
            limit=page.limit,
            offset=page.offset,
        )
        return EntrustedList(items=[service.entrusted_out(e, name, principal.role) for e, name in rows], total=total)

    @post("/entrusted/{entrusted_id:int}/renew", operation_id="renewEntrustedGuardianship", summary="续签委托监护")
    async def renew(
        self,
        entrusted_id: PathId,
        data: JSONBody[RenewIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> EntrustedOut:
        row = await service.renew_entrusted(session, principal, settings, entrusted_id, data)
        return await _entrusted(session, principal, row)

    @post(
        "/entrusted/{entrusted_id:int}/end",
        operation_id="endEntrustedGuardianship",
        summary="终止委托监护",
        status_code=200,
    )
    async def end(
        self,
        entrusted_id: PathId,
        data: JSONBody[EndIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> EntrustedOut:
        row = await service.end_entrusted(session, principal, settings, entrusted_id, data)
        return await _entrusted(session, principal, row)

    @post(
        "/temporary/{temporary_id:int}/end",
        operation_id="endTemporaryGuardianship",
        summary="结束临时监护（返回家庭须有允许返家的监护评估）",
        status_code=200,
    )
    async def end_temporary(
        self,
        temporary_id: PathId,
        data: JSONBody[TemporaryEndIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> TemporaryOut:
        return service.temporary_out(await service.end_temporary(session, principal, settings, temporary_id, data))


class ChildGuardianshipController(Controller):
    path = "/api/v1/children/{child_id:int}"
    tags = ["guardianship"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @get("/guardianship", operation_id="getChildGuardianship", summary="儿童当前监护安排与历史")
    async def current(self, child_id: PathId, session: DbSession, principal: CurrentUser) -> GuardianshipOut:
        return await service.child_guardianship(session, principal, child_id)

    @post("/guardianship-assessments", operation_id="createGuardianshipAssessment", summary="监护评估（服务器计分）")
    async def assess(
        self, child_id: PathId, data: JSONBody[AssessmentIn], session: DbSession, principal: CurrentUser
    ) -> AssessmentOut:
        row = await service.create_assessment(session, principal, child_id, data)
        return (await service.present_assessments(session, [row]))[0]

    @get("/guardianship-assessments", operation_id="listGuardianshipAssessments", summary="儿童的监护评估")
    async def assessments(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> AssessmentList:
        rows, total = await service.list_assessments(session, principal, child_id, limit=page.limit, offset=page.offset)
        return AssessmentList(items=await service.present_assessments(session, rows), total=total)

    @post("/entrusted-guardianships", operation_id="createEntrustedGuardianship", summary="登记委托监护确认书")
    async def entrust(
        self,
        child_id: PathId,
        data: JSONBody[EntrustedIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> EntrustedOut:
        row = await service.create_entrusted(session, principal, settings, child_id, data)
        return await _entrusted(session, principal, row)

    @post(
        "/temporary-guardianships", operation_id="createTemporaryGuardianship", summary="登记临时监护（救助保护机构）"
    )
    async def temporary(
        self,
        child_id: PathId,
        data: JSONBody[TemporaryIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> TemporaryOut:
        return service.temporary_out(await service.create_temporary(session, principal, settings, child_id, data))

    @post("/long-term-guardianships", operation_id="createLongTermGuardianship", summary="登记国家长期监护决定")
    async def long_term(
        self,
        child_id: PathId,
        data: JSONBody[LongTermIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> LongTermOut:
        return service.long_term_out(await service.create_long_term(session, principal, settings, child_id, data))


ROUTES = [GuardianshipController, ChildGuardianshipController]
