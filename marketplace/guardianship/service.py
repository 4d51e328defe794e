"""Guardianship assessments and arrangements, with the child's scope on every object.

Scope is the child's: the child's director (community), the street's supervisor and the district read; only the
child's own director records (``cases.service.require_director``: 403 for another reader, 404 for anyone else).
Every read writes its audit rows; every change writes one, and the file's ``guardianship`` follows the
arrangement through ``cases.service.update_child`` so the file's own audit rows show the change.

The arrangements, one at a time per child:
- entrusted (委托监护): active → renewed (a new confirmation, a new row) | ended | lapsed (its review date passed:
  ``jobs.reviews``); a lapsed one may still be renewed or ended. The file is ``entrusted`` while one stands.
- temporary state guardianship (临时监护): open → ended with an outcome; going home needs an assessment made on or
  after the start whose result allows return (else 409). Starting it ends a standing entrusted confirmation.
- long-term state guardianship (长期监护): recorded once; it ends an open temporary placement and a standing
  entrusted confirmation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.cases.schemas import ChildPatch
from marketplace.cases.taxonomy import GUARDIANSHIP
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.models import (
    EntrustedGuardianship,
    GuardianshipAssessment,
    LongTermGuardianship,
    TemporaryGuardianship,
)
from marketplace.guardianship.schemas import (
    AssessmentIn,
    AssessmentOut,
    BandOut,
    ChoiceOut,
    DomainOut,
    DomainScoreOut,
    EndIn,
    EntrustedIn,
    EntrustedOut,
    GuardianshipOut,
    InstrumentOut,
    ItemOut,
    LongTermIn,
    LongTermOut,
    RenewIn,
    TemporaryEndIn,
    TemporaryIn,
    TemporaryOut,
)
from marketplace.guardianship.taxonomy import (
    ENTRUSTED_REVIEW_MONTHS,
    ENTRUSTED_STATUSES,
    OUTCOME_GUARDIANSHIP,
    TEMPORARY_OUTCOMES,
    TEMPORARY_STATUSES,
)
from marketplace.settings import Settings

# What each read shows, as the audit rows name it (never the values).
ASSESSMENT_FIELDS = ("answers", "score", "result", "note")
ENTRUSTED_FIELDS = ("person_name", "relationship", "contact_phone_masked", "signed_on", "review_on", "status", "note")
TEMPORARY_FIELDS = ("institution", "reason", "started_on", "status", "outcome", "end_note")
LONG_TERM_FIELDS = ("document_no", "decided_on", "institution", "started_on", "note")
STANDING = ("active", "lapsed")  # an entrusted confirmation that still stands (a lapsed one awaits its review)
SHOWN = 50  # history rows shown with a child's guardianship


# ---------------------------------------------------------------- the instrument


def instrument_out(i: inst.Instrument = inst.CURRENT) -> InstrumentOut:
    return InstrumentOut(
        code=i.code,
        version=i.version,
        title=i.title,
        domains=[
            DomainOut(
                code=d.code,
                label=d.label,
                weight=d.weight,
                items=[
                    ItemOut(
                        code=it.code,
                        label=it.label,
                        critical=it.critical,
                        scale=[ChoiceOut(value=c.value, label=c.label) for c in it.scale],
                    )
                    for it in d.items
                ],
            )
            for d in i.domains
        ],
        bands=[
            BandOut(
                code=b.code,
                label=b.label,
                min_score=b.min_score,
                recommended=b.recommended,
                recommended_label=GUARDIANSHIP[b.recommended],
                recommendation=b.recommendation,
                allows_return=b.allows_return,
            )
            for b in i.bands
        ],
    )


# ---------------------------------------------------------------- scope


def scope(principal: Principal) -> ColumnElement[bool] | None:
    """The children whose guardianship the caller reads (a query joining ``Child``); None for all. Forbidden for the
    roles that read no children's files (org staff, the money side)."""
    if principal.role in cases.NO_FILE_ACCESS:
        raise Forbidden("此角色无权查看儿童监护信息 (this role may not read guardianship records)")
    return cases.scope_clause(principal, Child.community_id, Child.street_id)


async def _writable_child(session: AsyncSession, principal: Principal, child_id: int) -> Child:
    child = await cases.load_child(session, child_id, lock=True)
    cases.require_director(principal, child)
    if child.status != "active":
        raise Conflict("儿童档案已结案，不能再登记监护事项 (the file is closed)", code="file_closed")
    return child


async def _set_file(
    session: AsyncSession, principal: Principal, settings: Settings, child: Child, guardianship: str
) -> None:
    if child.guardianship != guardianship:
        await cases.update_child(session, principal, settings, child.id, ChildPatch(guardianship=guardianship))  # type: ignore[arg-type]


def _not_after_today(field: str, day: dt.date, label: str) -> None:
    if day > clock.today():
        raise Invalid.field(field, f"{label}不能晚于今天 (a {field} in the future)")


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- assessments


async def _names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {int(i): n for i, n in rows.all()}


def assessment_out(a: GuardianshipAssessment, names: dict[int, str]) -> AssessmentOut:
    instrument = inst.get(a.instrument_code, a.instrument_version)
    band = instrument.band(a.result)
    return AssessmentOut(
        id=a.id,
        child_id=a.child_id,
        instrument_code=a.instrument_code,
        instrument_version=a.instrument_version,
        answers=dict(a.answers),
        domains=[
            DomainScoreOut(code=d.code, label=d.label, weight=d.weight, percent=int(a.domain_scores.get(d.code, 0)))
            for d in instrument.domains
        ],
        score=a.score,
        result=a.result,
        result_label=band.label,
        recommended=a.recommended,
        recommended_label=GUARDIANSHIP.get(a.recommended, a.recommended),
        recommendation=band.recommendation,
        allows_return=band.allows_return,
        critical_items=[i.code for i in instrument.items() if i.critical and a.answers.get(i.code) == 0],
        assessed_on=a.assessed_on,
        note=a.note,
        assessor_id=a.assessor_id,
        assessor_name=names.get(a.assessor_id or 0, ""),
        created_at=a.created_at,
    )


async def present_assessments(session: AsyncSession, rows: list[GuardianshipAssessment]) -> list[AssessmentOut]:
    names = await _names(session, {a.assessor_id for a in rows if a.assessor_id})
    return [assessment_out(a, names) for a in rows]


async def create_assessment(
    session: AsyncSession, principal: Principal, child_id: int, data: AssessmentIn
) -> GuardianshipAssessment:
    child = await _writable_child(session, principal, child_id)
    assessed_on = data.assessed_on or clock.today()
    _not_after_today("assessed_on", assessed_on, "评估日期")
    if assessed_on < child.birth_date:
        raise Invalid.field("assessed_on", "评估日期早于儿童出生日期 (assessed before the child was born)")
    scored = inst.score(inst.CURRENT, dict(data.answers))
    band = inst.CURRENT.band(scored.result)
    row = GuardianshipAssessment(
        child_id=child.id,
        instrument_code=inst.CURRENT.code,
        instrument_version=inst.CURRENT.version,
        answers=dict(data.answers),
        domain_scores=scored.domains,
        score=scored.score,
        result=scored.result,
        recommended=band.recommended,
        assessed_on=assessed_on,
        note=data.note.strip(),
        assessor_id=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        principal,
        "create",
        "guardianship_assessment",
        row.id,
        ASSESSMENT_FIELDS,
        {"child_id": child.id, "result": row.result},
    )
    return row


async def list_assessments(
    session: AsyncSession, principal: Principal, child_id: int, *, limit: int, offset: int
) -> tuple[list[GuardianshipAssessment], int]:
    child = await cases.visible_child(session, principal, child_id)
    stmt = select(GuardianshipAssessment).where(GuardianshipAssessment.child_id == child.id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(
        (
            await session.scalars(
                stmt.order_by(GuardianshipAssessment.assessed_on.desc(), GuardianshipAssessment.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
    )
    # The child's file was looked at for its assessments (a row even when there are none yet).
    await audit.record_read(session, principal, "read", "child", [child.id], ["guardianship_assessments"])
    await audit.record_read(
        session,
        principal,
        "list",
        "guardianship_assessment",
        [a.id for a in rows],
        ASSESSMENT_FIELDS,
        {"child_id": child.id},
    )
    return rows, total


async def read_assessment(session: AsyncSession, principal: Principal, assessment_id: int) -> GuardianshipAssessment:
    if principal.role in cases.NO_FILE_ACCESS:
        raise NotFound(f"监护评估 {assessment_id} 不存在 (assessment not found)")
    clause = scope(principal)
    stmt = (
        select(GuardianshipAssessment)
        .join(Child, Child.id == GuardianshipAssessment.child_id)
        .where(GuardianshipAssessment.id == assessment_id)
    )
    if clause is not None:
        stmt = stmt.where(clause)
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(f"监护评估 {assessment_id} 不存在 (assessment not found)")
    await audit.record_read(
        session, principal, "read", "guardianship_assessment", [row.id], ASSESSMENT_FIELDS, {"child_id": row.child_id}
    )
    return row


# ---------------------------------------------------------------- entrusted guardianship


def entrusted_out(e: EntrustedGuardianship, child_name: str, role: str, today: dt.date | None = None) -> EntrustedOut:
    """A confirmation as ``role`` may see it: the entrusted person is the child's guardian for the masking policy
    (``marketplace.masking``: the name in full to the file's keepers, the surname to the district; the phone
    masked to everyone, as the file's guardian phone is)."""
    today = today or clock.today()
    return EntrustedOut(
        id=e.id,
        child_id=e.child_id,
        child_name=masking.show(role, "name", child_name),
        person_name=masking.show(role, "guardian_name", e.person_name),
        relationship=e.relationship,
        contact_phone_masked=masking.show(role, "guardian_phone", e.contact_phone),
        signed_on=e.signed_on,
        review_on=e.review_on,
        days_to_review=(e.review_on - today).days,
        status=e.status,
        status_label=ENTRUSTED_STATUSES[e.status],
        note=e.note,
        renewed_from_id=e.renewed_from_id,
        ended_on=e.ended_on,
        end_reason=e.end_reason,
        lapsed_at=e.lapsed_at,
        created_at=e.created_at,
    )


def _review_on(signed_on: dt.date, review_on: dt.date | None) -> dt.date:
    _not_after_today("signed_on", signed_on, "签署日期")
    due = review_on or add_months(signed_on, ENTRUSTED_REVIEW_MONTHS)
    if due <= clock.today():
        raise Invalid.field("review_on", "复核日期须在今天之后 (the review date must be after today)")
    if due > add_months(signed_on, 36):
        raise Invalid.field("review_on", "复核日期不能晚于签署后三年 (review within three years)")
    return due


async def _standing_entrusted(session: AsyncSession, child_id: int) -> EntrustedGuardianship | None:
    return await session.scalar(
        select(EntrustedGuardianship)
        .where(EntrustedGuardianship.child_id == child_id, EntrustedGuardianship.status.in_(STANDING))
        .order_by(EntrustedGuardianship.id.desc())
        .limit(1)
    )


async def _open_temporary(session: AsyncSession, child_id: int) -> TemporaryGuardianship | None:
    return await session.scalar(
        select(TemporaryGuardianship).where(
            TemporaryGuardianship.child_id == child_id, TemporaryGuardianship.status == "open"
        )
    )


async def _long_term(session: AsyncSession, child_id: int) -> LongTermGuardianship | None:
    return await session.scalar(
        select(LongTermGuardianship)
        .where(LongTermGuardianship.child_id == child_id)
        .order_by(LongTermGuardianship.id.desc())
        .limit(1)
    )


async def _refuse_state_guardianship(session: AsyncSession, child_id: int) -> None:
    if await _open_temporary(session, child_id) is not None:
        raise Conflict(
            "儿童正由救助保护机构临时监护，请先结束临时监护 (a temporary state guardianship is open)",
            code="temporary_open",
        )
    if await _long_term(session, child_id) is not None:
        raise Conflict("儿童已由国家长期监护 (the child is under long-term state guardianship)", code="long_term")


async def create_entrusted(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: EntrustedIn
) -> EntrustedGuardianship:
    child = await _writable_child(session, principal, child_id)
    review_on = _review_on(data.signed_on, data.review_on)
    await _refuse_state_guardianship(session, child.id)
    standing = await _standing_entrusted(session, child.id)
    if standing is not None:
        raise Conflict(
            f"已有委托监护确认书（#{standing.id}），请续签或终止 (an entrusted guardianship stands: renew or end it)",
            code="entrusted_exists",
        )
    row = EntrustedGuardianship(
        child_id=child.id,
        person_name=data.person_name.strip(),
        relationship=data.relationship.strip(),
        contact_phone=data.contact_phone.strip(),
        signed_on=data.signed_on,
        review_on=review_on,
        status="active",
        note=data.note.strip(),
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, principal, "create", "entrusted_guardianship", row.id, ENTRUSTED_FIELDS, {"child_id": child.id}
    )
    await _set_file(session, principal, settings, child, "entrusted")
    return row


async def _visible_entrusted(
    session: AsyncSession, principal: Principal, entrusted_id: int, *, lock: bool = False
) -> tuple[EntrustedGuardianship, Child]:
    missing = NotFound(f"委托监护 {entrusted_id} 不存在 (entrusted guardianship not found)")
    stmt = select(EntrustedGuardianship).where(EntrustedGuardianship.id == entrusted_id)
    if lock:
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt)
    if row is None:
        raise missing
    child = await cases.load_child(session, row.child_id, lock=lock)
    if not cases.can_read(principal, child.community_id, child.street_id):
        raise missing
    return row, child


async def renew_entrusted(
    session: AsyncSession, principal: Principal, settings: Settings, entrusted_id: int, data: RenewIn
) -> EntrustedGuardianship:
    old, child = await _visible_entrusted(session, principal, entrusted_id, lock=True)
    cases.require_director(principal, child)
    if old.status not in STANDING:
        raise Conflict(
            f"该委托监护已{ENTRUSTED_STATUSES[old.status]}，不能续签 (only a standing confirmation is renewed)",
            code="entrusted_not_standing",
        )
    if data.signed_on < old.signed_on:
        raise Invalid.field("signed_on", "续签日期不能早于原确认书签署日期 (renewed before the first signature)")
    review_on = _review_on(data.signed_on, data.review_on)
    new = EntrustedGuardianship(
        child_id=child.id,
        person_name=(data.person_name or old.person_name).strip(),
        relationship=(data.relationship or old.relationship).strip(),
        contact_phone=(data.contact_phone or old.contact_phone).strip(),
        signed_on=data.signed_on,
        review_on=review_on,
        status="active",
        note=data.note.strip(),
        renewed_from_id=old.id,
        created_by=principal.user_id,
    )
    old.status = "renewed"
    old.closed_by = principal.user_id
    session.add(new)
    await session.flush()
    await audit.record(session, principal, "update", "entrusted_guardianship", old.id, ["status"])
    await audit.record(
        session,
        principal,
        "create",
        "entrusted_guardianship",
        new.id,
        ENTRUSTED_FIELDS,
        {"child_id": child.id, "renewed_from_id": old.id},
    )
    await _set_file(session, principal, settings, child, "entrusted")
    return new


async def end_entrusted(
    session: AsyncSession, principal: Principal, settings: Settings, entrusted_id: int, data: EndIn
) -> EntrustedGuardianship:
    row, child = await _visible_entrusted(session, principal, entrusted_id, lock=True)
    cases.require_director(principal, child)
    if row.status not in STANDING:
        raise Conflict(
            f"该委托监护已{ENTRUSTED_STATUSES[row.status]} (only a standing confirmation is ended)",
            code="entrusted_not_standing",
        )
    _not_after_today("ended_on", data.ended_on, "终止日期")
    if data.ended_on < row.signed_on:
        raise Invalid.field("ended_on", "终止日期不能早于签署日期 (ended before it was signed)")
    _close_entrusted(row, principal, data.ended_on, data.reason.strip())
    await session.flush()
    await audit.record(
        session, principal, "update", "entrusted_guardianship", row.id, ["status", "ended_on", "end_reason"]
    )
    await _set_file(session, principal, settings, child, "family")
    return row


def _close_entrusted(row: EntrustedGuardianship, principal: Principal, on: dt.date, reason: str) -> None:
    row.status = "ended"
    row.ended_on = max(on, row.signed_on)
    row.end_reason = reason
    row.closed_by = principal.user_id


@dataclass(frozen=True)
class EntrustedFilters:
    status: str | None = None
    due_within_days: int | None = None
    child_id: int | None = None


async def list_entrusted(
    session: AsyncSession, principal: Principal, f: EntrustedFilters, *, limit: int, offset: int
) -> tuple[list[tuple[EntrustedGuardianship, str]], int]:
    """The confirmations in the caller's scope, the nearest review first. ``due_within_days`` keeps the standing
    ones whose review falls within that many days (or has passed)."""
    stmt = select(EntrustedGuardianship, Child.name).join(Child, Child.id == EntrustedGuardianship.child_id)
    clause = scope(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    if f.status:
        stmt = stmt.where(EntrustedGuardianship.status == f.status)
    if f.child_id is not None:
        stmt = stmt.where(EntrustedGuardianship.child_id == f.child_id)
    if f.due_within_days is not None:
        stmt = stmt.where(
            EntrustedGuardianship.status.in_(STANDING),
            EntrustedGuardianship.review_on <= clock.today() + dt.timedelta(days=f.due_within_days),
        )
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.execute(
            stmt.order_by(EntrustedGuardianship.review_on, EntrustedGuardianship.id).limit(limit).offset(offset)
        )
    ).all()
    found = [(e, str(name)) for e, name in rows]
    await audit.record_read(
        session, principal, "list", "entrusted_guardianship", [e.id for e, _ in found], ENTRUSTED_FIELDS
    )
    return found, total


# ---------------------------------------------------------------- temporary state guardianship


def temporary_out(t: TemporaryGuardianship) -> TemporaryOut:
    return TemporaryOut(
        id=t.id,
        child_id=t.child_id,
        institution=t.institution,
        reason=t.reason,
        started_on=t.started_on,
        status=t.status,
        status_label=TEMPORARY_STATUSES[t.status],
        ended_on=t.ended_on,
        outcome=t.outcome,
        outcome_label=TEMPORARY_OUTCOMES.get(t.outcome) if t.outcome else None,
        assessment_id=t.assessment_id,
        end_note=t.end_note,
        created_at=t.created_at,
    )


async def create_temporary(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: TemporaryIn
) -> TemporaryGuardianship:
    child = await _writable_child(session, principal, child_id)
    _not_after_today("started_on", data.started_on, "开始日期")
    if data.started_on < child.birth_date:
        raise Invalid.field("started_on", "开始日期早于儿童出生日期 (started before the child was born)")
    await _refuse_state_guardianship(session, child.id)
    standing = await _standing_entrusted(session, child.id)
    if standing is not None:
        _close_entrusted(standing, principal, data.started_on, "转由救助保护机构临时监护")
        await audit.record(session, principal, "update", "entrusted_guardianship", standing.id, ["status"])
    row = TemporaryGuardianship(
        child_id=child.id,
        institution=data.institution.strip(),
        reason=data.reason.strip(),
        started_on=data.started_on,
        status="open",
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, principal, "create", "temporary_guardianship", row.id, TEMPORARY_FIELDS, {"child_id": child.id}
    )
    await _set_file(session, principal, settings, child, "temporary_state")
    return row


async def end_temporary(
    session: AsyncSession, principal: Principal, settings: Settings, temporary_id: int, data: TemporaryEndIn
) -> TemporaryGuardianship:
    missing = NotFound(f"临时监护 {temporary_id} 不存在 (temporary guardianship not found)")
    row = await session.scalar(
        select(TemporaryGuardianship).where(TemporaryGuardianship.id == temporary_id).with_for_update()
    )
    if row is None:
        raise missing
    child = await cases.load_child(session, row.child_id, lock=True)
    if not cases.can_read(principal, child.community_id, child.street_id):
        raise missing
    cases.require_director(principal, child)
    if row.status != "open":
        raise Conflict("该临时监护已结束 (the temporary guardianship has ended)", code="temporary_ended")
    _not_after_today("ended_on", data.ended_on, "结束日期")
    if data.ended_on < row.started_on:
        raise Invalid.field("ended_on", "结束日期不能早于开始日期 (ended before it started)")
    assessment: GuardianshipAssessment | None = None
    if data.assessment_id is not None:
        assessment = await session.get(GuardianshipAssessment, data.assessment_id)
        if assessment is None or assessment.child_id != child.id:
            raise Invalid.field("assessment_id", "该儿童没有这份监护评估 (no such assessment of this child)")
    if data.outcome == "returned_home":
        if assessment is None:
            raise Conflict(
                "儿童返回家庭前须有临时监护开始后作出的监护评估，且结论允许返家，请先完成监护评估"
                " (going home needs an assessment made after the start that allows return)",
                code="assessment_required",
            )
        if assessment.assessed_on < row.started_on:
            raise Conflict(
                f"所选监护评估（{assessment.assessed_on}）早于临时监护开始日期（{row.started_on}），"
                "请在临时监护开始后重新评估 (the assessment predates the placement)",
                code="assessment_too_old",
            )
        band = inst.get(assessment.instrument_code, assessment.instrument_version).band(assessment.result)
        if not band.allows_return:
            raise Conflict(
                f"监护评估结论为“{band.label}”（{assessment.score} 分），不宜返回家庭 "
                "(the assessment's result does not allow return)",
                code="return_not_allowed",
            )
    if data.outcome == "long_term_state":
        raise Conflict(
            "转为长期监护请登记长期监护决定，临时监护将随之结束 (record the long-term guardianship decision instead)",
            code="record_long_term",
        )
    row.status = "ended"
    row.ended_on = data.ended_on
    row.outcome = data.outcome
    row.assessment_id = assessment.id if assessment is not None else None
    row.end_note = data.note.strip()
    row.ended_by = principal.user_id
    await session.flush()
    await audit.record(
        session, principal, "update", "temporary_guardianship", row.id, ["status", "ended_on", "outcome", "end_note"]
    )
    await _set_file(session, principal, settings, child, OUTCOME_GUARDIANSHIP[data.outcome])
    return row


# ---------------------------------------------------------------- long-term state guardianship


def long_term_out(lt: LongTermGuardianship) -> LongTermOut:
    return LongTermOut(
        id=lt.id,
        child_id=lt.child_id,
        document_no=lt.document_no,
        decided_on=lt.decided_on,
        institution=lt.institution,
        started_on=lt.started_on,
        note=lt.note,
        created_at=lt.created_at,
    )


async def create_long_term(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: LongTermIn
) -> LongTermGuardianship:
    child = await _writable_child(session, principal, child_id)
    _not_after_today("decided_on", data.decided_on, "决定日期")
    if data.decided_on < child.birth_date:
        raise Invalid.field("decided_on", "决定日期早于儿童出生日期 (decided before the child was born)")
    if data.started_on < data.decided_on:
        raise Invalid.field("started_on", "开始日期不能早于决定日期 (started before the decision)")
    if data.started_on > clock.today() + dt.timedelta(days=90):
        raise Invalid.field("started_on", "开始日期不能晚于今天起 90 天 (starts more than 90 days ahead)")
    if await _long_term(session, child.id) is not None:
        raise Conflict("儿童已由国家长期监护 (the child is under long-term state guardianship)", code="long_term")
    temporary = await _open_temporary(session, child.id)
    if temporary is not None:
        temporary.status = "ended"
        temporary.ended_on = max(data.started_on, temporary.started_on)
        temporary.outcome = "long_term_state"
        temporary.ended_by = principal.user_id
        await audit.record(session, principal, "update", "temporary_guardianship", temporary.id, ["status", "outcome"])
    standing = await _standing_entrusted(session, child.id)
    if standing is not None:
        _close_entrusted(standing, principal, data.started_on, "转为国家长期监护")
        await audit.record(session, principal, "update", "entrusted_guardianship", standing.id, ["status"])
    row = LongTermGuardianship(
        child_id=child.id,
        document_no=data.document_no.strip(),
        decided_on=data.decided_on,
        institution=data.institution.strip(),
        started_on=data.started_on,
        note=data.note.strip(),
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, principal, "create", "long_term_guardianship", row.id, LONG_TERM_FIELDS, {"child_id": child.id}
    )
    await _set_file(session, principal, settings, child, "long_term_state")
    return row


# ---------------------------------------------------------------- a child's guardianship


async def child_guardianship(session: AsyncSession, principal: Principal, child_id: int) -> GuardianshipOut:
    child = await cases.visible_child(session, principal, child_id)
    entrusted = list(
        (
            await session.scalars(
                select(EntrustedGuardianship)
                .where(EntrustedGuardianship.child_id == child.id)
                .order_by(EntrustedGuardianship.id.desc())
                .limit(SHOWN)
            )
        ).all()
    )
    temporary = list(
        (
            await session.scalars(
                select(TemporaryGuardianship)
                .where(TemporaryGuardianship.child_id == child.id)
                .order_by(TemporaryGuardianship.id.desc())
                .limit(SHOWN)
            )
        ).all()
    )
    long_term = list(
        (
            await session.scalars(
                select(LongTermGuardianship)
                .where(LongTermGuardianship.child_id == child.id)
                .order_by(LongTermGuardianship.id.desc())
                .limit(SHOWN)
            )
        ).all()
    )
    latest = await session.scalar(
        select(GuardianshipAssessment)
        .where(GuardianshipAssessment.child_id == child.id)
        .order_by(GuardianshipAssessment.assessed_on.desc(), GuardianshipAssessment.id.desc())
        .limit(1)
    )
    assessments_total = int(
        await session.scalar(
            select(func.count()).select_from(GuardianshipAssessment).where(GuardianshipAssessment.child_id == child.id)
        )
        or 0
    )
    today = clock.today()
    e_out = [entrusted_out(e, child.name, principal.role, today) for e in entrusted]
    t_out = [temporary_out(t) for t in temporary]
    lt_out = [long_term_out(lt) for lt in long_term]
    detail: dict[str, Any] = {"child_id": child.id}
    await audit.record_read(session, principal, "read", "child", [child.id], ["guardianship"])
    await audit.record_read(
        session, principal, "list", "entrusted_guardianship", [e.id for e in entrusted], ENTRUSTED_FIELDS, detail
    )
    await audit.record_read(
        session, principal, "list", "temporary_guardianship", [t.id for t in temporary], TEMPORARY_FIELDS, detail
    )
    await audit.record_read(
        session, principal, "list", "long_term_guardianship", [lt.id for lt in long_term], LONG_TERM_FIELDS, detail
    )
    latest_out = None
    if latest is not None:
        latest_out = (await present_assessments(session, [latest]))[0]
        await audit.record_read(
            session, principal, "read", "guardianship_assessment", [latest.id], ASSESSMENT_FIELDS, detail
        )
    return GuardianshipOut(
        child_id=child.id,
        guardianship=child.guardianship,
        guardianship_label=GUARDIANSHIP.get(child.guardianship, child.guardianship),
        entrusted=next((e for e in e_out if e.status in STANDING), None),
        temporary=next((t for t in t_out if t.status == "open"), None),
        long_term=lt_out[0] if lt_out else None,
        latest_assessment=latest_out,
        entrusted_history=e_out,
        temporary_history=t_out,
        long_term_history=lt_out,
        assessments_total=assessments_total,
    )


async def open_temporary(
    session: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[tuple[TemporaryGuardianship, str]], int]:
    """The open temporary placements in the caller's scope, the oldest first (the console's board)."""
    stmt = (
        select(TemporaryGuardianship, Child.name)
        .join(Child, Child.id == TemporaryGuardianship.child_id)
        .where(TemporaryGuardianship.status == "open")
    )
    clause = scope(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = (
        await session.execute(
            stmt.order_by(TemporaryGuardianship.started_on, TemporaryGuardianship.id).limit(limit).offset(offset)
        )
    ).all()
    found = [(t, str(name)) for t, name in rows]
    await audit.record_read(
        session, principal, "list", "temporary_guardianship", [t.id for t, _ in found], TEMPORARY_FIELDS
    )
    return found, total
