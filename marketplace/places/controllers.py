"""`/api/v1/places/...` and `/api/v1/public/places`: the streets' work stations and the communities' children's
homes, their staff on duty, the activities held there and the usage per street and quarter (``places.service``:
scope and audit)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from litestar import Controller, get, patch, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace import clock
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.places import service
from marketplace.places.schemas import (
    PlaceActivityIn,
    PlaceActivityList,
    PlaceActivityOut,
    PlaceActivityPatch,
    PlaceIn,
    PlaceList,
    PlaceOut,
    PlacePatch,
    PlaceStaffIn,
    PlaceStaffLeaveIn,
    PlaceStaffOut,
    PlaceUsageOut,
    PublicPlaceList,
)

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
Kind = Literal["station", "children_home"]
StreetFilter = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]


class PlacesController(Controller):
    path = "/api/v1/places"
    tags = ["places"]
    dependencies = PAGE

    @get("/", operation_id="listPlaces", summary="儿童阵地（街道未成年人保护工作站、社区儿童之家）")
    async def list_places(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        street_id: StreetFilter = None,
        community_id: StreetFilter = None,
        kind: FromQuery[Kind | None] = None,
        active: FromQuery[bool | None] = None,
    ) -> PlaceList:
        items, total = await service.list_places(
            session,
            principal,
            service.PlaceFilters(street_id=street_id, community_id=community_id, kind=kind, active=active),
            limit=page.limit,
            offset=page.offset,
        )
        return PlaceList(items=items, total=total)

    @post("/", operation_id="createPlace", summary="设立阵地（每个街道一个工作站；儿童之家属于本街道的社区）")
    async def create_place(self, data: JSONBody[PlaceIn], session: DbSession, principal: CurrentUser) -> PlaceOut:
        place = await service.create_place(session, principal, data)
        return (await service.present_places(session, [place]))[0]

    @get("/usage", operation_id="getPlaceUsage", summary="阵地使用情况（按街道、季度；只有人次和人数）")
    async def usage(
        self,
        session: DbSession,
        principal: CurrentUser,
        year: Annotated[int, QueryParameter(ge=2000, le=2100)],
        quarter: Annotated[int, QueryParameter(ge=1, le=4)],
    ) -> PlaceUsageOut:
        return await service.usage(session, principal, year, quarter)

    @get("/{place_id:int}", operation_id="getPlace", summary="阵地详情（值班人员；history=true 含已离岗的）")
    async def read_place(
        self, place_id: PathId, session: DbSession, principal: CurrentUser, history: FromQuery[bool] = False
    ) -> PlaceOut:
        return await service.read_place(session, principal, place_id, history=history)

    @patch("/{place_id:int}", operation_id="updatePlace", summary="修改阵地信息（儿童主任只改开放时间）")
    async def update_place(
        self, place_id: PathId, data: JSONBody[PlacePatch], session: DbSession, principal: CurrentUser
    ) -> PlaceOut:
        place = await service.update_place(session, principal, place_id, data)
        return (await service.present_places(session, [place]))[0]

    @post("/{place_id:int}/staff", operation_id="addPlaceStaff", summary="登记值班人员（本街道账号或外部人员）")
    async def add_staff(
        self, place_id: PathId, data: JSONBody[PlaceStaffIn], session: DbSession, principal: CurrentUser
    ) -> PlaceStaffOut:
        staff = await service.add_staff(session, principal, place_id, data)
        return service.staff_out(staff, clock.today())

    @post(
        "/{place_id:int}/staff/{staff_id:int}/leave",
        operation_id="placeStaffLeaves",
        summary="值班人员离岗（记录离岗日期，不删除）",
        status_code=200,
    )
    async def staff_leaves(
        self,
        place_id: PathId,
        staff_id: PathId,
        data: JSONBody[PlaceStaffLeaveIn],
        session: DbSession,
        principal: CurrentUser,
    ) -> PlaceStaffOut:
        staff = await service.staff_leaves(session, principal, place_id, staff_id, data)
        return service.staff_out(staff, clock.today())

    @get(
        "/{place_id:int}/activities",
        operation_id="listPlaceActivities",
        summary="阵地的活动（最新在前；参与儿童的姓名只对其档案的查看人显示）",
    )
    async def list_activities(
        self,
        place_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
        kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> PlaceActivityList:
        items, total = await service.list_activities(
            session,
            principal,
            place_id,
            service.ActivityFilters(date_from=date_from, date_to=date_to, kind=kind),
            limit=page.limit,
            offset=page.offset,
        )
        return PlaceActivityList(items=items, total=total)

    @post("/{place_id:int}/activities", operation_id="recordPlaceActivity", summary="登记阵地活动")
    async def record_activity(
        self, place_id: PathId, data: JSONBody[PlaceActivityIn], session: DbSession, principal: CurrentUser
    ) -> PlaceActivityOut:
        activity = await service.record_activity(session, principal, place_id, data)
        return (await service.present_activities(session, principal, [activity]))[0]

    @get("/activities/{activity_id:int}", operation_id="getPlaceActivity", summary="活动详情")
    async def read_activity(self, activity_id: PathId, session: DbSession, principal: CurrentUser) -> PlaceActivityOut:
        return await service.read_activity(session, principal, activity_id)

    @patch(
        "/activities/{activity_id:int}",
        operation_id="updatePlaceActivity",
        summary="修改活动记录（登记人，登记后 7 天内）",
    )
    async def update_activity(
        self, activity_id: PathId, data: JSONBody[PlaceActivityPatch], session: DbSession, principal: CurrentUser
    ) -> PlaceActivityOut:
        activity = await service.update_activity(session, principal, activity_id, data)
        return (await service.present_activities(session, principal, [activity]))[0]


class PublicPlacesController(Controller):
    path = "/api/v1/public/places"
    tags = ["public"]
    security = [{}]
    dependencies = PAGE

    @get("/", operation_id="listPublicPlaces", summary="儿童阵地公开名录（地址、开放时间、电话、设施；无需登录）")
    async def list_public(
        self,
        session: DbSession,
        page: PageParams,
        street_id: StreetFilter = None,
        kind: FromQuery[Kind | None] = None,
    ) -> PublicPlaceList:
        items, total = await service.public_places(
            session, street_id=street_id, kind=kind, limit=page.limit, offset=page.offset
        )
        return PublicPlaceList(items=items, total=total)


ROUTES = [PlacesController, PublicPlacesController]
