from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy import Row

from marketplace import clock, masking
from marketplace.cases import notifications, reports
from marketplace.cases import service as cases
from marketplace.cases.crypto import FieldCipher, field_cipher
from marketplace.cases.eligibility_api import ROUTES as ELIGIBILITY_ROUTES
from marketplace.cases.escalation_api import EscalationController
from marketplace.cases.models import Child, Need, Notification, Visit
from marketplace.cases.report_api import MandatoryReportController, report_out
from marketplace.cases.report_schemas import ReportIn, ReportOut
from marketplace.cases.schemas import (
    ChildIn,
    ChildList,
    ChildOut,
    ChildPatch,
    ChildSummary,
    NeedIn,
    NeedList,
    NeedOut,
    NeedPatch,
    NotificationList,
    NotificationOut,
    OverdueList,
    OverdueOut,
    VisitIn,
    VisitList,
    VisitOut,
    Warning,
)
from marketplace.cases.taxonomy import GUARDIANSHIP, NEED_STATUSES, RISK_LEVELS, URGENCY, VISIT_KINDS
from marketplace.cases.transfer_api import TransferController
from marketplace.cases.transfer_schemas import ContactRevealIn, ContactRevealOut
from marketplace.deps import AppSettings, CurrentUser, Db, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES
from marketplace.settings import Settings

log = logging.getLogger("marketplace")

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}


def child_out(child: Child, settings: Settings, role: str, warnings: list[Warning] | None = None) -> ChildOut:
    """A child's file as ``role`` may see it (``marketplace.masking``'s policy)."""
    c = field_cipher(settings)
    today = clock.today()
    owner = f"child {child.id}"
    phone = masking.reveal(c.decrypt, child.guardian_phone_enc, "children.guardian_phone", owner)
    address = masking.reveal(c.decrypt, child.address_enc, "children.address", owner)
    id_number = masking.reveal(c.decrypt, child.id_number_enc, "children.id_number", owner)
    return ChildOut(
        id=child.id,
        community_id=child.community_id,
        street_id=child.street_id,
        name=masking.show(role, "name", child.name),
        gender=child.gender,
        birth_date=masking.show_date(role, "birth_date", child.birth_date),
        age=cases.age_on(child.birth_date, today),
        id_number_masked=masking.show(role, "id_number", id_number),
        categories=list(child.categories),
        category_labels=[CHILD_CATEGORIES.get(x, x) for x in child.categories],
        guardianship=child.guardianship,
        guardianship_label=GUARDIANSHIP.get(child.guardianship, child.guardianship),
        risk_level=child.risk_level,
        risk_label=RISK_LEVELS.get(child.risk_level, child.risk_level),
        school=child.school,
        household_notes=child.household_notes,
        guardian_name=masking.show(role, "guardian_name", child.guardian_name),
        guardian_relation=child.guardian_relation,
        guardian_phone_masked=masking.show(role, "guardian_phone", phone),
        address_masked=masking.show(role, "address", address),
        consent_to_share=child.consent_to_share,
        consent_recorded_on=child.consent_recorded_on,
        share_note=child.share_note,
        last_visit_on=child.last_visit_on,
        next_visit_due=child.next_visit_due,
        visit_overdue=child.status == "active" and child.next_visit_due < today,
        status=child.status,
        created_at=child.created_at,
        updated_at=child.updated_at,
        warnings=warnings or [],
    )


def child_summary(
    child: Child | Row[Any],
    settings: Settings,
    role: str,
    today: dt.date | None = None,
    cipher: FieldCipher | None = None,
) -> ChildSummary:
    """A child's list line as ``role`` may see it, from its file or from a summary row of ``cases.readmodel`` (a
    list passes its date and cipher once for all its lines)."""
    c = cipher or field_cipher(settings)
    today = today or clock.today()
    try:
        id_number = c.masked(child.id_number_enc, "children.id_number", masking.masker(role, "id_number"))
    except masking.UNREADABLE_ERRORS as exc:
        log.warning("child %s: children.id_number cannot be decrypted (%s)", child.id, type(exc).__name__)
        id_number = masking.UNREADABLE
    return ChildSummary(
        id=child.id,
        community_id=child.community_id,
        street_id=child.street_id,
        name=masking.show(role, "name", child.name),
        gender=child.gender,
        age=cases.age_on(child.birth_date, today),
        id_number_masked=id_number,
        categories=list(child.categories),
        risk_level=child.risk_level,
        risk_label=RISK_LEVELS.get(child.risk_level, child.risk_level),
        next_visit_due=child.next_visit_due,
        visit_overdue=child.status == "active" and child.next_visit_due < today,
        status=child.status,
    )


def need_out(n: Need) -> NeedOut:
    return NeedOut(
        id=n.id,
        child_id=n.child_id,
        street_id=n.street_id,
        community_id=n.community_id,
        category=n.category,
        category_label=SERVICE_CATEGORIES.get(n.category, n.category),
        urgency=n.urgency,
        urgency_label=URGENCY.get(n.urgency, str(n.urgency)),
        note=n.note,
        status=n.status,
        status_label=NEED_STATUSES.get(n.status, n.status),
        emergency=n.emergency,
        met_at=n.met_at,
        created_at=n.created_at,
    )


def visit_out(v: Visit, child: Child) -> VisitOut:
    return VisitOut(
        id=v.id,
        child_id=v.child_id,
        visited_on=v.visited_on,
        kind=v.kind,
        kind_label=VISIT_KINDS.get(v.kind, v.kind),
        findings=v.findings,
        next_visit_due=v.next_visit_due,
        child_next_visit_due=child.next_visit_due,
        created_at=v.created_at,
    )


def notification_out(n: Notification) -> NotificationOut:
    return msgspec.convert(n, NotificationOut, from_attributes=True)


class ChildController(Controller):
    path = "/api/v1/children"
    tags = ["cases"]
    dependencies = PAGE

    @post("/", operation_id="createChild", summary="新建儿童档案（一人一档）")
    async def create(
        self, data: JSONBody[ChildIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ChildOut:
        child, warnings = await cases.create_child(session, principal, settings, data)
        return child_out(child, settings, principal.role, warnings)

    @get("/", operation_id="listChildren", summary="儿童档案列表")
    async def list(
        self,
        session: DbSession,
        db: Db,
        principal: CurrentUser,
        settings: AppSettings,
        page: PageParams,
        community_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        risk_level: FromQuery[Literal["critical", "high", "medium", "low"] | None] = None,
        category: Annotated[str | None, QueryParameter(max_length=40)] = None,
        status: FromQuery[Literal["active", "closed"] | None] = None,
        overdue: FromQuery[bool | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=80)] = None,
    ) -> ChildList:
        filters = cases.ChildFilters(
            community_id=community_id,
            street_id=street_id,
            risk_level=risk_level,
            category=category,
            status=status,
            overdue=overdue,
            q=q.strip() if q and q.strip() else None,
        )
        rows, total = await cases.list_children(
            session, principal, filters, limit=page.limit, offset=page.offset, db=db
        )
        today, cipher = clock.today(), field_cipher(settings)
        return ChildList(items=[child_summary(c, settings, principal.role, today, cipher) for c in rows], total=total)

    @get("/{child_id:int}", operation_id="getChild", summary="儿童档案详情")
    async def read(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ChildOut:
        return child_out(await cases.read_child(session, principal, child_id), settings, principal.role)

    @patch("/{child_id:int}", operation_id="updateChild", summary="修改儿童档案")
    async def update(
        self,
        child_id: PathId,
        data: JSONBody[ChildPatch],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ChildOut:
        child, warnings = await cases.update_child(session, principal, settings, child_id, data)
        return child_out(child, settings, principal.role, warnings)

    @post(
        "/{child_id:int}/contact",
        operation_id="revealChildContact",
        summary="查看监护人联系方式（入户走访用，须说明理由，留痕）",
        status_code=200,
    )
    async def reveal_contact(
        self,
        child_id: PathId,
        data: JSONBody[ContactRevealIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ContactRevealOut:
        return await cases.reveal_contact(session, principal, settings, child_id, data.reason)

    @post("/{child_id:int}/needs", operation_id="createNeed", summary="登记需求")
    async def create_need(
        self, child_id: PathId, data: JSONBody[NeedIn], session: DbSession, principal: CurrentUser
    ) -> NeedOut:
        return need_out(await cases.create_need(session, principal, child_id, data))

    @post("/{child_id:int}/visits", operation_id="createVisit", summary="记录走访")
    async def create_visit(
        self,
        child_id: PathId,
        data: JSONBody[VisitIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> VisitOut:
        visit, child = await cases.create_visit(session, principal, settings, child_id, data)
        return visit_out(visit, child)

    @get("/{child_id:int}/visits", operation_id="listVisits", summary="走访记录")
    async def list_visits(
        self, child_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> VisitList:
        rows, child, total = await cases.list_visits(session, principal, child_id, limit=page.limit, offset=page.offset)
        return VisitList(items=[visit_out(v, child) for v in rows], total=total)

    @post("/{child_id:int}/reports", operation_id="createMandatoryReport", summary="强制报告（立即上报街道与区）")
    async def report(
        self,
        child_id: PathId,
        data: JSONBody[ReportIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReportOut:
        report, recipients = await reports.create_for_child(session, principal, settings, child_id, data)
        return await report_out(session, report, recipients)


class NeedController(Controller):
    path = "/api/v1/needs"
    tags = ["cases"]
    dependencies = PAGE

    @get("/", operation_id="listNeeds", summary="需求列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[
            Literal["open", "matched", "in_service", "met", "partly_met", "not_met", "withdrawn"] | None
        ] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        child_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        category: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> NeedList:
        rows, total = await cases.list_needs(
            session,
            principal,
            status=status,
            street_id=street_id,
            child_id=child_id,
            category=category,
            limit=page.limit,
            offset=page.offset,
        )
        return NeedList(items=[need_out(n) for n in rows], total=total)

    @get("/{need_id:int}", operation_id="getNeed", summary="需求详情")
    async def read(self, need_id: PathId, session: DbSession, principal: CurrentUser) -> NeedOut:
        return need_out(await cases.read_need(session, principal, need_id))

    @patch("/{need_id:int}", operation_id="updateNeed", summary="修改、撤销或重新打开需求")
    async def update(
        self, need_id: PathId, data: JSONBody[NeedPatch], session: DbSession, principal: CurrentUser
    ) -> NeedOut:
        return need_out(await cases.update_need(session, principal, need_id, data))


class VisitController(Controller):
    path = "/api/v1/visits"
    tags = ["cases"]
    dependencies = PAGE

    @get("/overdue", operation_id="listOverdueVisits", summary="逾期未走访的儿童")
    async def overdue(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> OverdueList:
        rows, total = await cases.overdue_visits(
            session, principal, street_id=street_id, limit=page.limit, offset=page.offset
        )
        today = clock.today()
        return OverdueList(
            items=[
                OverdueOut(
                    child_id=c.id,
                    name=c.name,
                    community_id=c.community_id,
                    street_id=c.street_id,
                    risk_level=c.risk_level,
                    risk_label=RISK_LEVELS.get(c.risk_level, c.risk_level),
                    last_visit_on=c.last_visit_on,
                    next_visit_due=c.next_visit_due,
                    days_overdue=(today - c.next_visit_due).days,
                )
                for c in rows
            ],
            total=total,
        )


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["cases"]
    dependencies = PAGE

    @get("/", operation_id="listNotifications", summary="我的通知")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        unread: FromQuery[bool | None] = None,
    ) -> NotificationList:
        rows, total, unread_count = await notifications.list_for(
            session, principal, unread=unread, limit=page.limit, offset=page.offset
        )
        return NotificationList(items=[notification_out(n) for n in rows], total=total, unread=unread_count)

    @post("/{notification_id:int}/read", operation_id="readNotification", summary="标记已读", status_code=200)
    async def mark_read(self, notification_id: PathId, session: DbSession, principal: CurrentUser) -> NotificationOut:
        return notification_out(await notifications.mark_read(session, principal, notification_id))


ROUTES = [
    ChildController,
    NeedController,
    VisitController,
    NotificationController,
    TransferController,
    EscalationController,
    MandatoryReportController,
    *ELIGIBILITY_ROUTES,
]
