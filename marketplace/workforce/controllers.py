"""`/api/v1/workforce/...`: directors' and supervisors' training, certificates and yearly assessments
(``workforce.service``: scope and audit)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace import clock
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.workforce import service
from marketplace.workforce.schemas import (
    WorkforceAssessmentList,
    WorkforceAssessmentOpenIn,
    WorkforceAssessmentOut,
    WorkforceAttendanceIn,
    WorkforceAttendanceOut,
    WorkforceCertificateIn,
    WorkforceCertificateOut,
    WorkforceConfirmIn,
    WorkforceCorrectionIn,
    WorkforceCourseIn,
    WorkforceCourseList,
    WorkforceCourseOut,
    WorkforcePersonDetail,
    WorkforcePersonList,
    WorkforceScoreIn,
    WorkforceSelfReportIn,
)

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
YearQuery = Annotated[int | None, QueryParameter(ge=2000, le=2100)]
StreetQuery = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]


class WorkforceController(Controller):
    path = "/api/v1/workforce"
    tags = ["workforce"]
    dependencies = PAGE

    @get("/courses", operation_id="listWorkforceCourses", summary="培训课程（区级与本街道的）")
    async def list_courses(
        self, session: DbSession, principal: CurrentUser, page: PageParams, year: YearQuery = None
    ) -> WorkforceCourseList:
        items, total = await service.list_courses(session, principal, year=year, limit=page.limit, offset=page.offset)
        return WorkforceCourseList(items=items, total=total)

    @post("/courses", operation_id="createWorkforceCourse", summary="登记培训课程（区民政或督导员）")
    async def create_course(
        self, data: JSONBody[WorkforceCourseIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceCourseOut:
        course = await service.create_course(session, principal, data)
        return (await service.present_courses(session, [course]))[0]

    @post(
        "/courses/{course_id:int}/attendance",
        operation_id="recordWorkforceAttendance",
        summary="登记参训学时与是否合格（培训组织者）",
    )
    async def record_attendance(
        self, course_id: PathId, data: JSONBody[WorkforceAttendanceIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAttendanceOut:
        return await service.record_attendance(session, principal, course_id, data)

    @get("/people", operation_id="listWorkforcePeople", summary="儿童主任与督导员（学时、证书、最近考核等次）")
    async def list_people(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        year: YearQuery = None,
        role: FromQuery[Literal["child_director", "child_supervisor"] | None] = None,
        street_id: StreetQuery = None,
    ) -> WorkforcePersonList:
        items, total = await service.list_people(
            session, principal, year=year, role=role, street_id=street_id, limit=page.limit, offset=page.offset
        )
        return WorkforcePersonList(items=items, total=total)

    @get("/people/{user_id:int}", operation_id="getWorkforcePerson", summary="一个人的培训、证书与历年考核")
    async def get_person(
        self, user_id: PathId, session: DbSession, principal: CurrentUser, year: YearQuery = None
    ) -> WorkforcePersonDetail:
        return await service.get_person(session, principal, user_id, year=year)

    @post(
        "/people/{user_id:int}/certificates",
        operation_id="addWorkforceCertificate",
        summary="登记证书（本人、督导员或区民政）",
    )
    async def add_certificate(
        self, user_id: PathId, data: JSONBody[WorkforceCertificateIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceCertificateOut:
        cert = await service.add_certificate(session, principal, user_id, data)
        return service.certificate_out(cert, clock.today())

    @get("/assessments", operation_id="listWorkforceAssessments", summary="述职考核（每人每年的当前版本）")
    async def list_assessments(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        year: YearQuery = None,
        status: FromQuery[Literal["open", "self_reported", "scored", "confirmed"] | None] = None,
        street_id: StreetQuery = None,
    ) -> WorkforceAssessmentList:
        items, total = await service.list_assessments(
            session, principal, year=year, status=status, street_id=street_id, limit=page.limit, offset=page.offset
        )
        return WorkforceAssessmentList(items=items, total=total)

    @post("/assessments", operation_id="openWorkforceAssessment", summary="发起某人某年度的述职考核")
    async def open_assessment(
        self, data: JSONBody[WorkforceAssessmentOpenIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        row = await service.open_assessment(session, principal, data)
        return await service.present_assessment(session, row)

    @get(
        "/assessments/{assessment_id:int}",
        operation_id="getWorkforceAssessment",
        summary="述职考核（每项指标的分子、分母与得分）",
    )
    async def get_assessment(
        self, assessment_id: PathId, session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        return await service.get_assessment(session, principal, assessment_id)

    @post(
        "/assessments/{assessment_id:int}/self-report",
        operation_id="selfReportWorkforceAssessment",
        summary="提交述职报告（本人）",
    )
    async def self_report(
        self, assessment_id: PathId, data: JSONBody[WorkforceSelfReportIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        row = await service.self_report(session, principal, assessment_id, data)
        return await service.present_assessment(session, row)

    @post(
        "/assessments/{assessment_id:int}/score",
        operation_id="scoreWorkforceAssessment",
        summary="考评评分（儿童主任由督导员，督导员由区民政）",
    )
    async def score(
        self, assessment_id: PathId, data: JSONBody[WorkforceScoreIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        row = await service.score(session, principal, assessment_id, data)
        return await service.present_assessment(session, row)

    @post(
        "/assessments/{assessment_id:int}/confirm",
        operation_id="confirmWorkforceAssessment",
        summary="区民政确认考核结果（此后不再变更）",
    )
    async def confirm(
        self, assessment_id: PathId, data: JSONBody[WorkforceConfirmIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        row = await service.confirm(session, principal, assessment_id, data)
        return await service.present_assessment(session, row)

    @post(
        "/assessments/{assessment_id:int}/correct",
        operation_id="correctWorkforceAssessment",
        summary="更正已确认的考核（新版本取代之，须重新确认）",
    )
    async def correct(
        self, assessment_id: PathId, data: JSONBody[WorkforceCorrectionIn], session: DbSession, principal: CurrentUser
    ) -> WorkforceAssessmentOut:
        row = await service.correct(session, principal, assessment_id, data)
        return await service.present_assessment(session, row)


ROUTES = [WorkforceController]
