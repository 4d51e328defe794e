"""Left-behind children's parents away from home: the versioned records, the contact log, visits home, and the
contact rule (``check_contact``: no contact within the expected frequency + grace opens an alert for the community's
directors; still none after ``ESCALATE_FACTOR`` times that, the street's supervisors are told, urgently; the next
contact or visit home recorded resolves it).

Scope is the child's file (``cases.service``): the child's director writes, the street's supervisor and the district
read, anyone else is told the child (or the parent, or the alert) does not exist. Every read writes its audit row.

A parent's record is versioned, not edited: ``new_version`` writes a new row with the changes and marks the old one
``replaced_by_id`` (row-locked, so two changes at once cannot both supersede it: the second is told to reload).
A version keeps what the bureau knew at the time (where the parent worked, how they were reached), which an update in
place would lose; contacts, visits home and alerts hang on the lineage (the first version's id)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.families.models import ContactAlert, ParentAway, ParentContact, ParentVisitHome
from marketplace.families.schemas import (
    FamilyAlertOut,
    ParentAwayIn,
    ParentAwayOut,
    ParentAwayVersionIn,
    ParentContactIn,
    ParentContactOut,
    ParentVisitHomeIn,
    ParentVisitHomeOut,
)
from marketplace.families.taxonomy import (
    ALERT_LEVELS,
    ALERT_STATUSES,
    CHANNELS,
    ESCALATE_FACTOR,
    FREQUENCIES,
    FREQUENCY_LABELS,
    GRACE_DAYS,
    RELATIONS,
)
from marketplace.geography.models import Community
from marketplace.pagination import fetch_page

# What a parent's record shows (audited by name; never its values).
PARENT_FIELDS = ("relation", "name", "work_place", "employer", "job", "phone", "wechat", "frequency", "note")
CONTACT_FIELDS = ("contacted_on", "channel", "note")
ALERT_FIELDS = ("child_name", "relation", "work_place", "silent_since", "level")
# Roles that see the parent's phone and WeChat in full: the ones who call them.
CALLERS = frozenset({"child_director", "child_supervisor"})
# Visits home shown with a parent.
VISITS_SHOWN = 5
CHECK_BATCH = 500
# A parent may be recorded as away since at most this long ago (a typo of the year, not a history).
MAX_AWAY_YEARS = 30
# A stay at home may be recorded to end at most this far ahead (the day the parent plans to leave again).
MAX_STAY_AHEAD = dt.timedelta(days=90)


# ---------------------------------------------------------------- the rule


def allowed_days(frequency: str) -> int:
    return FREQUENCIES[frequency][1] + GRACE_DAYS


@dataclass(frozen=True)
class Silence:
    """Where a parent's contact stands on ``today``."""

    since: dt.date  # the last contact, or the day the rule started counting
    due_on: dt.date  # a contact is due by this day (frequency + grace)
    escalate_on: dt.date  # the street's supervisor is told after this day
    days: int  # days since the last contact (or ``since`` when there was none)

    def level(self, today: dt.date) -> int:
        if today > self.escalate_on:
            return 2
        return 1 if today > self.due_on else 0


def silence(parent: ParentAway, last_contact: dt.date | None, today: dt.date) -> Silence:
    """The rule counts from the last contact, but never from before the day it started watching this parent (the
    record's first day, or the day they left again after a return): an old contact typed in late opens no alert
    on the day the parent is recorded. ``days`` is the plain silence since the last contact, as the director reads
    it."""
    since = max(last_contact, parent.tracked_from) if last_contact else parent.tracked_from
    allowed = allowed_days(parent.frequency)
    return Silence(
        since=since,
        due_on=since + dt.timedelta(days=allowed),
        escalate_on=since + dt.timedelta(days=allowed * ESCALATE_FACTOR),
        days=max(0, (today - (last_contact or since)).days),
    )


async def last_contacts(session: AsyncSession, lineage_ids: Sequence[int], today: dt.date) -> dict[int, dt.date]:
    """Per lineage, the last day the parent was in touch: a contact recorded, or a day of a stay at home (a stay
    still going counts up to today)."""
    if not lineage_ids:
        return {}
    found: dict[int, dt.date] = {}
    calls = await session.execute(
        select(ParentContact.parent_id, func.max(ParentContact.contacted_on))
        .where(ParentContact.parent_id.in_(lineage_ids))
        .group_by(ParentContact.parent_id)
    )
    for pid, on in calls.all():
        found[int(pid)] = on
    stays = await session.execute(
        select(ParentVisitHome.parent_id, func.max(ParentVisitHome.to_date), func.max(ParentVisitHome.from_date))
        .where(ParentVisitHome.parent_id.in_(lineage_ids), ParentVisitHome.from_date <= today)
        .group_by(ParentVisitHome.parent_id)
    )
    for pid, to_date, from_date in stays.all():
        last = min(max(to_date, from_date), today)
        if int(pid) not in found or found[int(pid)] < last:
            found[int(pid)] = last
    return found


# ---------------------------------------------------------------- scope


async def _readable_child(session: AsyncSession, principal: Principal, child_id: int) -> Child:
    return await cases.visible_child(session, principal, child_id)


async def _writable_child(session: AsyncSession, principal: Principal, child_id: int) -> Child:
    child = await cases.load_child(session, child_id)
    cases.require_director(principal, child)
    if child.status != "active":
        raise Conflict("档案已结案，不能再登记 (the file is closed)")
    return child


async def _parent(session: AsyncSession, parent_id: int, *, lock: bool = False) -> ParentAway:
    stmt = select(ParentAway).where(ParentAway.id == parent_id)
    if lock:
        stmt = stmt.with_for_update()
    parent = await session.scalar(stmt)
    if parent is None:
        raise NotFound(f"父母外出记录 {parent_id} 不存在 (parent not found)")
    return parent


async def _current(session: AsyncSession, lineage_id: int) -> ParentAway:
    row = await session.scalar(
        select(ParentAway).where(ParentAway.lineage_id == lineage_id, ParentAway.replaced_by_id.is_(None))
    )
    assert row is not None, "a lineage always has its current version"
    return row


async def _writable_parent(
    session: AsyncSession, principal: Principal, parent_id: int, *, lock: bool = False
) -> tuple[ParentAway, Child]:
    """A parent the caller writes: the child's director (403 for those who only read it, 404 for the rest)."""
    parent = await _parent(session, parent_id, lock=lock)
    try:
        child = await _writable_child(session, principal, parent.child_id)
    except NotFound:
        raise NotFound(f"父母外出记录 {parent_id} 不存在 (parent not found)") from None
    return parent, child


# ---------------------------------------------------------------- presenting


def _work_place(p: ParentAway) -> str:
    return " ".join(x for x in (p.work_province, p.work_city) if x)


def _visit_out(v: ParentVisitHome) -> ParentVisitHomeOut:
    return msgspec.convert(v, ParentVisitHomeOut, from_attributes=True)


async def present(session: AsyncSession, principal: Principal, rows: Sequence[ParentAway]) -> list[ParentAwayOut]:
    today = clock.today()
    lineages = [int(p.lineage_id or p.id) for p in rows]
    last = await last_contacts(session, lineages, today)
    alerts = {
        a.parent_id: a
        for a in (
            await session.scalars(
                select(ContactAlert).where(ContactAlert.parent_id.in_(lineages), ContactAlert.status == "open")
            )
        ).all()
    }
    stays: dict[int, list[ParentVisitHomeOut]] = {}
    if lineages:
        for v in (
            await session.scalars(
                select(ParentVisitHome)
                .where(ParentVisitHome.parent_id.in_(lineages))
                .order_by(ParentVisitHome.from_date.desc(), ParentVisitHome.id.desc())
            )
        ).all():
            shown = stays.setdefault(v.parent_id, [])
            if len(shown) < VISITS_SHOWN:
                shown.append(_visit_out(v))
    full = principal.role in CALLERS
    out = []
    for p in rows:
        lineage = int(p.lineage_id or p.id)
        s = None if p.returned_on else silence(p, last.get(lineage), today)
        alert = alerts.get(lineage)
        out.append(
            ParentAwayOut(
                id=p.id,
                lineage_id=lineage,
                version=p.version,
                child_id=p.child_id,
                relation=p.relation,
                relation_label=RELATIONS.get(p.relation, p.relation),
                name=p.name if full else masking.mask_name(p.name) if p.name else "",
                work_province=p.work_province,
                work_city=p.work_city,
                employer=p.employer,
                job=p.job,
                phone=p.phone if full else masking.mask_phone(p.phone) if p.phone else "",
                wechat=p.wechat if full else masking.mask_text(p.wechat) if p.wechat else "",
                frequency=p.frequency,
                frequency_label=FREQUENCY_LABELS.get(p.frequency, p.frequency),
                away_since=p.away_since,
                returned_on=p.returned_on,
                note=p.note,
                created_at=p.created_at,
                last_contact_on=last.get(lineage),
                contact_due_on=s.due_on if s else None,
                days_silent=s.days if s else None,
                alert_id=alert.id if alert else None,
                alert_level=alert.level if alert else None,
                visits_home=stays.get(lineage, []),
            )
        )
    return out


# ---------------------------------------------------------------- parents


def _check_dates(away_since: dt.date | None, returned_on: dt.date | None, today: dt.date) -> None:
    if away_since is not None:
        if away_since > today:
            raise Invalid.field("away_since", "外出时间不能晚于今天 (away since a future date)")
        if (today - away_since).days > MAX_AWAY_YEARS * 366:
            raise Invalid.field("away_since", "外出时间过早，请核对年份 (away since too long ago)")
    if returned_on is not None:
        if returned_on > today:
            raise Invalid.field("returned_on", "返乡日期不能晚于今天 (returned on a future date)")
        if away_since is not None and returned_on < away_since:
            raise Invalid.field("returned_on", "返乡日期不能早于外出时间 (returned before leaving)")


def _text(value: str) -> str:
    return value.strip()


async def create_parent(session: AsyncSession, principal: Principal, child_id: int, data: ParentAwayIn) -> ParentAway:
    child = await _writable_child(session, principal, child_id)
    today = clock.today()
    _check_dates(data.away_since, None, today)
    if not _text(data.work_province):
        raise Invalid.field("work_province", "请填写务工省份 (province required)")
    current = await session.scalar(
        select(func.count())
        .select_from(ParentAway)
        .where(ParentAway.child_id == child.id, ParentAway.replaced_by_id.is_(None), ParentAway.returned_on.is_(None))
    )
    if int(current or 0) >= 6:
        raise Conflict("该儿童已登记 6 位外出父母或监护人 (too many parents away recorded)")
    parent = ParentAway(
        child_id=child.id,
        version=1,
        relation=data.relation,
        name=_text(data.name),
        work_province=_text(data.work_province),
        work_city=_text(data.work_city),
        employer=_text(data.employer),
        job=_text(data.job),
        phone=_text(data.phone),
        wechat=_text(data.wechat),
        frequency=data.frequency,
        away_since=data.away_since,
        tracked_from=today,
        note=_text(data.note),
        created_by=principal.user_id,
    )
    session.add(parent)
    await session.flush()
    parent.lineage_id = parent.id
    await session.flush()
    await audit.record(
        session, principal, "create", "families_parent", parent.id, PARENT_FIELDS, {"child_id": child.id}
    )
    return parent


VERSIONED = (
    "relation",
    "name",
    "work_province",
    "work_city",
    "employer",
    "job",
    "phone",
    "wechat",
    "frequency",
    "away_since",
    "returned_on",
    "note",
)


async def new_version(
    session: AsyncSession, principal: Principal, parent_id: int, data: ParentAwayVersionIn
) -> ParentAway:
    old, child = await _writable_parent(session, principal, parent_id, lock=True)
    if old.replaced_by_id is not None:
        raise Conflict(
            f"该记录已有更新版本（{old.replaced_by_id}），请在最新版本上修改 (superseded: change the current version)",
            current_id=old.replaced_by_id,
        )
    values: dict[str, Any] = {f: getattr(old, f) for f in VERSIONED}
    changed = []
    for f in VERSIONED:
        given = getattr(data, f)
        if given is msgspec.UNSET:
            continue
        if isinstance(given, str):
            given = given.strip()
        if given != values[f]:
            values[f] = given
            changed.append(f)
    if not changed:
        raise Invalid("没有需要修改的内容 (nothing changed)")
    if not values["work_province"]:
        raise Invalid.field("work_province", "请填写务工省份 (province required)")
    today = clock.today()
    _check_dates(values["away_since"], values["returned_on"], today)
    # Leaving again after a return: the rule counts from today.
    tracked_from = today if (old.returned_on is not None and values["returned_on"] is None) else old.tracked_from
    new = ParentAway(
        child_id=old.child_id,
        lineage_id=old.lineage_id or old.id,
        version=old.version + 1,
        tracked_from=tracked_from,
        created_by=principal.user_id,
        **values,
    )
    session.add(new)
    await session.flush()
    old.replaced_by_id = new.id
    if new.returned_on is not None:
        await _resolve(session, int(new.lineage_id or new.id), "returned", new.id, on=new.returned_on)
    await session.flush()
    await audit.record(
        session, principal, "update", "families_parent", new.id, changed, {"child_id": child.id, "replaces": old.id}
    )
    return new


async def list_parents(
    session: AsyncSession, principal: Principal, child_id: int, *, history: bool = False
) -> tuple[Child, list[ParentAway]]:
    child = await _readable_child(session, principal, child_id)
    stmt = select(ParentAway).where(ParentAway.child_id == child.id)
    if not history:
        stmt = stmt.where(ParentAway.replaced_by_id.is_(None))
    rows = list((await session.scalars(stmt.order_by(ParentAway.lineage_id, ParentAway.version))).all())
    # A read of the child's file (its parents away), as the visits are: the rows shown named in the detail.
    await audit.record_read(
        session,
        principal,
        "read",
        "child",
        [child.id],
        [f"parents.{f}" for f in PARENT_FIELDS],
        {"parent_ids": [p.id for p in rows]},
    )
    return child, rows


# ---------------------------------------------------------------- contacts and visits home


async def _resolve(session: AsyncSession, lineage_id: int, how: str, entity_id: int, *, on: dt.date) -> int:
    """Resolve the lineage's open alerts whose silence began on or before ``on`` (a contact about an older day
    resolves nothing)."""
    found = (
        await session.scalars(
            select(ContactAlert).where(
                ContactAlert.parent_id == lineage_id,
                ContactAlert.status == "open",
                ContactAlert.silent_since <= on,
            )
        )
    ).all()
    now = clock.now()
    for alert in found:
        alert.status = "resolved"
        alert.resolved_at = now
        alert.resolved_by = how
        alert.resolved_entity_id = entity_id
    return len(found)


async def record_contact(
    session: AsyncSession, principal: Principal, parent_id: int, data: ParentContactIn
) -> ParentContact:
    parent, child = await _writable_parent(session, principal, parent_id)
    lineage = int(parent.lineage_id or parent.id)
    today = clock.today()
    if data.contacted_on > today:
        raise Invalid.field("contacted_on", "联系日期不能晚于今天 (contact in the future)")
    if data.contacted_on < child.birth_date:
        raise Invalid.field("contacted_on", "联系日期早于儿童出生日期 (contact before birth)")
    contact = ParentContact(
        parent_id=lineage,
        child_id=child.id,
        contacted_on=data.contacted_on,
        channel=data.channel,
        note=data.note.strip(),
        recorded_by=principal.user_id,
    )
    session.add(contact)
    await session.flush()
    await _resolve(session, lineage, "contact", contact.id, on=data.contacted_on)
    await session.flush()
    await audit.record(
        session, principal, "create", "families_contact", contact.id, CONTACT_FIELDS, {"child_id": child.id}
    )
    return contact


async def record_visit_home(
    session: AsyncSession, principal: Principal, parent_id: int, data: ParentVisitHomeIn
) -> ParentVisitHome:
    parent, child = await _writable_parent(session, principal, parent_id)
    lineage = int(parent.lineage_id or parent.id)
    today = clock.today()
    if data.from_date > today:
        raise Invalid.field("from_date", "回家日期不能晚于今天 (stay starts in the future)")
    if data.from_date < child.birth_date:
        raise Invalid.field("from_date", "回家日期早于儿童出生日期 (stay before birth)")
    if data.to_date < data.from_date:
        raise Invalid.field("to_date", "离家日期不能早于回家日期 (stay ends before it starts)")
    if data.to_date > today + MAX_STAY_AHEAD:
        raise Invalid.field("to_date", "离家日期最多可登记到 90 天后 (stay ends too far ahead)")
    stay = ParentVisitHome(
        parent_id=lineage,
        child_id=child.id,
        from_date=data.from_date,
        to_date=data.to_date,
        note=data.note.strip(),
        recorded_by=principal.user_id,
    )
    session.add(stay)
    await session.flush()
    await _resolve(session, lineage, "visit_home", stay.id, on=min(data.to_date, today))
    await session.flush()
    await audit.record(
        session,
        principal,
        "create",
        "families_visit_home",
        stay.id,
        ("from_date", "to_date", "note"),
        {"child_id": child.id},
    )
    return stay


def contact_out(c: ParentContact, relations: dict[int, str]) -> ParentContactOut:
    return ParentContactOut(
        id=c.id,
        parent_id=c.parent_id,
        child_id=c.child_id,
        relation_label=RELATIONS.get(relations.get(c.parent_id, ""), ""),
        contacted_on=c.contacted_on,
        channel=c.channel,
        channel_label=CHANNELS.get(c.channel, c.channel),
        note=c.note,
        recorded_by=c.recorded_by,
        created_at=c.created_at,
    )


async def list_contacts(
    session: AsyncSession, principal: Principal, child_id: int, *, limit: int, offset: int
) -> tuple[list[ParentContactOut], int]:
    child = await _readable_child(session, principal, child_id)
    stmt = select(ParentContact).where(ParentContact.child_id == child.id)
    rows, total = await fetch_page(
        session, stmt, ParentContact.contacted_on.desc(), ParentContact.id.desc(), limit=limit, offset=offset
    )
    relations = {
        int(i): r
        for i, r in (
            await session.execute(
                select(ParentAway.lineage_id, ParentAway.relation).where(
                    ParentAway.child_id == child.id, ParentAway.replaced_by_id.is_(None)
                )
            )
        ).all()
        if i is not None
    }
    await audit.record_read(
        session,
        principal,
        "read",
        "child",
        [child.id],
        [f"parent_contacts.{f}" for f in CONTACT_FIELDS],
        {"contact_ids": [c.id for c in rows]},
    )
    return [contact_out(c, relations) for c in rows], total


# ---------------------------------------------------------------- alerts


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    community_id: int | None,
    street_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[FamilyAlertOut], int]:
    """The alerts of the caller's scope (the child's community and street now), the longest silence first."""
    stmt = select(ContactAlert).join(Child, Child.id == ContactAlert.child_id)
    clause = cases.scope_clause(principal, Child.community_id, Child.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(ContactAlert.status == status)
    if community_id:
        stmt = stmt.where(Child.community_id == community_id)
    if street_id:
        stmt = stmt.where(Child.street_id == street_id)
    rows, total = await fetch_page(
        session, stmt, ContactAlert.silent_since, ContactAlert.id, limit=limit, offset=offset
    )
    out = await present_alerts(session, rows)
    await audit.record_read(
        session,
        principal,
        "list",
        "families_alert",
        [a.id for a in rows],
        ALERT_FIELDS,
        {"child_ids": sorted({a.child_id for a in rows})},
    )
    return out, total


async def present_alerts(session: AsyncSession, rows: Sequence[ContactAlert]) -> list[FamilyAlertOut]:
    if not rows:
        return []
    today = clock.today()
    children = {
        c.id: c for c in (await session.scalars(select(Child).where(Child.id.in_({a.child_id for a in rows})))).all()
    }
    communities = {
        int(i): n
        for i, n in (
            await session.execute(
                select(Community.id, Community.name).where(
                    Community.id.in_({c.community_id for c in children.values()})
                )
            )
        ).all()
    }
    parents = {
        int(p.lineage_id or p.id): p
        for p in (
            await session.scalars(
                select(ParentAway).where(
                    ParentAway.lineage_id.in_({a.parent_id for a in rows}), ParentAway.replaced_by_id.is_(None)
                )
            )
        ).all()
    }
    out = []
    for a in rows:
        child = children[a.child_id]
        p = parents.get(a.parent_id)
        out.append(
            FamilyAlertOut(
                id=a.id,
                parent_id=a.parent_id,
                child_id=a.child_id,
                child_name=child.name,
                community_id=child.community_id,
                community_name=communities.get(child.community_id, ""),
                street_id=child.street_id,
                relation_label=RELATIONS.get(p.relation, "") if p else "",
                work_place=_work_place(p) if p else "",
                frequency_label=FREQUENCY_LABELS.get(p.frequency, "") if p else "",
                silent_since=a.silent_since,
                due_on=a.due_on,
                days_silent=max(
                    0, ((clock.local_date(a.resolved_at) if a.resolved_at else today) - a.silent_since).days
                ),
                level=a.level,
                level_label=ALERT_LEVELS.get(a.level, ""),
                status=a.status,
                status_label=ALERT_STATUSES.get(a.status, a.status),
                opened_at=a.opened_at,
                escalated_at=a.escalated_at,
                resolved_at=a.resolved_at,
            )
        )
    return out


# ---------------------------------------------------------------- the daily check


async def _raise(
    session: AsyncSession, parent: ParentAway, child: Child, s: Silence
) -> tuple[ContactAlert | None, bool]:
    """The alert of this silence and whether it is new (None if another worker opened it at the same time)."""
    lineage = int(parent.lineage_id or parent.id)
    alert = await session.scalar(
        select(ContactAlert).where(ContactAlert.parent_id == lineage, ContactAlert.silent_since == s.since)
    )
    if alert is not None:
        return alert, False
    try:
        async with session.begin_nested():
            alert = ContactAlert(
                parent_id=lineage,
                child_id=child.id,
                silent_since=s.since,
                due_on=s.due_on,
                level=1,
                status="open",
                resolved_by="",
            )
            session.add(alert)
    except IntegrityError:
        return None, False
    return alert, True


def _body(parent: ParentAway, s: Silence, escalated: bool) -> str:
    # No child's name, address or identity number: these may leave the app by SMS or email (messaging).
    who = RELATIONS.get(parent.relation, "外出监护人")
    expected = FREQUENCY_LABELS.get(parent.frequency, parent.frequency)
    text = f"一名留守儿童的{who}已 {s.days} 天未与孩子联系（约定{expected}联系，自 {s.since.isoformat()} 起）。"
    if escalated:
        return text + "社区儿童主任提醒后仍未恢复联系，请督导核实。"
    return text + "请尽快联系其父母了解情况，并在系统中登记联系。"


async def check_contact(session: AsyncSession, today: dt.date | None = None) -> dict[str, int]:
    """The daily contact check over every parent away of an active file (idempotent: the alert is unique per
    silence, its notifications per alert and level). Resolves the open alerts of parents who came home and of
    closed files. Returns what it did."""
    today = today or clock.today()
    done = {"opened": 0, "escalated": 0, "resolved": 0, "checked": 0}
    after = 0
    while True:
        found = await session.execute(
            select(ParentAway, Child)
            .join(Child, Child.id == ParentAway.child_id)
            .where(ParentAway.replaced_by_id.is_(None), ParentAway.id > after)
            .order_by(ParentAway.id)
            .limit(CHECK_BATCH)
        )
        batch: list[tuple[ParentAway, Child]] = [(p, c) for p, c in found.all()]
        if not batch:
            break
        after = batch[-1][0].id
        last = await last_contacts(session, [int(p.lineage_id or p.id) for p, _ in batch], today)
        for parent, child in batch:
            done["checked"] += 1
            lineage = int(parent.lineage_id or parent.id)
            if parent.returned_on is not None or child.status != "active":
                how = "returned" if parent.returned_on is not None else "closed"
                done["resolved"] += await _resolve(session, lineage, how, parent.id, on=today)
                continue
            s = silence(parent, last.get(lineage), today)
            level = s.level(today)
            if level == 0:
                # Within its time again without a contact recorded: the expected frequency was changed.
                done["resolved"] += await _resolve(session, lineage, "rule", parent.id, on=s.since)
                continue
            alert, new = await _raise(session, parent, child, s)
            if alert is None or alert.status != "open":
                continue
            done["opened"] += int(new)
            await notifications.notify(
                session,
                await notifications.community_directors(session, child.community_id),
                key=f"families_contact_lost:{alert.id}",
                kind="families_contact_lost",
                title="留守儿童父母联系中断",
                body=_body(parent, s, escalated=False),
                entity="families_alert",
                entity_id=alert.id,
                data={"child_id": child.id, "alert_id": alert.id, "level": 1, "days_silent": s.days},
            )
            if level >= 2 and alert.level < 2:
                alert.level = 2
                alert.escalated_at = clock.now()
                await notifications.notify(
                    session,
                    await notifications.street_supervisors(session, child.street_id),
                    key=f"families_contact_lost_escalated:{alert.id}",
                    kind="families_contact_lost_escalated",
                    title="留守儿童父母长期联系中断（已升级）",
                    body=_body(parent, s, escalated=True),
                    entity="families_alert",
                    entity_id=alert.id,
                    data={
                        "child_id": child.id,
                        "alert_id": alert.id,
                        "level": 2,
                        "days_silent": s.days,
                        "urgent": True,
                    },
                )
                done["escalated"] += 1
        await session.flush()
    return done


# ---------------------------------------------------------------- one parent (the console's page)


async def read_parent(
    session: AsyncSession, principal: Principal, parent_id: int, *, contacts: int = 20
) -> tuple[Child, ParentAway, list[ParentContactOut]]:
    """A parent as its page shows it: the current version of its lineage (the id of any version leads there) and
    its latest contacts; audited as a read of the child's file."""
    parent = await _parent(session, parent_id)
    try:
        child = await _readable_child(session, principal, parent.child_id)
    except NotFound:
        raise NotFound(f"父母外出记录 {parent_id} 不存在 (parent not found)") from None
    lineage = int(parent.lineage_id or parent.id)
    current = await _current(session, lineage)
    rows = (
        await session.scalars(
            select(ParentContact)
            .where(ParentContact.parent_id == lineage)
            .order_by(ParentContact.contacted_on.desc(), ParentContact.id.desc())
            .limit(contacts)
        )
    ).all()
    await audit.record_read(
        session,
        principal,
        "read",
        "child",
        [child.id],
        [*(f"parents.{f}" for f in PARENT_FIELDS), *(f"parent_contacts.{f}" for f in CONTACT_FIELDS)],
        {"parent_ids": [current.id], "contact_ids": [c.id for c in rows]},
    )
    relations = {lineage: current.relation}
    return child, current, [contact_out(c, relations) for c in rows]
