"""`/api/v1/children/{child_id}/parents` and `/api/v1/families/...`: left-behind children's parents away from home,
their contacts and visits home, and the alerts when the contact stops (``families.service``: scope and audit)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.families import service
from marketplace.families.schemas import (
    FamilyAlertList,
    ParentAwayIn,
    ParentAwayList,
    ParentAwayOut,
    ParentAwayVersionIn,
    ParentContactIn,
    ParentContactList,
    ParentContactOut,
    ParentVisitHomeIn,
    ParentVisitHomeOut,
)
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}


class ChildParentsController(Controller):
    path = "/api/v1/children/{child_id:int}/parents"
    tags = ["families"]
    dependencies = PAGE

    @get("/", operation_id="listChildParents", summary="外出务工的父母（当前版本；history=true 含历史版本）")
    async def list_parents(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, history: FromQuery[bool] = False
    ) -> ParentAwayList:
        _, rows = await service.list_parents(session, principal, child_id, history=history)
        return ParentAwayList(items=await service.present(session, principal, rows), total=len(rows))

    @post("/", operation_id="createChildParent", summary="登记外出务工的父母")
    async def create_parent(
        self, child_id: PathId, data: JSONBody[ParentAwayIn], session: DbSession, principal: CurrentUser
    ) -> ParentAwayOut:
        parent = await service.create_parent(session, principal, child_id, data)
        return (await service.present(session, principal, [parent]))[0]

    @get("/contacts", operation_id="listChildParentContacts", summary="父母与儿童的联系记录（最新在前）")
    async def list_contacts(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> ParentContactList:
        items, total = await service.list_contacts(session, principal, child_id, limit=page.limit, offset=page.offset)
        return ParentContactList(items=items, total=total)


class FamiliesController(Controller):
    path = "/api/v1/families"
    tags = ["families"]
    dependencies = PAGE

    @post(
        "/parents/{parent_id:int}",
        operation_id="reviseChildParent",
        summary="父母信息变更（保存为新版本，旧版本保留）",
    )
    async def revise(
        self, parent_id: PathId, data: JSONBody[ParentAwayVersionIn], session: DbSession, principal: CurrentUser
    ) -> ParentAwayOut:
        parent = await service.new_version(session, principal, parent_id, data)
        return (await service.present(session, principal, [parent]))[0]

    @post("/parents/{parent_id:int}/contacts", operation_id="recordParentContact", summary="登记父母与儿童的联系")
    async def record_contact(
        self, parent_id: PathId, data: JSONBody[ParentContactIn], session: DbSession, principal: CurrentUser
    ) -> ParentContactOut:
        contact = await service.record_contact(session, principal, parent_id, data)
        return service.contact_out(contact, {})

    @post("/parents/{parent_id:int}/visits-home", operation_id="recordParentVisitHome", summary="登记父母回家探望")
    async def record_visit_home(
        self, parent_id: PathId, data: JSONBody[ParentVisitHomeIn], session: DbSession, principal: CurrentUser
    ) -> ParentVisitHomeOut:
        stay = await service.record_visit_home(session, principal, parent_id, data)
        return ParentVisitHomeOut(
            id=stay.id,
            parent_id=stay.parent_id,
            from_date=stay.from_date,
            to_date=stay.to_date,
            note=stay.note,
            recorded_by=stay.recorded_by,
            created_at=stay.created_at,
        )

    @get("/alerts", operation_id="listFamilyContactAlerts", summary="父母联系中断预警（默认只列未恢复的）")
    async def list_alerts(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Literal["open", "resolved"] | None] = "open",
        community_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> FamilyAlertList:
        items, total = await service.list_alerts(
            session,
            principal,
            status=status,
            community_id=community_id,
            street_id=street_id,
            limit=page.limit,
            offset=page.offset,
        )
        return FamilyAlertList(items=items, total=total)


ROUTES = [ChildParentsController, FamiliesController]
