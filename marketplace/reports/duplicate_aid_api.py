"""`GET /api/v1/reports/duplicate-aid`: the month's duplicate-aid flags (marketplace.reports.duplicate_aid)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from marketplace.deps import CurrentUser, DbSession
from marketplace.reports import duplicate_aid


class DuplicateAidFlag(msgspec.Struct):
    kind: str
    label: str
    child_id: int
    child_name: str
    community_id: int
    month: str
    allowance_fen: int
    fund_fen: int
    disbursement_ids: list[int]
    decision_ids: list[int]
    sources: list[str]


class DuplicateAidReport(msgspec.Struct):
    month: str
    count: int
    flags: list[DuplicateAidFlag]


class DuplicateAidController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get("/duplicate-aid", operation_id="reportDuplicateAid", summary="重复救助核查：同一儿童同月同类救助来自两个渠道")
    async def duplicate_aid(
        self,
        session: DbSession,
        principal: CurrentUser,
        month: Annotated[str, QueryParameter(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
    ) -> DuplicateAidReport:
        flags = await duplicate_aid.check_month(session, principal, month)
        return DuplicateAidReport(
            month=month,
            count=len(flags),
            flags=[
                DuplicateAidFlag(
                    kind=f.kind,
                    label=duplicate_aid.FLAG_KINDS[f.kind],
                    child_id=f.child_id,
                    child_name=f.child_name,
                    community_id=f.community_id,
                    month=f.month,
                    allowance_fen=f.allowance_fen,
                    fund_fen=f.fund_fen,
                    disbursement_ids=f.disbursement_ids,
                    decision_ids=f.decision_ids,
                    sources=f.sources,
                )
                for f in flags
            ],
        )
