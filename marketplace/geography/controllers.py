from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from marketplace.deps import CurrentUser, DbSession
from marketplace.geography import service
from marketplace.geography.schemas import CommunityList, CommunityOut, StreetList, StreetOut
from marketplace.ids import MAX_ID


class GeographyController(Controller):
    path = "/api/v1"
    tags = ["geography"]

    @get("/streets", operation_id="listStreets", summary="街道列表")
    async def list_streets(self, session: DbSession, principal: CurrentUser) -> StreetList:
        streets = await service.list_streets(session)
        items = [StreetOut(id=s.id, code=s.code, name=s.name) for s in streets]
        return StreetList(items=items, total=len(items))

    @get("/communities", operation_id="listCommunities", summary="社区列表")
    async def list_communities(
        self,
        session: DbSession,
        principal: CurrentUser,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> CommunityList:
        rows = await service.list_communities(session, street_id)
        items = [CommunityOut(id=c.id, street_id=c.street_id, code=c.code, name=c.name) for c in rows]
        return CommunityList(items=items, total=len(items))


ROUTES = [GeographyController]
