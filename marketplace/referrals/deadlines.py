"""A referral's deadlines, by its need's urgency (``settings.deadlines``).

A referral must be answered within ``accept_hours[urgency]`` of being sent (``response_due_at``) and, once accepted,
started (the first service contact) within ``first_contact_hours[urgency]`` of the acceptance (``contact_due_at``).
Reports, the console and the escalation job all count "overdue" by these, never by one deadline for every need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases.models import Need
from marketplace.referrals.models import Referral
from marketplace.settings import Deadlines

# A need's urgency is 1-4 (the needs table's check constraint) and the settings name hours for each (``Settings``
# refuses a map that misses one), so every lookup below is direct.


def accept_hours(deadlines: Deadlines, urgency: int) -> int:
    """Hours to answer a referral for a need of this urgency."""
    return deadlines.accept_hours[urgency]


def first_contact_hours(deadlines: Deadlines, urgency: int) -> int:
    """Hours from the acceptance to the first service contact for a need of this urgency."""
    return deadlines.first_contact_hours[urgency]


def response_due_at(referral: Referral, urgency: int, deadlines: Deadlines) -> dt.datetime:
    return referral.sent_at + dt.timedelta(hours=accept_hours(deadlines, urgency))


def contact_due_at(referral: Referral, urgency: int, deadlines: Deadlines) -> dt.datetime | None:
    """When the provider must have started the service; None until the referral is accepted."""
    if referral.accepted_at is None:
        return None
    return referral.accepted_at + dt.timedelta(hours=first_contact_hours(deadlines, urgency))


def overdue_clause(deadlines: Deadlines, now: dt.datetime) -> ColumnElement[bool]:
    """Referrals still unanswered past their urgency's accept deadline (a query must join ``Need`` on the referral's
    need)."""
    return and_(Referral.status == "sent", _past(deadlines.accept_hours, Referral.sent_at, now))


def is_overdue(status: str, sent_at: dt.datetime, urgency: int, deadlines: Deadlines, now: dt.datetime) -> bool:
    """The in-memory twin of ``overdue_clause`` for rows already loaded."""
    return status == "sent" and sent_at + dt.timedelta(hours=accept_hours(deadlines, urgency)) < now


async def urgencies(session: AsyncSession, need_ids: Iterable[int]) -> dict[int, int]:
    """The urgency of each need, in one query."""
    ids = set(need_ids)
    if not ids:
        return {}
    rows = await session.execute(select(Need.id, Need.urgency).where(Need.id.in_(ids)))
    return {nid: urgency for nid, urgency in rows.all()}


def urgency_clauses(deadlines: Deadlines) -> list[tuple[int, ColumnElement[bool]]]:
    """Each urgency of the rules with the clause that picks its needs."""
    return [(urgency, Need.urgency == urgency) for urgency in sorted(deadlines.accept_hours)]


def _past(by_urgency: Mapping[int, int], started: Any, now: dt.datetime) -> ColumnElement[bool]:
    """``started`` is more than ``by_urgency[Need.urgency]`` hours before ``now`` (one comparison per urgency, so an
    index on the start column serves it)."""
    arms = [
        and_(Need.urgency == urgency, started < now - dt.timedelta(hours=hours))
        for urgency, hours in sorted(by_urgency.items())
    ]
    return or_(false(), *arms)
