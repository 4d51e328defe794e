"""`/api/v1/volunteers/...`: volunteers as people (the register, team memberships, hours, totals, certificates of
hours) and `/api/v1/public/volunteer-certificates/{code}`: a certificate's public verification
(``volunteers.service``: scope, masking and audit)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from marketplace import clock
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.volunteers import service
from marketplace.volunteers.schemas import (
    Skill,
    Status,
    VolunteerCertificateCheck,
    VolunteerCertificateIn,
    VolunteerCertificateOut,
    VolunteerHoursIn,
    VolunteerHoursList,
    VolunteerHoursOut,
    VolunteerIn,
    VolunteerLeaveIn,
    VolunteerList,
    VolunteerMembershipIn,
    VolunteerMembershipOut,
    VolunteerOut,
    VolunteerPatch,
    VolunteerTotals,
)

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
Year = Annotated[int | None, QueryParameter(ge=2000, le=2100)]


class VolunteerController(Controller):
    path = "/api/v1/volunteers"
    tags = ["volunteers"]
    dependencies = PAGE

    @get("/", operation_id="listVolunteers", summary="志愿者名册（按街道、服务队、技能、状态、姓名筛选）")
    async def list_volunteers(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        team_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        skill: Annotated[Skill | None, QueryParameter()] = None,
        status: Annotated[Status | None, QueryParameter()] = None,
        q: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> VolunteerList:
        items, total = await service.list_volunteers(
            session,
            principal,
            street_id=street_id,
            team_id=team_id,
            skill=skill,
            status=status,
            q=q,
            limit=page.limit,
            offset=page.offset,
        )
        return VolunteerList(items=items, total=total)

    @post("/", operation_id="registerVolunteer", summary="登记志愿者（身份证号实名校验，一人只登记一次）")
    async def register(
        self, data: JSONBody[VolunteerIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> VolunteerOut:
        volunteer = await service.register(session, principal, settings, data)
        return (await service.present(session, principal, [volunteer]))[0]

    @get("/totals", operation_id="getVolunteerTotals", summary="志愿服务时长合计（按街道、服务队；?year=）")
    async def totals(self, session: DbSession, principal: CurrentUser, year: Year = None) -> VolunteerTotals:
        return await service.totals(session, principal, year or clock.today().year)

    @get(
        "/{volunteer_id:int}", operation_id="getVolunteer", summary="志愿者详情（区民政局查看时显示完整身份证号，留痕）"
    )
    async def get_volunteer(self, volunteer_id: PathId, session: DbSession, principal: CurrentUser) -> VolunteerOut:
        return await service.read(session, principal, volunteer_id)

    @patch("/{volunteer_id:int}", operation_id="updateVolunteer", summary="修改志愿者信息、技能或状态")
    async def update_volunteer(
        self, volunteer_id: PathId, data: JSONBody[VolunteerPatch], session: DbSession, principal: CurrentUser
    ) -> VolunteerOut:
        volunteer = await service.update(session, principal, volunteer_id, data)
        return (await service.present(session, principal, [volunteer]))[0]

    @post("/{volunteer_id:int}/memberships", operation_id="joinVolunteerTeam", summary="加入志愿服务队")
    async def join(
        self, volunteer_id: PathId, data: JSONBody[VolunteerMembershipIn], session: DbSession, principal: CurrentUser
    ) -> VolunteerMembershipOut:
        membership = await service.join(session, principal, volunteer_id, data)
        return await service.membership_out(session, membership)

    @post(
        "/memberships/{membership_id:int}/leave",
        operation_id="leaveVolunteerTeam",
        summary="退出志愿服务队（记录保留）",
    )
    async def leave(
        self, membership_id: PathId, data: JSONBody[VolunteerLeaveIn], session: DbSession, principal: CurrentUser
    ) -> VolunteerMembershipOut:
        membership = await service.leave(session, principal, membership_id, data.left_on)
        return await service.membership_out(session, membership)

    @get("/{volunteer_id:int}/hours", operation_id="listVolunteerHours", summary="志愿者的服务时长记录（最新在前）")
    async def list_hours(
        self,
        volunteer_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        year: Year = None,
    ) -> VolunteerHoursList:
        items, total, minutes = await service.list_hours(
            session, principal, volunteer_id, year=year, limit=page.limit, offset=page.offset
        )
        return VolunteerHoursList(items=items, total=total, total_minutes=minutes)

    @post("/{volunteer_id:int}/hours", operation_id="logVolunteerHours", summary="登记服务时长（活动或转介个案）")
    async def log_hours(
        self, volunteer_id: PathId, data: JSONBody[VolunteerHoursIn], session: DbSession, principal: CurrentUser
    ) -> VolunteerHoursOut:
        row = await service.log_hours(session, principal, volunteer_id, data)
        return (await service.hours_out(session, [row]))[0]

    @post("/hours/{hours_id:int}/reverse", operation_id="reverseVolunteerHours", summary="冲销一条服务时长（更正）")
    async def reverse(self, hours_id: PathId, session: DbSession, principal: CurrentUser) -> VolunteerHoursOut:
        row = await service.reverse_hours(session, principal, hours_id)
        return (await service.hours_out(session, [row]))[0]

    @post(
        "/{volunteer_id:int}/certificates",
        operation_id="issueVolunteerCertificate",
        summary="出具志愿服务时长证明（同一期间时长未变则返回原证明）",
    )
    async def issue(
        self,
        volunteer_id: PathId,
        data: JSONBody[VolunteerCertificateIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> VolunteerCertificateOut:
        cert = await service.issue_certificate(session, principal, settings, volunteer_id, data)
        return await service.certificate_out(session, principal, cert)

    @get("/certificates/{certificate_id:int}", operation_id="getVolunteerCertificate", summary="志愿服务时长证明")
    async def certificate(
        self, certificate_id: PathId, session: DbSession, principal: CurrentUser
    ) -> VolunteerCertificateOut:
        cert, _ = await service.read_certificate(session, principal, certificate_id)
        return await service.certificate_out(session, principal, cert)


class PublicVolunteerCertificateController(Controller):
    path = "/api/v1/public/volunteer-certificates"
    tags = ["public"]
    security = [{}]

    @get(
        "/{code:str}",
        operation_id="verifyVolunteerCertificate",
        summary="核验志愿服务时长证明（无需登录；姓名脱敏）",
    )
    async def verify(
        self, code: Annotated[str, PathParameter(max_length=80)], session: DbSession, settings: AppSettings
    ) -> VolunteerCertificateCheck:
        return await service.verify(session, settings, code[:64])


ROUTES = [VolunteerController, PublicVolunteerCertificateController]
