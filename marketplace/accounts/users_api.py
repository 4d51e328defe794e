"""HTTP routes for managing accounts: staff accounts, handovers, and organizations' applications to join."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace.accounts import applications
from marketplace.accounts import service as accounts
from marketplace.accounts.schemas import (
    ApplicantIn,
    ApplicationIn,
    ApplicationList,
    ApplicationOut,
    ApplicationReceipt,
    ApprovalOut,
    CreatedUserOut,
    HandoverIn,
    HandoverOut,
    LoginFailureList,
    OneTimeCodeOut,
    ReviewIn,
    SupplementIn,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from marketplace.auth import ratelimit
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
# Role and status codes are lower-case ASCII; anything else names no code and never reaches SQL.
CODE = r"^[a-z][a-z0-9_]*$"


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["accounts"]
    dependencies = PAGE

    @get("/", operation_id="listUsers", summary="账号列表（实名）")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        q: Annotated[str | None, QueryParameter(max_length=80, description="姓名、用户名或手机号")] = None,
        role: Annotated[str | None, QueryParameter(max_length=40, pattern=CODE)] = None,
        active: FromQuery[bool | None] = None,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> UserList:
        items, total = await accounts.list_users(
            session,
            principal,
            q=q,
            role=role,
            active=active,
            organization_id=organization_id,
            limit=page.limit,
            offset=page.offset,
        )
        return UserList(items=items, total=total)

    @post("/", operation_id="createUser", summary="开设账号（返回一次性激活码，仅显示一次）")
    async def create(self, data: JSONBody[UserIn], session: DbSession, principal: CurrentUser) -> CreatedUserOut:
        return await accounts.create_user(session, principal, data)

    @get("/{user_id:int}", operation_id="getUser", summary="账号详情")
    async def read(self, user_id: PathId, session: DbSession, principal: CurrentUser) -> UserOut:
        return await accounts.get_user(session, principal, user_id)

    @patch("/{user_id:int}", operation_id="updateUser", summary="修改账号（角色或范围变更使其登录失效）")
    async def update(
        self, user_id: PathId, data: JSONBody[UserPatch], session: DbSession, principal: CurrentUser
    ) -> UserOut:
        return await accounts.update_user(session, principal, user_id, data)

    @post("/{user_id:int}/disable", operation_id="disableUser", summary="停用账号", status_code=200)
    async def disable(self, user_id: PathId, session: DbSession, principal: CurrentUser) -> UserOut:
        return await accounts.disable_user(session, principal, user_id)

    @post("/{user_id:int}/enable", operation_id="enableUser", summary="启用账号", status_code=200)
    async def enable(self, user_id: PathId, session: DbSession, principal: CurrentUser) -> UserOut:
        return await accounts.enable_user(session, principal, user_id)

    @post(
        "/{user_id:int}/reset-password",
        operation_id="resetUserPassword",
        summary="重置密码（返回一次性重置码，仅显示一次）",
        status_code=200,
    )
    async def reset_password(self, user_id: PathId, session: DbSession, principal: CurrentUser) -> OneTimeCodeOut:
        return await accounts.reset_password(session, principal, user_id)

    @get("/{user_id:int}/login-failures", operation_id="listUserLoginFailures", summary="账号最近的登录失败")
    async def failures(
        self,
        user_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
    ) -> LoginFailureList:
        return LoginFailureList(items=await accounts.login_failures(session, principal, user_id, limit=limit))


class HandoverController(Controller):
    path = "/api/v1/handovers"
    tags = ["accounts"]

    @post("/", operation_id="handover", summary="儿童主任/督导员交接（原账号停用）")
    async def create(self, data: JSONBody[HandoverIn], session: DbSession, principal: CurrentUser) -> HandoverOut:
        return await accounts.handover(session, principal, data)


class ApplicationController(Controller):
    path = "/api/v1/organization-applications"
    tags = ["accounts"]
    dependencies = PAGE

    @post(
        "/",
        operation_id="submitOrganizationApplication",
        summary="社会组织入驻申请（公开，返回查询码；每个地址限次）",
        guards=[ratelimit.anonymous_write],
    )
    async def submit(self, data: JSONBody[ApplicationIn], session: DbSession) -> ApplicationReceipt:
        return await applications.submit(session, data)

    @post(
        "/{application_id:int}/status",
        operation_id="readOwnOrganizationApplication",
        summary="申请人凭查询码查看申请（公开）",
        status_code=200,
    )
    async def status(self, application_id: PathId, data: JSONBody[ApplicantIn], session: DbSession) -> ApplicationOut:
        return await applications.status_for_applicant(session, application_id, data.reference)

    @post(
        "/{application_id:int}/supplement",
        operation_id="supplementOrganizationApplication",
        summary="申请人补充材料（公开，凭查询码；每个地址限次）",
        status_code=200,
        guards=[ratelimit.anonymous_write],
    )
    async def supplement(
        self, application_id: PathId, data: JSONBody[SupplementIn], session: DbSession
    ) -> ApplicationOut:
        return await applications.supplement(session, application_id, data.reference, data.application)

    @get("/", operation_id="listOrganizationApplications", summary="入驻申请列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20, pattern=CODE)] = None,
    ) -> ApplicationList:
        items, total = await applications.list_applications(
            session, principal, status=status, limit=page.limit, offset=page.offset
        )
        return ApplicationList(items=items, total=total)

    @get("/{application_id:int}", operation_id="getOrganizationApplication", summary="入驻申请详情")
    async def read(self, application_id: PathId, session: DbSession, principal: CurrentUser) -> ApplicationOut:
        return await applications.get_application(session, principal, application_id)

    @post(
        "/{application_id:int}/approve",
        operation_id="approveOrganizationApplication",
        summary="通过申请：创建机构与机构管理员账号（返回一次性激活码）",
        status_code=200,
    )
    async def approve(self, application_id: PathId, session: DbSession, principal: CurrentUser) -> ApprovalOut:
        return await applications.approve(session, principal, application_id)

    @post(
        "/{application_id:int}/reject",
        operation_id="rejectOrganizationApplication",
        summary="不予通过（须填写理由）",
        status_code=200,
    )
    async def reject(
        self, application_id: PathId, data: JSONBody[ReviewIn], session: DbSession, principal: CurrentUser
    ) -> ApplicationOut:
        return await applications.reject(session, principal, application_id, data.reason)

    @post(
        "/{application_id:int}/request-more",
        operation_id="requestMoreForOrganizationApplication",
        summary="要求补充材料（须填写理由）",
        status_code=200,
    )
    async def request_more(
        self, application_id: PathId, data: JSONBody[ReviewIn], session: DbSession, principal: CurrentUser
    ) -> ApplicationOut:
        return await applications.request_more(session, principal, application_id, data.reason)


ROUTES = [UserController, HandoverController, ApplicationController]
