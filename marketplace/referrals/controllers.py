from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.referrals import service as referrals
from marketplace.referrals.loop_api import ChildTimelineController, RunReferralController
from marketplace.referrals.models import ReferralLog
from marketplace.referrals.schemas import (
    LogIn,
    LogList,
    LogOut,
    OptionalReasonIn,
    OutcomeIn,
    ReasonIn,
    ReferralIn,
    ReferralList,
    ReferralOut,
    ShareIn,
    VerdictIn,
)
from marketplace.settings import Settings


def log_out(log: ReferralLog) -> LogOut:
    return LogOut(
        id=log.id,
        referral_id=log.referral_id,
        delivered_on=log.delivered_on,
        minutes=log.minutes,
        note=log.note,
        author_id=log.author_id,
        created_at=log.created_at,
    )


class ReferralController(Controller):
    path = "/api/v1/referrals"
    tags = ["referrals"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    async def _one(
        self, session: AsyncSession, principal: Principal, settings: Settings, referral_id: int, action: str
    ) -> ReferralOut:
        r = await referrals.load(session, principal, referral_id)
        return (await referrals.present(session, principal, settings, [r], action=action))[0]

    @post("/", operation_id="sendReferral", summary="发起转介")
    async def send(
        self, data: JSONBody[ReferralIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReferralOut:
        r = await referrals.send(session, principal, settings, data)
        return (await referrals.present(session, principal, settings, [r], action="refer"))[0]

    @get("/", operation_id="listReferrals", summary="转介列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        need_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        child_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> ReferralList:
        rows, total = await referrals.list_referrals(
            session,
            principal,
            status=status,
            organization_id=organization_id,
            need_id=need_id,
            child_id=child_id,
            limit=page.limit,
            offset=page.offset,
        )
        items = await referrals.present(session, principal, settings, rows, action="list")
        return ReferralList(items=items, total=total)

    @get("/{referral_id:int}", operation_id="getReferral", summary="转介详情")
    async def read(
        self, referral_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReferralOut:
        return await self._one(session, principal, settings, referral_id, "read")

    async def _move(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        referral_id: int,
        name: str,
        **kwargs: object,
    ) -> ReferralOut:
        r = await referrals.transition(session, principal, referral_id, name, **kwargs)  # type: ignore[arg-type]
        return (await referrals.present(session, principal, settings, [r], action=name))[0]

    @post("/{referral_id:int}/accept", operation_id="acceptReferral", summary="接收转介", status_code=200)
    async def accept(
        self, referral_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReferralOut:
        return await self._move(session, principal, settings, referral_id, "accept")

    @post(
        "/{referral_id:int}/decline", operation_id="declineReferral", summary="拒绝转介（须说明理由）", status_code=200
    )
    async def decline(
        self,
        referral_id: PathId,
        data: JSONBody[ReasonIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReferralOut:
        return await self._move(session, principal, settings, referral_id, "decline", reason=data.reason.strip())

    @post("/{referral_id:int}/start", operation_id="startReferral", summary="开始服务", status_code=200)
    async def start(
        self, referral_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReferralOut:
        return await self._move(session, principal, settings, referral_id, "start")

    @post(
        "/{referral_id:int}/complete", operation_id="completeReferral", summary="服务完成（记录结果）", status_code=200
    )
    async def complete(
        self,
        referral_id: PathId,
        data: JSONBody[OutcomeIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReferralOut:
        return await self._move(session, principal, settings, referral_id, "complete", outcome=data)

    @post(
        "/{referral_id:int}/close",
        operation_id="closeReferral",
        summary="回访后结案（儿童主任或督导员确认结果）",
        description="The child's director or the street's supervisor closes a completed referral after a follow-up "
        "visit, with a verdict (met / partly_met / not_met / withdrawn) that the need takes; `reopen_need` after "
        "partly_met or not_met puts the need back on the open list to refer again.",
        status_code=200,
    )
    async def close(
        self,
        referral_id: PathId,
        data: JSONBody[VerdictIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReferralOut:
        return await self._move(session, principal, settings, referral_id, "close", verdict=data)

    @post("/{referral_id:int}/revoke", operation_id="revokeReferral", summary="撤回转介", status_code=200)
    async def revoke(
        self,
        referral_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> ReferralOut:
        reason = data.reason.strip() if data is not None else ""
        return await self._move(session, principal, settings, referral_id, "revoke", reason=reason)

    @post(
        "/{referral_id:int}/share",
        operation_id="shareReferralContact",
        summary="设置向承接机构共享的联系方式字段",
        status_code=200,
    )
    async def share(
        self,
        referral_id: PathId,
        data: JSONBody[ShareIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReferralOut:
        r = await referrals.share_contact(session, principal, referral_id, data.fields)
        return (await referrals.present(session, principal, settings, [r], action="share"))[0]

    @post("/{referral_id:int}/logs", operation_id="addReferralLog", summary="服务记录")
    async def add_log(
        self, referral_id: PathId, data: JSONBody[LogIn], session: DbSession, principal: CurrentUser
    ) -> LogOut:
        return log_out(await referrals.add_log(session, principal, referral_id, data))

    @get("/{referral_id:int}/logs", operation_id="listReferralLogs", summary="服务记录列表")
    async def list_logs(
        self, referral_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> LogList:
        rows, total = await referrals.list_logs(session, principal, referral_id, limit=page.limit, offset=page.offset)
        return LogList(items=[log_out(x) for x in rows], total=total)


ROUTES = [ReferralController, RunReferralController, ChildTimelineController]
