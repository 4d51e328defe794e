"""The yearly assessment's indicators, computed from the system's own records of a person's scope and year.

A director's scope is their community, a supervisor's their street. Every indicator answers its inputs
(numerator, denominator) and its score 0..100; ``taxonomy.INDICATORS`` says how each is scored, in words the
console shows beside it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.models import Child, MandatoryReport, Visit
from marketplace.cases.service import visits_on_time
from marketplace.referrals.models import Referral
from marketplace.workforce.models import Attendance, Course
from marketplace.workforce.taxonomy import INDICATORS, REQUIRED_HOURS, WEIGHTS

# Referrals that ended before any service (revoked by the director, declined by the provider) count nowhere.
WITHDRAWN_REFERRAL_STATUSES = ("revoked", "declined")
# The fields a child's file must have to count as complete (besides what the file cannot be saved without: name,
# gender, birth date, identity number, categories, guardianship, risk level).
REQUIRED_FILE_FIELDS: dict[str, str] = {
    "guardian_name": "监护人姓名",
    "guardian_relation": "与儿童关系",
    "guardian_phone_enc": "监护人电话",
    "address_enc": "住址",
    "consent_recorded_on": "同意共享登记",
    "last_visit_on": "至少一次走访",
}


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The year's first instant and the next year's, in the district's time."""
    return _day_start(dt.date(year, 1, 1)), _day_start(dt.date(year + 1, 1, 1))


def _share(part: int, whole: int, *, empty: float) -> float:
    return round(100 * part / whole, 1) if whole else empty


def file_complete(row: Any) -> bool:
    """Whether a child's file has every field of ``REQUIRED_FILE_FIELDS`` (blank text counts as missing)."""
    for name in REQUIRED_FILE_FIELDS:
        value = getattr(row, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return False
    return True


async def training_hours(session: AsyncSession, user_ids: list[int], year: int) -> dict[int, float]:
    """Hours of passed attendance of courses starting in the year, per person."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Attendance.user_id, func.coalesce(func.sum(Attendance.hours), 0.0))
        .join(Course, Course.id == Attendance.course_id)
        .where(
            Attendance.user_id.in_(user_ids),
            Attendance.passed.is_(True),
            Course.starts_on >= dt.date(year, 1, 1),
            Course.starts_on <= dt.date(year, 12, 31),
        )
        .group_by(Attendance.user_id)
    )
    return {int(uid): round(float(h), 1) for uid, h in rows.all()}


def _where_scope(
    stmt: Any, street_col: Any, community_col: Any, street_id: int | None, community_id: int | None
) -> Any:
    if community_id is not None:
        return stmt.where(community_col == community_id)
    return stmt.where(street_col == street_id)


async def compute(
    session: AsyncSession, *, user_id: int, role: str, year: int, street_id: int | None, community_id: int | None
) -> dict[str, dict[str, Any]]:
    """Every indicator's inputs and score for the person's scope (a director: ``community_id``; a supervisor:
    ``street_id`` with no community) and year."""
    if community_id is None and street_id is None:
        raise ValueError("an assessment needs a scope")
    scope_community = community_id if role == "child_director" else None
    t0, t1 = year_bounds(year)
    out: dict[str, dict[str, Any]] = {}

    visit_rows = await session.execute(
        _where_scope(
            select(Visit.child_id, Visit.visited_on, Visit.next_visit_due)
            .join(Child, Child.id == Visit.child_id)
            .where(Visit.visited_on <= dt.date(year, 12, 31)),
            Child.street_id,
            Child.community_id,
            street_id,
            scope_community,
        )
    )
    on_time, total = visits_on_time(
        [(int(c), v, n) for c, v, n in visit_rows.all()], dt.date(year, 1, 1), dt.date(year, 12, 31)
    )
    out["visits_on_time"] = {"numerator": on_time, "denominator": total, "score": _share(on_time, total, empty=0.0)}

    ref_rows = (
        await session.execute(
            _where_scope(
                select(Referral.status, Referral.verdict).where(
                    Referral.sent_at >= t0,
                    Referral.sent_at < t1,
                    Referral.status.not_in(WITHDRAWN_REFERRAL_STATUSES),
                ),
                Referral.street_id,
                Referral.community_id,
                street_id,
                scope_community,
            )
        )
    ).all()
    closed = sum(1 for status, verdict in ref_rows if status == "closed" and verdict)
    out["referrals_closed"] = {
        "numerator": closed,
        "denominator": len(ref_rows),
        "score": _share(closed, len(ref_rows), empty=100.0),
    }

    report_rows = (
        await session.execute(
            _where_scope(
                select(MandatoryReport.reported_by, MandatoryReport.supervisor_ack_at).where(
                    MandatoryReport.created_at >= t0, MandatoryReport.created_at < t1
                ),
                MandatoryReport.street_id,
                MandatoryReport.community_id,
                street_id,
                scope_community,
            )
        )
    ).all()
    if role == "child_director":
        made = sum(1 for by, _ in report_rows if by == user_id)
    else:
        made = sum(1 for _, acked in report_rows if acked is not None)
    out["reports_made"] = {
        "numerator": made,
        "denominator": len(report_rows),
        "score": _share(made, len(report_rows), empty=100.0),
    }

    file_rows = (
        await session.execute(
            _where_scope(
                select(*(getattr(Child, name) for name in REQUIRED_FILE_FIELDS)).where(Child.status == "active"),
                Child.street_id,
                Child.community_id,
                street_id,
                scope_community,
            )
        )
    ).all()
    complete = sum(1 for row in file_rows if file_complete(row))
    out["files_complete"] = {
        "numerator": complete,
        "denominator": len(file_rows),
        "score": _share(complete, len(file_rows), empty=100.0),
    }

    hours = (await training_hours(session, [user_id], year)).get(user_id, 0.0)
    required = REQUIRED_HOURS.get(role, 0.0)
    out["training_hours"] = {
        "numerator": hours,
        "denominator": required,
        "score": round(min(100.0, 100 * hours / required), 1) if required else 100.0,
    }
    for code, item in out.items():
        item["weight"] = WEIGHTS[code]
        item["label"] = INDICATORS[code][0]
    return out


def result_of(indicators: dict[str, dict[str, Any]], reviewer_score: int | None) -> float | None:
    """The weighted result 0..100, or None until the reviewer has scored."""
    if reviewer_score is None:
        return None
    total = sum(WEIGHTS[code] * float(item["score"]) for code, item in indicators.items() if code in WEIGHTS)
    return round(total + WEIGHTS["reviewer_score"] * reviewer_score, 1)
