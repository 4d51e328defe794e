"""`/api/v1/child-transfers`: moving a child's file to another community (one person, one file)."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.cases import transfers
from marketplace.cases.transfer_schemas import TransferDecisionIn, TransferIn, TransferList, TransferOut
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import PathId
from marketplace.pagination import provide_page


class TransferController(Controller):
    path = "/api/v1/child-transfers"
    tags = ["cases"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    async def _one(
        self, session: AsyncSession, principal: Principal, transfer_id: int, name: str, note: str
    ) -> TransferOut:
        t = await transfers.decide(session, principal, transfer_id, name, note=note)
        return (await transfers.present(session, principal, [t]))[0]

    @post("/", operation_id="requestChildTransfer", summary="申请将儿童档案转入本社区")
    async def request(
        self, data: JSONBody[TransferIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> TransferOut:
        t = await transfers.request(session, principal, settings, data)
        return (await transfers.present(session, principal, [t]))[0]

    @get("/", operation_id="listChildTransfers", summary="转档申请列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Literal["pending", "approved", "rejected", "cancelled"] | None] = None,
    ) -> TransferList:
        rows, total = await transfers.list_transfers(
            session, principal, status=status, limit=page.limit, offset=page.offset
        )
        return TransferList(items=await transfers.present(session, principal, rows), total=total)

    @get("/{transfer_id:int}", operation_id="getChildTransfer", summary="转档申请详情")
    async def read(self, transfer_id: PathId, session: DbSession, principal: CurrentUser) -> TransferOut:
        t = await transfers.visible(session, principal, transfer_id)
        return (await transfers.present(session, principal, [t]))[0]

    @post("/{transfer_id:int}/approve", operation_id="approveChildTransfer", summary="批准转档", status_code=200)
    async def approve(
        self,
        transfer_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        data: JSONBody[TransferDecisionIn | None] = None,
    ) -> TransferOut:
        return await self._one(session, principal, transfer_id, "approve", data.note if data else "")

    @post("/{transfer_id:int}/reject", operation_id="rejectChildTransfer", summary="驳回转档", status_code=200)
    async def reject(
        self,
        transfer_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        data: JSONBody[TransferDecisionIn | None] = None,
    ) -> TransferOut:
        return await self._one(session, principal, transfer_id, "reject", data.note if data else "")

    @post("/{transfer_id:int}/cancel", operation_id="cancelChildTransfer", summary="撤回转档申请", status_code=200)
    async def cancel(
        self,
        transfer_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        data: JSONBody[TransferDecisionIn | None] = None,
    ) -> TransferOut:
        return await self._one(session, principal, transfer_id, "cancel", data.note if data else "")
