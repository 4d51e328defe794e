"""Outbox handlers of the cases feature: a mandatory report reaches the street and the district at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.cases import notifications
from marketplace.cases.models import Child, MandatoryReport
from marketplace.cases.taxonomy import REPORT_KINDS


@outbox.handler("cases.mandatory_report")
async def mandatory_report(session: AsyncSession, payload: dict[str, Any]) -> None:
    report = await session.get(MandatoryReport, int(payload["report_id"]))
    if report is None:
        return
    child = await session.get(Child, report.child_id)
    if child is None:
        return
    recipients = await notifications.street_supervisors(session, child.street_id)
    recipients += await notifications.district_admins(session)
    # No name in the message: a notification list is not a child file and is not audited as one.
    await notifications.notify(
        session,
        recipients,
        key=f"report:{report.id}",
        kind="mandatory_report",
        title=f"强制报告：{REPORT_KINDS.get(report.kind, report.kind)}",
        body=f"儿童档案 {child.id} 已提交强制报告，已开启特急需求 {report.need_id}。"
        + ("已报警。" if report.police_notified else "尚未报警，请立即核实。"),
        entity="child",
        entity_id=child.id,
        data={"report_id": report.id, "need_id": report.need_id, "kind": report.kind},
    )
