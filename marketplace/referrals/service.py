"""Closed-loop referrals: sent → accepted | declined → in_service → completed → closed, or revoked.

The need follows through its own lifecycle (``cases.lifecycle``): matched when sent, in service when started,
open again when declined or revoked. The provider's completion only proposes an outcome; the close, after a
follow-up visit, carries the caseworker's verdict, and that settles the need."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking, outbox
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import lifecycle
from marketplace.cases import service as cases
from marketplace.cases.crypto import FieldCipher, field_cipher
from marketplace.cases.models import Child, Escalation, Need, Visit
from marketplace.cases.taxonomy import ESCALATION_LEVELS, NEED_STATUSES, SHAREABLE_CONTACT, VERDICTS
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.matching import service as matching
from marketplace.pagination import fetch_page
from marketplace.referrals import deadlines
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.referrals.schemas import (
    ChildView,
    ContactOut,
    LogIn,
    NeedView,
    OutcomeIn,
    ReferralIn,
    ReferralOut,
    VerdictIn,
)
from marketplace.referrals.taxonomy import OUTCOMES, REFERRAL_STATUSES
from marketplace.resources import service as pool
from marketplace.resources.models import Organization, Service
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.settings import Settings
from marketplace.statemachine import StateMachine, Transition

REFERRAL_LIFECYCLE = StateMachine(
    "referral",
    REFERRAL_STATUSES,
    [
        Transition("accept", frozenset({"sent"}), "accepted", "接收"),
        Transition("decline", frozenset({"sent"}), "declined", "拒绝"),
        Transition("start", frozenset({"accepted"}), "in_service", "开始服务"),
        Transition("complete", frozenset({"in_service"}), "completed", "服务完成"),
        Transition("close", frozenset({"completed"}), "closed", "结案"),
        Transition("revoke", frozenset({"sent", "accepted", "in_service"}), "revoked", "撤回"),
    ],
)
PROVIDER_TRANSITIONS = frozenset({"accept", "decline", "start", "complete"})
CASEWORKER_TRANSITIONS = frozenset({"complete", "close", "revoke"})
ACTIVE = ("sent", "accepted", "in_service")
MINIMAL_FIELDS = ("surname_initial", "age", "gender", "community", "need", "share_note")
STAFF_FIELDS = ("name", "age", "gender", "community", "risk_level", "need", "share_note")


# ---------------------------------------------------------------- scope


def can_read(principal: Principal, r: Referral) -> bool:
    if principal.role == "org_staff":
        return principal.organization_id == r.organization_id
    return cases.can_read(principal, r.community_id, r.street_id)


def is_caseworker(principal: Principal, r: Referral) -> bool:
    """The child's director, or the supervisor of the child's street."""
    return (principal.role == "child_director" and principal.community_id == r.community_id) or (
        principal.role == "child_supervisor" and principal.street_id == r.street_id
    )


async def load(session: AsyncSession, principal: Principal, referral_id: int, *, lock: bool = False) -> Referral:
    stmt = select(Referral).where(Referral.id == referral_id)
    if lock:
        stmt = stmt.with_for_update()
    r = await session.scalar(stmt)
    if r is None or not can_read(principal, r):
        raise NotFound(f"转介 {referral_id} 不存在 (referral not found)")
    return r


# ---------------------------------------------------------------- sending


async def send(session: AsyncSession, principal: Principal, settings: Settings, data: ReferralIn) -> Referral:
    need = await session.scalar(select(Need).where(Need.id == data.need_id).with_for_update())
    if need is None or not cases.can_read(principal, need.community_id, need.street_id):
        raise Invalid.field("need_id", f"需求 {data.need_id} 不存在 (need not found)")
    director = principal.role == "child_director" and principal.community_id == need.community_id
    supervisor = principal.role == "child_supervisor" and principal.street_id == need.street_id
    if not (director or supervisor):
        raise Forbidden("转介由儿童主任或本街道督导员发起 (only the child's director or supervisor refers)")
    if need.status != "open":
        raise Conflict(
            f"需求状态为 {need.status}，不能再次转介 (the need is {need.status}; one referral at a time)",
            need_status=need.status,
        )
    child = await cases.load_child(session, need.child_id)
    if child.status != "active":
        raise Conflict("档案已结案 (the child's file is closed)")
    override = (data.consent_override_reason or "").strip()
    if override and not supervisor:
        raise Forbidden("只有督导员可在无监护人同意时特批转介 (only a supervisor may override consent)")
    if not child.consent_to_share and not override:
        raise Conflict(
            "监护人尚未同意共享信息：请先记录同意，或由督导员说明理由特批 "
            "(guardian consent missing: record it, or a supervisor overrides with a reason)",
            reason="consent_missing",
        )
    check_shareable(data.share_contact, consented=child.consent_to_share or bool(override))
    return await create(
        session,
        principal,
        settings,
        need,
        child,
        data.service_id,
        share_note=data.share_note,
        share_contact=data.share_contact,
        override=override,
    )


async def create(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    need: Need,
    child: Child,
    service_id: int,
    *,
    share_note: str | None,
    share_contact: Sequence[str] = (),
    override: str = "",
) -> Referral:
    """Send the (locked, open) need of ``child`` to ``service_id``: the caller has checked who may and the consent.

    The pair is checked again here (eligible, capacity, funding) and its five-society plan stored with the referral."""
    _, candidate = await matching.check_pair(session, settings, need, service_id)
    svc = candidate.scored.service
    worker = candidate.plan.get("social_worker")
    referral = Referral(
        need_id=need.id,
        child_id=child.id,
        service_id=svc.service_id,
        organization_id=svc.organization_id,
        street_id=child.street_id,
        community_id=child.community_id,
        status="sent",
        share_note=share_note if share_note is not None else child.share_note,
        shared_fields=list(dict.fromkeys(share_contact)),
        consent_override_reason=override or None,
        consent_override_by=principal.user_id if override else None,
        social_worker_id=worker["id"] if worker else None,
        plan=candidate.plan,
        score=candidate.scored.score,
        sent_by=principal.user_id,
        sent_at=utcnow(),
    )
    session.add(referral)
    lifecycle.move(need, "match", by=principal.user_id)
    await session.flush()
    outbox.emit(session, "referrals.sent", {"referral_id": referral.id})
    return referral


# ---------------------------------------------------------------- shared contact


# The statuses in which the provider holds the referral and reads the contact fields shared with it.
CONTACT_HELD = frozenset({"accepted", "in_service", "completed"})
# The statuses in which the caseworker may still change what is shared.
SHARE_OPEN = frozenset({"sent", "accepted", "in_service", "completed"})


def check_shareable(fields: Sequence[str], *, consented: bool) -> None:
    """Only the file's contact fields (``SHAREABLE_CONTACT``), and only with the guardian's consent or a
    supervisor's override (409 otherwise)."""
    unknown = sorted(set(fields) - set(SHAREABLE_CONTACT))
    if unknown:
        raise Conflict(
            f"不可共享的字段 {', '.join(unknown)} (only {', '.join(SHAREABLE_CONTACT)} may be shared)",
            reason="not_shareable",
            fields=unknown,
        )
    if fields and not consented:
        raise Conflict(
            "监护人未同意共享信息，不能向机构提供联系方式 (guardian consent missing: contact details stay private)",
            reason="consent_missing",
        )


async def share_contact(
    session: AsyncSession, principal: Principal, referral_id: int, fields: Sequence[str]
) -> Referral:
    """The caseworker changes the contact fields the provider may read, while the referral is open."""
    r = await load(session, principal, referral_id, lock=True)
    if not is_caseworker(principal, r):
        raise Forbidden("共享字段由儿童主任或本街道督导员设置 (only the child's director or supervisor)")
    if r.status not in SHARE_OPEN:
        raise Conflict(
            f"转介状态为 {r.status}，不能再修改共享字段 (the referral is no longer open)", current_status=r.status
        )
    child = await cases.load_child(session, r.child_id)
    check_shareable(fields, consented=child.consent_to_share or r.consent_override_reason is not None)
    before = list(r.shared_fields or [])
    r.shared_fields = list(dict.fromkeys(fields))
    await session.flush()
    await audit.record(
        session,
        principal,
        "share_contact",
        "referral",
        r.id,
        r.shared_fields,
        {"before": before, "child_id": r.child_id},
    )
    return r


def contact_for(
    principal: Principal, r: Referral, child: Child, cipher: FieldCipher
) -> tuple[list[str], ContactOut | None]:
    """The shared fields and the contact the caller reads on a referral: the provider's staff read the shared
    fields in clear only while they hold it; the child's staff see which fields are shared (they reveal the
    contact on the file, audited)."""
    fields = [f for f in (r.shared_fields or []) if f in SHAREABLE_CONTACT]
    if principal.role != "org_staff":
        return fields, None
    if principal.organization_id != r.organization_id or r.status not in CONTACT_HELD or not fields:
        return [], None
    contact = ContactOut()
    if "guardian_name" in fields:
        contact.guardian_name, contact.guardian_relation = child.guardian_name, child.guardian_relation
    if "guardian_phone" in fields and child.guardian_phone_enc:
        contact.guardian_phone = masking.reveal(
            cipher.decrypt, child.guardian_phone_enc, "children.guardian_phone", f"child {child.id}"
        )
    if "address" in fields and child.address_enc:
        contact.address = masking.reveal(cipher.decrypt, child.address_enc, "children.address", f"child {child.id}")
    return fields, contact


# ---------------------------------------------------------------- transitions


def _authorize(principal: Principal, r: Referral, name: str) -> None:
    provider = principal.role == "org_staff" and principal.organization_id == r.organization_id
    if provider and name in PROVIDER_TRANSITIONS:
        return
    if is_caseworker(principal, r) and name in CASEWORKER_TRANSITIONS:
        return
    raise Forbidden(f"无权对此转介执行“{name}” (not allowed to {name} this referral)")


async def transition(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    name: str,
    *,
    reason: str = "",
    outcome: OutcomeIn | None = None,
    verdict: VerdictIn | None = None,
) -> Referral:
    r = await load(session, principal, referral_id, lock=True)
    _authorize(principal, r, name)
    await _apply(session, r, name, reason=reason, outcome=outcome, verdict=verdict, by=principal.user_id)
    return r


async def _apply(
    session: AsyncSession,
    r: Referral,
    name: str,
    *,
    reason: str = "",
    outcome: OutcomeIn | None = None,
    verdict: VerdictIn | None = None,
    by: int | None = None,
) -> None:
    """One transition of a loaded (locked) referral, with its effects on the need (through the need lifecycle)
    and the service's places."""
    before = r.status
    target = REFERRAL_LIFECYCLE.target(r.status, name)
    if name == "close":
        _check_verdict(verdict)
    r.status = target
    now = utcnow()
    need = await session.scalar(select(Need).where(Need.id == r.need_id).with_for_update())
    assert need is not None
    if name == "accept":
        month = clock.month_key()
        await pool.book_capacity(session, r.service_id, month=month)
        r.accepted_at, r.booked_month = now, month
    elif name == "decline":
        r.declined_at, r.decline_reason = now, reason
        _give_back(need, by)
    elif name == "start":
        r.started_at = now
        lifecycle.move(need, "start", by=by)
    elif name == "complete":
        # The provider's outcome is a proposal: the need stays in service until the caseworker's verdict.
        assert outcome is not None
        r.completed_at, r.outcome, r.outcome_note = now, outcome.outcome, outcome.note or None
    elif name == "close":
        assert verdict is not None and r.completed_at is not None
        completed_on = clock.local_date(r.completed_at)
        follow_up = await session.scalar(
            select(Visit.id)
            .where(Visit.child_id == r.child_id, Visit.visited_on >= completed_on)
            .order_by(Visit.visited_on.desc(), Visit.id.desc())
            .limit(1)
        )
        if follow_up is None:
            raise Conflict(
                "结案前须在儿童档案中记录服务完成后的回访 (record a follow-up visit after completion first)",
                reason="follow_up_visit_missing",
            )
        r.closed_at, r.follow_up_visit_id = now, follow_up
        r.verdict, r.verdict_note, r.verdict_by = verdict.verdict, verdict.note.strip() or None, by
        # A need already withdrawn meanwhile (its file was closed) keeps that status; the verdict stays on record.
        if need.status != "withdrawn":
            lifecycle.settle(need, verdict.verdict, by=by)
            if verdict.reopen_need:
                lifecycle.move(need, "reopen", by=by)
    elif name == "revoke":
        r.revoked_at, r.revoke_reason = now, reason
        # A place booked by the acceptance goes back only if the service never started.
        if before == "accepted" and r.booked_month:
            await pool.release_capacity(session, r.service_id, month=r.booked_month)
        _give_back(need, by)
    await session.flush()
    outbox.emit(session, f"referrals.{name}", {"referral_id": r.id})


def _check_verdict(verdict: VerdictIn | None) -> None:
    if verdict is None:
        raise Invalid.field("verdict", "结案须给出回访结论 (closing takes the caseworker's verdict)")
    if verdict.reopen_need and verdict.verdict not in ("partly_met", "not_met"):
        raise Invalid.field(
            "reopen_need",
            "只有部分满足或未满足的需求可重新对接 (only a partly met or unmet need goes back to the open list)",
        )


def _give_back(need: Need, by: int | None) -> None:
    """A declined or revoked referral gives its need back to the open list (if the referral still held it)."""
    if need.status in lifecycle.HELD_NEED_STATUSES:
        lifecycle.move(need, "reopen", by=by)


async def open_for_child(session: AsyncSession, child_id: int) -> list[int]:
    """The ids of the child's referrals still waiting or in progress, in id order."""
    rows = await session.scalars(
        select(Referral.id).where(Referral.child_id == child_id, Referral.status.in_(ACTIVE)).order_by(Referral.id)
    )
    return list(rows.all())


def open_escalation_steps() -> ColumnElement[bool]:
    """An escalation step of a referral is open while the referral is still where its kind says: ``accept`` while
    it waits for an answer, ``first_contact`` while it is accepted and not started (``cases.ports``)."""
    return exists().where(
        Referral.id == Escalation.entity_id,
        or_(
            and_(Escalation.kind == "accept", Referral.status == "sent"),
            and_(Escalation.kind == "first_contact", Referral.status == "accepted"),
        ),
    )


async def provider_of(session: AsyncSession, referral_id: int) -> int | None:
    """The organization that holds the referral: the one a supervisor's reminder goes to (``cases.ports``)."""
    return await session.scalar(select(Referral.organization_id).where(Referral.id == referral_id))


async def move_with_needs(
    session: AsyncSession, need_ids: Sequence[int], community_id: int, street_id: int
) -> list[int]:
    """A transferred file's referrals follow its needs to the new community and street (``cases.ports``)."""
    if not need_ids:
        return []
    rows = list(
        (
            await session.scalars(
                select(Referral).where(Referral.need_id.in_(need_ids)).order_by(Referral.id).with_for_update()
            )
        ).all()
    )
    for r in rows:
        r.community_id, r.street_id = community_id, street_id
    await session.flush()
    return [r.id for r in rows]


async def revoke_open_for_child(session: AsyncSession, child_id: int, *, reason: str) -> list[Referral]:
    """Withdraw every referral of the child still waiting or in progress (its file was closed).

    Each goes through the ordinary revoke transition: a place booked by an acceptance goes back to the
    service's month and the provider is told. The closing of the file by the child's director authorized
    it; run again, it finds nothing left to revoke."""
    referrals = list(
        (
            await session.scalars(
                select(Referral)
                .where(Referral.child_id == child_id, Referral.status.in_(ACTIVE))
                .order_by(Referral.id)
                .with_for_update()
            )
        ).all()
    )
    for r in referrals:
        await _apply(session, r, "revoke", reason=reason)
    return referrals


async def add_log(session: AsyncSession, principal: Principal, referral_id: int, data: LogIn) -> ReferralLog:
    r = await load(session, principal, referral_id, lock=True)
    if not (principal.role == "org_staff" and principal.organization_id == r.organization_id):
        raise Forbidden("服务记录由承接机构填写 (the provider writes the delivery log)")
    if r.status not in ("in_service", "completed"):
        raise Conflict(f"转介状态为 {r.status}，不能记录服务 (log service once it has started)")
    if data.delivered_on > clock.today():
        raise Invalid.field("delivered_on", "服务日期不能晚于今天 (date in the future)")
    if data.delivered_on < clock.local_date(r.sent_at):
        raise Invalid.field("delivered_on", "服务日期早于转介日期 (date before the referral)")
    log = ReferralLog(
        referral_id=r.id,
        delivered_on=data.delivered_on,
        minutes=data.minutes,
        note=data.note,
        author_id=principal.user_id,
    )
    session.add(log)
    await session.flush()
    return log


async def list_logs(
    session: AsyncSession, principal: Principal, referral_id: int, *, limit: int, offset: int
) -> tuple[list[ReferralLog], int]:
    r = await load(session, principal, referral_id)
    stmt = select(ReferralLog).where(ReferralLog.referral_id == r.id)
    rows, total = await fetch_page(session, stmt, ReferralLog.delivered_on, ReferralLog.id, limit=limit, offset=offset)
    await audit.record_read(session, principal, "read", "referral", [r.id], ["logs"], {"logs": len(rows)})
    return rows, total


# ---------------------------------------------------------------- reading


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    organization_id: int | None,
    need_id: int | None,
    child_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[Referral], int]:
    stmt = select(Referral)
    if principal.role == "org_staff":
        stmt = stmt.where(Referral.organization_id == (principal.organization_id or 0))
    else:
        clause = cases.scope_clause(principal, Referral.community_id, Referral.street_id)
        if clause is not None:
            stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(Referral.status == status)
    if organization_id:
        stmt = stmt.where(Referral.organization_id == organization_id)
    if need_id:
        stmt = stmt.where(Referral.need_id == need_id)
    if child_id:
        stmt = stmt.where(Referral.child_id == child_id)
    return await fetch_page(session, stmt, Referral.id.desc(), limit=limit, offset=offset)


async def counts_by_child(
    session: AsyncSession, principal: Principal, child_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per child of ``child_ids``: how many of its referrals are open (waiting or in progress, ``ACTIVE``), how
    many of those the escalation ladder has taken up (``escalated``: not yet in service), and how many wait for the
    caseworker's verdict (``completed``). The caller's scope applies, as in ``list_referrals``."""
    if not child_ids:
        return {}
    escalated = Referral.escalated_at.is_not(None) & Referral.status.in_(("sent", "accepted"))
    stmt = (
        select(Referral.child_id, Referral.status, func.count(), func.count().filter(escalated))
        .where(Referral.child_id.in_(child_ids), Referral.status.in_((*ACTIVE, "completed")))
        .group_by(Referral.child_id, Referral.status)
    )
    if principal.role == "org_staff":
        stmt = stmt.where(Referral.organization_id == (principal.organization_id or 0))
    else:
        clause = cases.scope_clause(principal, Referral.community_id, Referral.street_id)
        if clause is not None:
            stmt = stmt.where(clause)
    out: dict[int, dict[str, int]] = {}
    for child_id, status, n, up in (await session.execute(stmt)).all():
        counts = out.setdefault(int(child_id), {"open": 0, "escalated": 0, "awaiting_verdict": 0})
        counts["awaiting_verdict" if status == "completed" else "open"] += int(n)
        counts["escalated"] += int(up)
    return out


async def present(
    session: AsyncSession, principal: Principal, settings: Settings, referrals: Sequence[Referral], *, action: str
) -> list[ReferralOut]:
    """Referrals as the caller may see them, with one audit row per child shown."""
    if not referrals:
        return []
    need_ids = {r.need_id for r in referrals}
    child_ids = {r.child_id for r in referrals}
    needs = {n.id: n for n in (await session.scalars(select(Need).where(Need.id.in_(need_ids)))).all()}
    children = {c.id: c for c in (await session.scalars(select(Child).where(Child.id.in_(child_ids)))).all()}
    communities = dict(
        (
            await session.execute(
                select(Community.id, Community.name).where(Community.id.in_({r.community_id for r in referrals}))
            )
        ).all()
    )
    services = dict(
        (
            await session.execute(
                select(Service.id, Service.title).where(Service.id.in_({r.service_id for r in referrals}))
            )
        ).all()
    )
    orgs = dict(
        (
            await session.execute(
                select(Organization.id, Organization.name).where(
                    Organization.id.in_({r.organization_id for r in referrals})
                )
            )
        ).all()
    )
    cipher = field_cipher(settings)
    shared = {r.id: contact_for(principal, r, children[r.child_id], cipher) for r in referrals}
    minimal = principal.role == "org_staff"
    today = clock.today()
    out = []
    for r in referrals:
        child, need = children[r.child_id], needs[r.need_id]
        age = cases.age_on(child.birth_date, today)
        if minimal:
            view = ChildView(
                age=age,
                gender=child.gender,
                community_id=r.community_id,
                community_name=communities.get(r.community_id, ""),
                surname_initial=child.name[:1] + "*",
            )
        else:
            view = ChildView(
                id=child.id,
                name=child.name,
                age=age,
                gender=child.gender,
                community_id=r.community_id,
                community_name=communities.get(r.community_id, ""),
                risk_level=child.risk_level,
            )
        out.append(
            ReferralOut(
                id=r.id,
                status=r.status,
                status_label=REFERRAL_STATUSES[r.status],
                need=NeedView(
                    id=need.id,
                    category=need.category,
                    category_label=SERVICE_CATEGORIES.get(need.category, need.category),
                    urgency=need.urgency,
                    note=None if minimal else need.note,
                ),
                child=view,
                service_id=r.service_id,
                service_title=services.get(r.service_id, ""),
                organization_id=r.organization_id,
                organization_name=orgs.get(r.organization_id, ""),
                street_id=r.street_id,
                share_note=r.share_note,
                plan=_plan_for(r, minimal),
                score=r.score,
                consent_override=r.consent_override_reason is not None,
                sent_at=r.sent_at,
                accepted_at=r.accepted_at,
                declined_at=r.declined_at,
                decline_reason=r.decline_reason,
                started_at=r.started_at,
                completed_at=r.completed_at,
                outcome=r.outcome,
                outcome_label=OUTCOMES.get(r.outcome) if r.outcome else None,
                outcome_note=r.outcome_note,
                closed_at=r.closed_at,
                revoked_at=r.revoked_at,
                revoke_reason=r.revoke_reason,
                escalated_at=r.escalated_at,
                response_due_at=deadlines.response_due_at(r, need.urgency, settings.deadlines),
                contact_due_at=deadlines.contact_due_at(r, need.urgency, settings.deadlines),
                escalation_level=r.escalation_level or 0,
                escalation_label=ESCALATION_LEVELS.get(r.escalation_level or 0, ""),
                allowed_transitions=_allowed(principal, r),
                shared_fields=shared[r.id][0],
                contact=shared[r.id][1],
                verdict=r.verdict,
                verdict_label=VERDICTS.get(r.verdict) if r.verdict else None,
                verdict_note=r.verdict_note,
                need_status=need.status,
                need_status_label=NEED_STATUSES.get(need.status, need.status),
            )
        )
    # One audit row per set of fields shown: a referral whose shared contact was read names those fields too.
    by_fields: dict[tuple[str, ...], list[int]] = {}
    for r in referrals:
        contact_fields = tuple(shared[r.id][0]) if shared[r.id][1] is not None else ()
        by_fields.setdefault(contact_fields, []).append(r.child_id)
    for contact_fields, read_ids in by_fields.items():
        await audit.record_read(
            session,
            principal,
            f"{action}_minimal" if minimal else action,
            "child",
            read_ids,
            (*(MINIMAL_FIELDS if minimal else STAFF_FIELDS), *contact_fields),
            {"via": "referral"},
        )
    return out


def _plan_for(r: Referral, minimal: bool) -> dict[str, object]:
    plan = dict(r.plan or {})
    if minimal and isinstance(plan.get("community"), dict):
        # The provider needs to know whom to call at the community, not the child's identity.
        plan["community"] = {k: v for k, v in plan["community"].items() if k in ("id", "name", "director")}
    return plan


def _allowed(principal: Principal, r: Referral) -> list[str]:
    names = REFERRAL_LIFECYCLE.allowed(r.status)
    result = []
    for name in names:
        try:
            _authorize(principal, r, name)
        except Forbidden:
            continue
        result.append(name)
    return result
