"""Referral notifications (the provider hears of a new referral, the child's director of each answer), the
withdrawal of a closed file's referrals, and the ports referrals fills in for the features below it.

``marketplace.features.load_models`` imports every feature's handlers module when the app, the worker, the
CLI or the demo starts, so the ports are registered here, with the handlers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.auth.models import User
from marketplace.cases import notifications
from marketplace.cases import ports as case_ports
from marketplace.cases.models import Child, Need
from marketplace.cases.taxonomy import VERDICTS
from marketplace.funds import ports as fund_ports
from marketplace.matching import ports as matching_ports
from marketplace.procurement import metrics as procurement_metrics
from marketplace.referrals import history
from marketplace.referrals import metrics as referral_metrics
from marketplace.referrals import service as referrals
from marketplace.referrals.models import Referral
from marketplace.referrals.taxonomy import OUTCOMES, REFERRAL_STATUSES


async def _directors(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(
            User.role == "child_director", User.community_id == community_id, User.is_active.is_(True)
        )
    )
    return list(rows.all())


@outbox.handler("referrals.sent")
async def referral_sent(session: AsyncSession, payload: dict[str, Any]) -> None:
    r = await session.get(Referral, int(payload["referral_id"]))
    if r is None:
        return
    await notifications.notify(
        session,
        await notifications.organization_staff(session, r.organization_id),
        key=f"referral-sent:{r.id}",
        kind="referral_sent",
        title="收到新的转介",
        body=f"转介 {r.id} 待贵机构接收或拒绝。",
        entity="referral",
        entity_id=r.id,
    )


async def _tell_director(session: AsyncSession, payload: dict[str, Any], name: str) -> None:
    r = await session.get(Referral, int(payload["referral_id"]))
    if r is None:
        return
    if name == "complete":
        # The provider's outcome is a proposal: the director visits, then closes with the verdict.
        detail = f"机构反馈：{OUTCOMES.get(r.outcome or '', '')}。请回访后确认结论并结案。"
    else:
        detail = r.decline_reason or ""
    await notifications.notify(
        session,
        await _directors(session, r.community_id),
        key=f"referral-{name}:{r.id}",
        kind=f"referral_{name}",
        title=f"转介{REFERRAL_STATUSES.get(r.status, r.status)}",
        body=f"转介 {r.id}：{REFERRAL_STATUSES.get(r.status, r.status)}。{detail}",
        entity="referral",
        entity_id=r.id,
    )


@outbox.handler("referrals.accept")
async def referral_accepted(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _tell_director(session, payload, "accept")


@outbox.handler("referrals.decline")
async def referral_declined(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _tell_director(session, payload, "decline")


@outbox.handler("referrals.complete")
async def referral_completed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _tell_director(session, payload, "complete")


@outbox.handler("referrals.close")
async def referral_closed(session: AsyncSession, payload: dict[str, Any]) -> None:
    """The provider hears the caseworker's verdict on its service."""
    r = await session.get(Referral, int(payload["referral_id"]))
    if r is None or r.verdict is None:
        return
    await notifications.notify(
        session,
        await notifications.organization_staff(session, r.organization_id),
        key=f"referral-close:{r.id}",
        kind="referral_close",
        title="转介已结案",
        body=f"转介 {r.id} 已由儿童主任回访后结案：{VERDICTS.get(r.verdict, r.verdict)}。",
        entity="referral",
        entity_id=r.id,
    )


@outbox.handler("referrals.revoke")
async def referral_revoked(session: AsyncSession, payload: dict[str, Any]) -> None:
    """The provider stops work on a withdrawn referral; it hears of it with the caseworker's reason."""
    r = await session.get(Referral, int(payload["referral_id"]))
    if r is None:
        return
    await notifications.notify(
        session,
        await notifications.organization_staff(session, r.organization_id),
        key=f"referral-revoke:{r.id}",
        kind="referral_revoke",
        title="转介已撤回",
        body=f"转介 {r.id} 已撤回，请停止跟进。{r.revoke_reason or ''}".strip(),
        entity="referral",
        entity_id=r.id,
    )


@outbox.handler("referrals.start")
async def referral_other(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Nothing to tell anyone; registered so the event is marked processed rather than unknown."""
    return


@outbox.handler(case_ports.FILE_CLOSED)
async def file_closed(session: AsyncSession, payload: dict[str, Any]) -> None:
    """A closed file keeps no referral open: each still waiting or in progress is revoked. Idempotent: a
    second delivery finds none open; a file reopened before delivery keeps its referrals."""
    child = await session.get(Child, int(payload["child_id"]))
    if child is None or child.status != "closed":
        return
    await referrals.revoke_open_for_child(session, child.id, reason=str(payload.get("reason") or ""))


# A referral that ends without service: no money may be paid for it.
UNSERVED = frozenset({"declined", "revoked"})


async def referral_facts(session: AsyncSession, referral_id: int) -> fund_ports.ReferralFacts | None:
    """What the fund's purpose rule needs of a referral: its service, its need's category, the child's street and
    categories (the file's current ones: a transferred file takes its referrals with it)."""
    row = (
        await session.execute(
            select(Referral.id, Referral.service_id, Need.category, Child.street_id, Child.categories, Referral.status)
            .join(Need, Need.id == Referral.need_id)
            .join(Child, Child.id == Referral.child_id)
            .where(Referral.id == referral_id)
        )
    ).first()
    if row is None:
        return None
    return fund_ports.ReferralFacts(
        referral_id=int(row[0]),
        service_id=int(row[1]),
        need_category=str(row[2]),
        child_street_id=int(row[3]),
        child_categories=frozenset(row[4] or ()),
        status=str(row[5]),
        ended_unserved=row[5] in UNSERVED,
        status_label=REFERRAL_STATUSES.get(str(row[5]), str(row[5])),
    )


# The statuses of a referral whose organization serves the child (a case conference may invite its staff).
SERVING = ("accepted", "in_service", "completed")


async def serving_organizations(session: AsyncSession, child_id: int) -> list[int]:
    rows = await session.scalars(
        select(Referral.organization_id)
        .where(Referral.child_id == child_id, Referral.status.in_(SERVING))
        .distinct()
        .order_by(Referral.organization_id)
    )
    return list(rows.all())


case_ports.use_open_referrals(referrals.open_for_child)
case_ports.use_move_referrals(referrals.move_with_needs)
case_ports.use_open_referral_steps(referrals.open_escalation_steps)
case_ports.use_referral_provider(referrals.provider_of)
case_ports.use_serving_organizations(serving_organizations)
matching_ports.use_referral_history(history.ReferralHistory())
fund_ports.use_referral_reader(referral_facts)
procurement_metrics.provide("completed_referrals", referral_metrics.completed_referrals)
procurement_metrics.provide("service_logs", referral_metrics.service_logs)
