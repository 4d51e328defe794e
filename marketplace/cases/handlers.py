"""Outbox handlers of the cases feature: a mandatory report reaches the street and the district at once; a
handover moves the old account's unread notifications to the new one; a new application reaches the district."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, outbox
from marketplace.accounts.applications import SUBMITTED_TOPIC
from marketplace.accounts.models import Handover, OrganizationApplication
from marketplace.accounts.service import HANDOVER_TOPIC
from marketplace.cases import notifications
from marketplace.cases.models import MandatoryReport, Notification
from marketplace.cases.taxonomy import REPORT_KINDS


@outbox.handler("cases.mandatory_report")
async def mandatory_report(session: AsyncSession, payload: dict[str, Any]) -> None:
    """The street's supervisors and the district hear of a report at once, for a filed or an unidentified child.

    No name, no description of the child in the message: a notification list is not a child file and is not
    audited as one; the report itself (``/api/v1/mandatory-reports/{id}``) is read in scope, with audit rows."""
    report = await session.get(MandatoryReport, int(payload["report_id"]))
    if report is None:
        return
    recipients = await notifications.street_supervisors(session, report.street_id)
    recipients += await notifications.district_admins(session)
    if payload.get("linked") and report.child_id is not None:
        # An unidentified child's report linked to a file: its emergency need opened now.
        await notifications.notify(
            session,
            recipients,
            key=f"report:{report.id}:linked",
            kind="mandatory_report",
            title=f"强制报告已关联儿童档案：{REPORT_KINDS.get(report.kind, report.kind)}",
            body=f"强制报告 {report.id} 已关联儿童档案 {report.child_id}，已开启特急需求 {report.need_id}。",
            entity="mandatory_report",
            entity_id=report.id,
            data={"report_id": report.id, "child_id": report.child_id, "need_id": report.need_id, "linked": True},
        )
        return
    if report.child_id is not None:
        subject = f"儿童档案 {report.child_id} 已提交强制报告，已开启特急需求 {report.need_id}。"
    else:
        subject = f"社区 {report.community_id} 对一名未建档儿童提交了强制报告，请尽快核实身份并关联档案。"
    hours = ""
    if report.supervisor_ack_due_at is not None:
        hours = f"请于 {report.supervisor_ack_due_at.astimezone(clock.DISTRICT_TZ):%m-%d %H:%M} 前签收。"
    await notifications.notify(
        session,
        recipients,
        key=f"report:{report.id}",
        kind="mandatory_report",
        title=f"强制报告：{REPORT_KINDS.get(report.kind, report.kind)}",
        body=subject + ("已报警。" if report.police_notified else "尚未报警，请立即核实。") + hours,
        entity="mandatory_report",
        entity_id=report.id,
        data={
            "report_id": report.id,
            "child_id": report.child_id,
            "need_id": report.need_id,
            "kind": report.kind,
            "community_id": report.community_id,
        },
    )


@outbox.handler(HANDOVER_TOPIC)
async def handover(session: AsyncSession, payload: dict[str, Any]) -> None:
    """The old account's unread notifications become the new one's (read ones stay: they are its history).

    Idempotent: a second run finds no unread notification left with the old recipient. A notification's key names
    its recipient (``<key>:<user id>``); it is renamed with it, unless the new account already has that one.
    """
    old, new = int(payload["from_user_id"]), int(payload["to_user_id"])
    unread = list(
        (
            await session.scalars(
                select(Notification)
                .where(Notification.recipient_id == old, Notification.read_at.is_(None))
                .order_by(Notification.id)
            )
        ).all()
    )
    suffix = f":{old}"
    renamed = {n.id: n.key[: -len(suffix)] + f":{new}" for n in unread if n.key.endswith(suffix)}
    held = set(
        (await session.scalars(select(Notification.key).where(Notification.key.in_(list(renamed.values()))))).all()
    )
    moved = 0
    for n in unread:
        key = renamed.get(n.id, n.key)
        if key in held:
            continue  # the new account already has this one
        n.recipient_id = new
        n.key = key
        moved += 1
    row = await session.get(Handover, int(payload["handover_id"]))
    if row is not None:
        row.moved = {**(row.moved or {}), "notifications": (row.moved or {}).get("notifications", 0) + moved}
    await session.flush()


@outbox.handler(SUBMITTED_TOPIC)
async def application_submitted(session: AsyncSession, payload: dict[str, Any]) -> None:
    application = await session.get(OrganizationApplication, int(payload["application_id"]))
    if application is None:
        return
    again = payload.get("supplemented_at")
    await notifications.notify(
        session,
        await notifications.district_admins(session),
        # A supplement is a new round of review: its own key, so the district hears of it again.
        key=f"application:{application.id}:{again or 'new'}",
        kind="organization_application",
        title="社会组织补充了入驻申请材料" if again else "收到新的社会组织入驻申请",
        body=f"入驻申请 {application.id}（{application.name}）待审核。",
        entity="organization_application",
        entity_id=application.id,
    )
