from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.params import FromQuery, QueryParameter

from marketplace.audit import service as audit
from marketplace.audit.schemas import AuditList, AuditOut
from marketplace.deps import CurrentUser, DbSession, PageParams
from marketplace.errors import Invalid
from marketplace.ids import MAX_ID
from marketplace.pagination import provide_page


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Invalid.field(field, "时间需带时区，例如 2026-11-01T00:00:00+08:00 (timezone required)")
    return value


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @get("/", operation_id="listAudit", summary="审计日志（只增不改）")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        user_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        action: Annotated[str | None, QueryParameter(max_length=40)] = None,
        entity: Annotated[str | None, QueryParameter(max_length=40)] = None,
        entity_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
    ) -> AuditList:
        filters = audit.AuditFilters(
            user_id=user_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            since=_aware(since, "since"),
            until=_aware(until, "until"),
        )
        rows, total = await audit.list_entries(session, principal, filters, limit=page.limit, offset=page.offset)
        return AuditList(
            items=[
                AuditOut(
                    id=r.id,
                    at=r.at,
                    user_id=r.user_id,
                    username=r.username,
                    role=r.role,
                    action=r.action,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    fields=list(r.fields),
                    detail=dict(r.detail),
                )
                for r in rows
            ],
            total=total,
        )


ROUTES = [AuditController]
