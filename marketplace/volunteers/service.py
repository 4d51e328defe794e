"""Volunteers as people: the register (a real-name check of the identity number's format, one registration per
person), team memberships with their history, hours served at places' activities or on referrals (corrections by
reversal, at most 24 h a day), totals, and certificates of hours verifiable by their code.

Scope: a director manages the volunteers registered in their community (and their street's volunteers registered
without a community), a supervisor their street's, the district all of them; the auditor reads; an organization's
staff read the current members of their organization's teams, masked. A volunteer outside the caller's scope does
not exist for them (404); a visible volunteer the role may not change is 403. An id in a body the caller may not
use (a team, an activity, a referral, a street) is refused as a field error (422), revealing nothing.

What is shown (``present``): the identity number never whole but on the district admin's single read (audited); the
roles that see the birth date (director, supervisor) see no digit of it, the district and the auditor the last 4
(``masking``'s rule: region + birth date + last 4 is the whole number); the phone masked but on the district admin's
single read; the name masked (张*) to organizations' staff and on the public verification of a certificate."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import field_cipher, resident_id_problem
from marketplace.cases.service import id_birth_date
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community, Street
from marketplace.pagination import fetch_page
from marketplace.places.models import Activity, Place
from marketplace.referrals.models import Referral
from marketplace.resources.models import VolunteerTeam
from marketplace.settings import Settings
from marketplace.volunteers.models import Certificate, Hours, Membership, Volunteer
from marketplace.volunteers.schemas import (
    VolunteerCertificateCheck,
    VolunteerCertificateIn,
    VolunteerCertificateOut,
    VolunteerHoursIn,
    VolunteerHoursOut,
    VolunteerIn,
    VolunteerMembershipIn,
    VolunteerMembershipOut,
    VolunteerOut,
    VolunteerPatch,
    VolunteerTotalRow,
    VolunteerTotals,
)
from marketplace.volunteers.taxonomy import (
    ADULT_AGE,
    GENDERS,
    MAX_MINUTES_PER_DAY,
    MIN_AGE,
    RECENT_ACTIVITY_DAYS,
    REFERRAL_LABEL,
    SKILLS,
    STATUSES,
)

READERS = frozenset({"child_director", "child_supervisor", "district_admin", "auditor", "org_staff"})
WRITERS = frozenset({"child_director", "child_supervisor", "district_admin"})
# Roles that read hours, totals and certificates (organizations see their teams' members, not their service).
HOURS_READERS = frozenset({"child_director", "child_supervisor", "district_admin", "auditor"})
# Roles that see a volunteer's birth date (and so no digit of the identity number).
SEE_BIRTH = frozenset({"child_director", "child_supervisor"})
VOLUNTEER_FIELDS = ("name", "id_number", "phone", "birth_date", "skills", "teams")
FULL_FIELDS = ("name", "id_number_full", "phone_full", "birth_date", "skills", "teams")
HOURS_FIELDS = ("served_on", "minutes", "task", "what")
PUBLIC_PATH = "/admin/public/volunteer-certificates/"


# ---------------------------------------------------------------- the identity number


@dataclass(frozen=True)
class IdReading:
    """What an identity number says of a volunteer: the problems (refused with them), the birth date and gender."""

    problems: list[dict[str, str]]
    birth_date: dt.date | None = None
    gender: str | None = None
    age: int | None = None

    @property
    def minor(self) -> bool:
        return self.age is not None and self.age < ADULT_AGE


def age_on(birth: dt.date, on: dt.date) -> int:
    return max(0, on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)))


def read_id_number(raw: str, *, consent: bool | None = None, today: dt.date | None = None) -> IdReading:
    """The format check of a volunteer's identity number (checksum, a real birth date in the past, 16 or older), and,
    for a 16- or 17-year-old, the guardian's consent (``consent=None``: not asked yet, as the console's live check)."""
    number = raw.strip().upper()
    problem = resident_id_problem(number)
    if problem:
        return IdReading([{"field": "id_number", "message": f"身份证号无效：{problem}"}])
    today = today or clock.today()
    born = id_birth_date(number)
    if born is None:
        return IdReading([{"field": "id_number", "message": "身份证号中的出生日期无效 (no such birth date)"}])
    gender = "male" if int(number[16]) % 2 else "female"
    if born > today:
        return IdReading([{"field": "id_number", "message": "身份证号中的出生日期晚于今天 (birth date in the future)"}])
    age = age_on(born, today)
    problems: list[dict[str, str]] = []
    if age < MIN_AGE:
        problems.append(
            {"field": "id_number", "message": f"未满{MIN_AGE}周岁，不能登记为志愿者 (younger than {MIN_AGE})"}
        )
    elif age < ADULT_AGE and consent is False:
        problems.append(
            {
                "field": "guardian_consent",
                "message": "未满18周岁的志愿者须有监护人书面同意 (a minor needs the guardian's consent)",
            }
        )
    return IdReading(problems, born, gender, age)


def _refuse(reading: IdReading) -> None:
    if reading.problems:
        raise Invalid("; ".join(p["message"] for p in reading.problems), errors=reading.problems)


async def _holder(session: AsyncSession, settings: Settings, number: str) -> Volunteer | None:
    hashes = field_cipher(settings).lookup_hashes(number)
    return await session.scalar(select(Volunteer).where(Volunteer.id_number_hash.in_(hashes)).limit(1))


async def _where_registered(session: AsyncSession, volunteer: Volunteer) -> str:
    """Where a registration is held, as a refused second one may name it: the street and the current teams."""
    street = await session.scalar(select(Street.name).where(Street.id == volunteer.street_id)) or ""
    teams = (
        await session.scalars(
            select(VolunteerTeam.name)
            .join(Membership, Membership.team_id == VolunteerTeam.id)
            .where(Membership.volunteer_id == volunteer.id, Membership.left_on.is_(None))
            .order_by(VolunteerTeam.name)
        )
    ).all()
    return street + (f"（{'、'.join(teams)}）" if teams else "")


async def check_id_number(
    session: AsyncSession, principal: Principal, settings: Settings, raw: str
) -> tuple[IdReading, str | None]:
    """The console's check as the number is typed: its reading, and where it is registered already (if it is)."""
    principal.require(*WRITERS)
    reading = read_id_number(raw)
    if reading.birth_date is None:
        return reading, None
    held = await _holder(session, settings, raw.strip().upper())
    return reading, (await _where_registered(session, held)) if held is not None else None


# ---------------------------------------------------------------- scope


def scope_clause(principal: Principal) -> ColumnElement[bool]:
    """The volunteers the caller may read."""
    role = principal.role
    if role == "child_director":
        return or_(
            Volunteer.community_id == principal.community_id,
            and_(Volunteer.community_id.is_(None), Volunteer.street_id == principal.street_id),
        )
    if role == "child_supervisor":
        return Volunteer.street_id == principal.street_id
    if role in ("district_admin", "auditor"):
        return true()
    if role == "org_staff" and principal.organization_id is not None:
        return Volunteer.id.in_(
            select(Membership.volunteer_id)
            .join(VolunteerTeam, VolunteerTeam.id == Membership.team_id)
            .where(VolunteerTeam.organization_id == principal.organization_id, Membership.left_on.is_(None))
        )
    return false()


def _in_area(principal: Principal, street_id: int, community_id: int | None) -> bool:
    """Whether a place of work (a place, a referral's community) is in the caller's area."""
    if principal.role == "child_director":
        return community_id == principal.community_id or (community_id is None and street_id == principal.street_id)
    if principal.role == "child_supervisor":
        return street_id == principal.street_id
    return principal.role in ("district_admin", "auditor")


def _not_found(volunteer_id: int) -> NotFound:
    return NotFound(f"志愿者 {volunteer_id} 不存在 (volunteer not found)")


async def readable(
    session: AsyncSession, principal: Principal, volunteer_id: int, *, roles: frozenset[str] = READERS
) -> Volunteer:
    if principal.role not in roles:
        raise _not_found(volunteer_id)
    found = await session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id, scope_clause(principal)))
    if found is None:
        raise _not_found(volunteer_id)
    return found


async def writable(session: AsyncSession, principal: Principal, volunteer_id: int, *, lock: bool = False) -> Volunteer:
    """A volunteer the caller manages (403 for one they only read, 404 for the rest)."""
    volunteer = await readable(session, principal, volunteer_id)
    if principal.role not in WRITERS:
        raise Forbidden("此操作仅限儿童主任、督导员或区民政局 (only directors, supervisors and the district)")
    if lock:
        stmt = select(Volunteer).where(Volunteer.id == volunteer_id).with_for_update()
        volunteer = (await session.scalars(stmt.execution_options(populate_existing=True))).one()
    return volunteer


# ---------------------------------------------------------------- presenting


def _show_id(principal: Principal, number: str) -> str:
    if principal.role in ("district_admin", "auditor"):
        return masking.mask_id_number(number)
    return masking.hide_id_number(number) if principal.role in SEE_BIRTH else ""


def _show_name(principal: Principal, name: str) -> str:
    return name if principal.role in WRITERS or principal.role == "auditor" else masking.mask_name(name)


async def _memberships(session: AsyncSession, volunteer_ids: Sequence[int]) -> dict[int, list[VolunteerMembershipOut]]:
    out: dict[int, list[VolunteerMembershipOut]] = {}
    if not volunteer_ids:
        return out
    rows = await session.execute(
        select(Membership, VolunteerTeam.name, VolunteerTeam.street_id, VolunteerTeam.organization_id)
        .join(VolunteerTeam, VolunteerTeam.id == Membership.team_id)
        .where(Membership.volunteer_id.in_(volunteer_ids))
        .order_by(Membership.joined_on.desc(), Membership.id.desc())
    )
    for m, name, street_id, org_id in rows.all():
        out.setdefault(m.volunteer_id, []).append(
            VolunteerMembershipOut(
                id=m.id,
                volunteer_id=m.volunteer_id,
                team_id=m.team_id,
                team_name=name,
                team_street_id=street_id,
                organization_id=org_id,
                joined_on=m.joined_on,
                left_on=m.left_on,
            )
        )
    return out


async def minutes_in_year(session: AsyncSession, volunteer_ids: Sequence[int], year: int) -> dict[int, int]:
    if not volunteer_ids:
        return {}
    rows = await session.execute(
        select(Hours.volunteer_id, func.coalesce(func.sum(Hours.minutes), 0))
        .where(
            Hours.volunteer_id.in_(volunteer_ids),
            Hours.served_on >= dt.date(year, 1, 1),
            Hours.served_on <= dt.date(year, 12, 31),
        )
        .group_by(Hours.volunteer_id)
    )
    return {int(v): int(m) for v, m in rows.all()}


async def present(
    session: AsyncSession, principal: Principal, rows: Sequence[Volunteer], *, full: bool = False
) -> list[VolunteerOut]:
    """The volunteers as the caller may see them (``full``: the district admin's single read)."""
    ids = [v.id for v in rows]
    streets = dict((await session.execute(select(Street.id, Street.name))).all()) if rows else {}
    community_ids = {v.community_id for v in rows if v.community_id}
    communities = (
        dict((await session.execute(select(Community.id, Community.name).where(Community.id.in_(community_ids)))).all())
        if community_ids
        else {}
    )
    teams = await _memberships(session, ids)
    if principal.role == "org_staff":  # an organization sees its own teams only
        teams = {k: [m for m in ms if m.organization_id == principal.organization_id] for k, ms in teams.items()}
    minutes = await minutes_in_year(session, ids, clock.today().year)
    today = clock.today()
    out = []
    for v in rows:
        out.append(
            VolunteerOut(
                id=v.id,
                name=_show_name(principal, v.name),
                id_number_masked=_show_id(principal, v.id_number),
                id_number_full=v.id_number if full and principal.role == "district_admin" else None,
                gender=v.gender,
                gender_label=GENDERS.get(v.gender, v.gender),
                birth_date=v.birth_date if principal.role in SEE_BIRTH else None,
                age=age_on(v.birth_date, today),
                guardian_consent=v.guardian_consent,
                phone=v.phone if full and principal.role == "district_admin" else masking.mask_phone(v.phone),
                street_id=v.street_id,
                street_name=streets.get(v.street_id, ""),
                community_id=v.community_id,
                community_name=communities.get(v.community_id, "") if v.community_id else "",
                skills=list(v.skills or []),
                skill_labels=[SKILLS.get(s, s) for s in v.skills or []],
                availability=v.availability,
                status=v.status,
                status_label=STATUSES.get(v.status, v.status),
                registered_on=v.registered_on,
                registered_by=v.registered_by,
                minutes_this_year=minutes.get(v.id, 0) if principal.role in HOURS_READERS else 0,
                teams=teams.get(v.id, []),
            )
        )
    return out


# ---------------------------------------------------------------- the register


async def _place_of_registration(
    session: AsyncSession, principal: Principal, street_id: int | None, community_id: int | None
) -> tuple[int, int | None]:
    """Where a volunteer is registered: a director's own community; a supervisor's street (a community of it, if
    named); the district's named street (and a community of it)."""
    if principal.role == "child_director":
        if community_id not in (None, principal.community_id) or street_id not in (None, principal.street_id):
            raise Invalid.field("community_id", "只能登记到本社区 (only in your own community)")
        assert principal.street_id is not None
        return principal.street_id, principal.community_id
    if principal.role == "child_supervisor":
        if street_id not in (None, principal.street_id):
            raise Invalid.field("street_id", "只能登记到本街道 (only in your own street)")
        street_id = principal.street_id
    if street_id is None:
        raise Invalid.field("street_id", "请选择街道 (street_id required)")
    if await session.get(Street, street_id) is None:
        raise Invalid.field("street_id", f"街道 {street_id} 不存在 (no such street)")
    if community_id is not None:
        found = await session.scalar(select(Community.street_id).where(Community.id == community_id))
        if found != street_id:
            raise Invalid.field("community_id", "社区不属于所选街道 (the community is not in that street)")
    return street_id, community_id


async def register(session: AsyncSession, principal: Principal, settings: Settings, data: VolunteerIn) -> Volunteer:
    principal.require(*WRITERS)
    number = data.id_number.strip().upper()
    reading = read_id_number(number, consent=data.guardian_consent)
    _refuse(reading)
    assert reading.birth_date is not None and reading.gender is not None
    street_id, community_id = await _place_of_registration(session, principal, data.street_id, data.community_id)
    cipher = field_cipher(settings)
    held = await _holder(session, settings, number)
    if held is not None:
        raise Conflict(
            f"该身份证号已登记为志愿者：{await _where_registered(session, held)}；一人只登记一次 "
            "(this person is registered already)",
            code="volunteer_exists",
        )
    volunteer = Volunteer(
        name=data.name.strip(),
        id_number=number,
        id_number_hash=cipher.lookup_hash(number),
        gender=reading.gender,
        birth_date=reading.birth_date,
        guardian_consent=bool(data.guardian_consent and reading.minor),
        phone=data.phone.strip(),
        street_id=street_id,
        community_id=community_id,
        skills=list(dict.fromkeys(data.skills)),
        availability=data.availability.strip(),
        status="active",
        registered_on=clock.today(),
        registered_by=principal.account_id,
    )
    session.add(volunteer)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("该身份证号已登记为志愿者；一人只登记一次 (this person is registered already)") from None
    await audit.record(session, principal, "create", "volunteer", volunteer.id, ("name", "id_number", "phone"))
    return volunteer


async def list_volunteers(
    session: AsyncSession,
    principal: Principal,
    *,
    street_id: int | None = None,
    team_id: int | None = None,
    skill: str | None = None,
    status: str | None = None,
    q: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[VolunteerOut], int]:
    principal.require(*READERS)
    stmt = select(Volunteer).where(scope_clause(principal))
    if street_id is not None:
        stmt = stmt.where(Volunteer.street_id == street_id)
    if status:
        stmt = stmt.where(Volunteer.status == status)
    if team_id is not None:
        stmt = stmt.where(
            Volunteer.id.in_(
                select(Membership.volunteer_id).where(Membership.team_id == team_id, Membership.left_on.is_(None))
            )
        )
    if q:
        stmt = stmt.where(Volunteer.name.contains(q.strip(), autoescape=True))
    rows: list[Volunteer]
    if skill:
        # Skills are a JSON list: filtered here on the street-sized scope, paged after.
        everyone = [
            v
            for v in (await session.scalars(stmt.order_by(Volunteer.name, Volunteer.id))).all()
            if skill in (v.skills or [])
        ]
        total = len(everyone)
        rows = everyone[offset : offset + limit]
    else:
        rows, total = await fetch_page(session, stmt, Volunteer.name, Volunteer.id, limit=limit, offset=offset)
    shown = await present(session, principal, rows)
    await audit.record_read(
        session, principal, "list", "volunteer", [v.id for v in rows], ("name", "id_number", "phone")
    )
    return shown, total


async def read(session: AsyncSession, principal: Principal, volunteer_id: int) -> VolunteerOut:
    """One volunteer; the district admin's read shows the identity number and phone whole (audited as such)."""
    volunteer = await readable(session, principal, volunteer_id)
    full = principal.role == "district_admin"
    [shown] = await present(session, principal, [volunteer], full=full)
    await audit.record_read(
        session, principal, "read", "volunteer", [volunteer.id], FULL_FIELDS if full else VOLUNTEER_FIELDS
    )
    return shown


async def update(session: AsyncSession, principal: Principal, volunteer_id: int, data: VolunteerPatch) -> Volunteer:
    volunteer = await writable(session, principal, volunteer_id, lock=True)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "community_id" in changes and changes["community_id"] != volunteer.community_id:
        if principal.role == "child_director":
            raise Invalid.field("community_id", "儿童主任不能把志愿者改到其他社区 (a director cannot move a volunteer)")
        _, community = await _place_of_registration(
            session,
            principal,
            volunteer.street_id if principal.role != "child_supervisor" else None,
            changes["community_id"],
        )
        volunteer.community_id = community
    if "name" in changes:
        volunteer.name = changes["name"].strip()
    if "phone" in changes:
        volunteer.phone = changes["phone"].strip()
    if "skills" in changes:
        volunteer.skills = list(dict.fromkeys(changes["skills"]))
    if "availability" in changes:
        volunteer.availability = changes["availability"].strip()
    if "status" in changes:
        volunteer.status = changes["status"]
    await audit.record(session, principal, "update", "volunteer", volunteer.id, tuple(sorted(changes)))
    return volunteer


# ---------------------------------------------------------------- teams


async def _usable_team(
    session: AsyncSession, principal: Principal, volunteer: Volunteer, team_id: int
) -> VolunteerTeam:
    """A team the volunteer may join: an active team of the volunteer's street, or an organization's team (district-
    wide); the caller must see the team's street (a director and a supervisor their own)."""
    team = await session.get(VolunteerTeam, team_id)
    if team is None or not team.active:
        raise Invalid.field("team_id", f"志愿服务队 {team_id} 不存在或已停用 (no such active team)")
    if team.organization_id is None and team.street_id != volunteer.street_id:
        raise Invalid.field(
            "team_id", "只能加入本街道的志愿服务队或社会组织的服务队 (a team of the volunteer's street)"
        )
    if (
        principal.role in ("child_director", "child_supervisor")
        and team.organization_id is None
        and team.street_id != principal.street_id
    ):
        raise Invalid.field("team_id", "只能加入本街道的志愿服务队 (a team of your street)")
    return team


async def join(
    session: AsyncSession, principal: Principal, volunteer_id: int, data: VolunteerMembershipIn
) -> Membership:
    volunteer = await writable(session, principal, volunteer_id, lock=True)
    if volunteer.status == "left":
        raise Conflict("志愿者已退出，不能加入服务队 (the volunteer has left)")
    team = await _usable_team(session, principal, volunteer, data.team_id)
    today = clock.today()
    joined = data.joined_on or today
    if joined > today:
        raise Invalid.field("joined_on", "加入日期不能晚于今天 (joined_on in the future)")
    if joined < volunteer.registered_on:
        raise Invalid.field("joined_on", "加入日期不能早于登记日期 (joined before registration)")
    current = await session.scalar(
        select(Membership.id).where(
            Membership.volunteer_id == volunteer.id, Membership.team_id == team.id, Membership.left_on.is_(None)
        )
    )
    if current is not None:
        raise Conflict(f"已是{team.name}的成员 (already a member)")
    membership = Membership(
        volunteer_id=volunteer.id, team_id=team.id, joined_on=joined, created_by=principal.account_id
    )
    session.add(membership)
    await session.flush()
    await audit.record(session, principal, "create", "volunteer_membership", membership.id, ("team_id", "joined_on"))
    return membership


async def leave(session: AsyncSession, principal: Principal, membership_id: int, left_on: dt.date | None) -> Membership:
    membership = await session.scalar(select(Membership).where(Membership.id == membership_id).with_for_update())
    if membership is None:
        raise NotFound(f"服务队成员记录 {membership_id} 不存在 (membership not found)")
    try:
        await writable(session, principal, membership.volunteer_id)
    except NotFound:
        raise NotFound(f"服务队成员记录 {membership_id} 不存在 (membership not found)") from None
    if membership.left_on is not None:
        raise Conflict(f"已于{membership.left_on.isoformat()}退出该服务队 (already left)")
    day = left_on or clock.today()
    if day > clock.today():
        raise Invalid.field("left_on", "退出日期不能晚于今天 (left_on in the future)")
    if day < membership.joined_on:
        raise Invalid.field("left_on", "退出日期不能早于加入日期 (left before joining)")
    membership.left_on = day
    await audit.record(session, principal, "update", "volunteer_membership", membership.id, ("left_on",))
    return membership


async def membership_out(session: AsyncSession, membership: Membership) -> VolunteerMembershipOut:
    found = await _memberships(session, [membership.volunteer_id])
    return next(m for m in found[membership.volunteer_id] if m.id == membership.id)


async def team_members(
    session: AsyncSession, principal: Principal, team_id: int
) -> list[tuple[VolunteerOut, Membership]]:
    """A team's members, current first, with the caller's scope and masking (the team's page)."""
    principal.require(*READERS)
    rows = (
        await session.execute(
            select(Volunteer, Membership)
            .join(Membership, Membership.volunteer_id == Volunteer.id)
            .where(Membership.team_id == team_id, scope_clause(principal))
            .order_by(Membership.left_on.is_not(None), Volunteer.name, Membership.id)
        )
    ).all()
    shown = await present(session, principal, [v for v, _ in rows])
    await audit.record_read(session, principal, "list", "volunteer", [v.id for v, _ in rows], ("name", "teams"))
    return list(zip(shown, [m for _, m in rows], strict=True))


# ---------------------------------------------------------------- hours


def _what(activity_title: str | None, place_name: str | None, referral_id: int | None) -> str:
    if referral_id is not None:
        return REFERRAL_LABEL.format(id=referral_id)
    return f"{place_name or ''} · {activity_title or ''}".strip(" ·")


async def _activity(session: AsyncSession, principal: Principal, activity_id: int) -> tuple[Activity, Place]:
    row = (
        await session.execute(
            select(Activity, Place).join(Place, Place.id == Activity.place_id).where(Activity.id == activity_id)
        )
    ).first()
    if row is None or not _in_area(principal, row[1].street_id, row[1].community_id):
        raise Invalid.field(
            "activity_id", f"活动 {activity_id} 不存在或不在您的范围内 (no such activity in your scope)"
        )
    return row


async def _referral(session: AsyncSession, principal: Principal, referral_id: int) -> Referral:
    referral = await session.get(Referral, referral_id)
    if referral is None or not _in_area(principal, referral.street_id, referral.community_id):
        raise Invalid.field(
            "referral_id", f"转介 {referral_id} 不存在或不在您的范围内 (no such referral in your scope)"
        )
    if principal.role == "child_director" and referral.community_id != principal.community_id:
        raise Invalid.field(
            "referral_id", f"转介 {referral_id} 不存在或不在您的范围内 (no such referral in your scope)"
        )
    return referral


async def _day_minutes(session: AsyncSession, volunteer_id: int, day: dt.date) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(Hours.minutes), 0)).where(
                Hours.volunteer_id == volunteer_id, Hours.served_on == day
            )
        )
        or 0
    )


async def log_hours(session: AsyncSession, principal: Principal, volunteer_id: int, data: VolunteerHoursIn) -> Hours:
    """Minutes at an activity (the activity's day) or on a referral: never before the registration or in the future,
    never more than 24 h in a day for one volunteer (the volunteer's row is locked while the day is summed)."""
    volunteer = await writable(session, principal, volunteer_id, lock=True)
    if (data.activity_id is None) == (data.referral_id is None):
        raise Invalid.field("activity_id", "请选择一项活动或一个转介个案（二选一）(an activity or a referral)")
    if volunteer.status == "left":
        raise Conflict("志愿者已退出，不能再登记服务时长 (the volunteer has left)")
    today = clock.today()
    if data.activity_id is not None:
        activity, place = await _activity(session, principal, data.activity_id)
        day, street_id = activity.held_on, place.street_id
    else:
        assert data.referral_id is not None
        referral = await _referral(session, principal, data.referral_id)
        day, street_id = data.served_on or today, referral.street_id
    if day > today:
        raise Invalid.field("served_on", "不能登记未来日期的服务时长 (hours in the future)")
    if day < volunteer.registered_on:
        raise Invalid.field(
            "served_on",
            f"服务日期早于志愿者登记日期 {volunteer.registered_on.isoformat()} (hours before registration)",
        )
    already = await _day_minutes(session, volunteer.id, day)
    if already + data.minutes > MAX_MINUTES_PER_DAY:
        raise Invalid.field(
            "minutes",
            f"{day.isoformat()} 已登记 {already} 分钟，一天合计不能超过24小时 (more than 24 h in one day)",
        )
    row = Hours(
        volunteer_id=volunteer.id,
        activity_id=data.activity_id,
        referral_id=data.referral_id,
        street_id=street_id,
        served_on=day,
        minutes=data.minutes,
        task=data.task.strip(),
        logged_by=principal.account_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(session, principal, "create", "volunteer_hours", row.id, ("minutes", "served_on"))
    return row


async def reverse_hours(session: AsyncSession, principal: Principal, hours_id: int) -> Hours:
    """A correction: a new row with the opposite minutes naming the row it reverses (once)."""
    original = await session.get(Hours, hours_id)
    if original is None:
        raise NotFound(f"服务时长记录 {hours_id} 不存在 (hours not found)")
    try:
        await writable(session, principal, original.volunteer_id, lock=True)
    except NotFound:
        raise NotFound(f"服务时长记录 {hours_id} 不存在 (hours not found)") from None
    if original.reverses_id is not None:
        raise Conflict("这是一条更正记录，不能再冲销 (a reversal cannot be reversed)")
    done = await session.scalar(select(Hours.id).where(Hours.reverses_id == original.id))
    if done is not None:
        raise Conflict(f"该记录已被冲销（#{done}）(already reversed)")
    row = Hours(
        volunteer_id=original.volunteer_id,
        activity_id=original.activity_id,
        referral_id=original.referral_id,
        street_id=original.street_id,
        served_on=original.served_on,
        minutes=-original.minutes,
        task=f"冲销 #{original.id}",
        reverses_id=original.id,
        logged_by=principal.account_id,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("该记录已被冲销 (already reversed)") from None
    await audit.record(session, principal, "create", "volunteer_hours", row.id, ("minutes", "reverses_id"))
    return row


async def hours_out(session: AsyncSession, rows: Sequence[Hours]) -> list[VolunteerHoursOut]:
    activity_ids = {h.activity_id for h in rows if h.activity_id}
    names: dict[int, tuple[str | None, str | None]] = {}
    if rows:  # a page's statements do not depend on what its rows hold (tests/test_list_queries.py)
        for aid, title, place in await session.execute(
            select(Activity.id, Activity.title, Place.name)
            .join(Place, Place.id == Activity.place_id)
            .where(Activity.id.in_(activity_ids))
        ):
            names[aid] = (title, place)
    ids = [h.id for h in rows]
    reversed_ids = (
        set((await session.scalars(select(Hours.reverses_id).where(Hours.reverses_id.in_(ids)))).all())
        if ids
        else set()
    )
    out = []
    for h in rows:
        shown_title, shown_place = names.get(h.activity_id or 0, (None, None))
        out.append(
            VolunteerHoursOut(
                id=h.id,
                volunteer_id=h.volunteer_id,
                served_on=h.served_on,
                minutes=h.minutes,
                task=h.task,
                what=_what(shown_title, shown_place, h.referral_id),
                activity_id=h.activity_id,
                referral_id=h.referral_id,
                street_id=h.street_id,
                reverses_id=h.reverses_id,
                reversed=h.id in reversed_ids,
                logged_by=h.logged_by,
                created_at=h.created_at,
            )
        )
    return out


async def list_hours(
    session: AsyncSession, principal: Principal, volunteer_id: int, *, year: int | None = None, limit: int, offset: int
) -> tuple[list[VolunteerHoursOut], int, int]:
    """A volunteer's hours, latest first, and the total minutes (of ``year``, or of all time)."""
    volunteer = await readable(session, principal, volunteer_id, roles=HOURS_READERS)
    where: list[ColumnElement[bool]] = [Hours.volunteer_id == volunteer.id]
    if year is not None:
        where += [Hours.served_on >= dt.date(year, 1, 1), Hours.served_on <= dt.date(year, 12, 31)]
    stmt = select(Hours).where(*where)
    total_minutes = int(await session.scalar(select(func.coalesce(func.sum(Hours.minutes), 0)).where(*where)) or 0)
    rows, total = await fetch_page(session, stmt, Hours.served_on.desc(), Hours.id.desc(), limit=limit, offset=offset)
    await audit.record_read(session, principal, "list", "volunteer_hours", [volunteer.id], HOURS_FIELDS)
    return await hours_out(session, rows), total, total_minutes


async def totals(session: AsyncSession, principal: Principal, year: int) -> VolunteerTotals:
    """The year's hours per street (where they were served) and per team (of the volunteers who were its members on
    the day), in the caller's area: a director and a supervisor their street, the district all."""
    principal.require(*HOURS_READERS)
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    where: list[ColumnElement[bool]] = [Hours.served_on >= start, Hours.served_on <= end]
    if principal.role in ("child_director", "child_supervisor"):
        where.append(Hours.street_id == principal.street_id)
    street_rows = (
        await session.execute(
            select(
                Street.id,
                Street.name,
                func.count(func.distinct(Hours.volunteer_id)),
                func.sum(case((Hours.minutes > 0, 1), else_=0)),
                func.sum(Hours.minutes),
            )
            .join(Street, Street.id == Hours.street_id)
            .where(*where)
            .group_by(Street.id, Street.name)
            .order_by(Street.id)
        )
    ).all()
    team_rows = (
        await session.execute(
            select(
                VolunteerTeam.id,
                VolunteerTeam.name,
                func.count(func.distinct(Hours.volunteer_id)),
                func.sum(case((Hours.minutes > 0, 1), else_=0)),
                func.sum(Hours.minutes),
            )
            .join(Membership, Membership.volunteer_id == Hours.volunteer_id)
            .join(VolunteerTeam, VolunteerTeam.id == Membership.team_id)
            .where(
                *where,
                Membership.joined_on <= Hours.served_on,
                or_(Membership.left_on.is_(None), Membership.left_on >= Hours.served_on),
            )
            .group_by(VolunteerTeam.id, VolunteerTeam.name)
            .order_by(func.sum(Hours.minutes).desc(), VolunteerTeam.id)
        )
    ).all()

    def rows(found: Sequence[tuple[int, str, int, int, int]]) -> list[VolunteerTotalRow]:
        return [
            VolunteerTotalRow(
                id=i,
                name=n,
                volunteers=int(v),
                entries=int(e or 0),
                minutes=int(m or 0),
                hours=round(int(m or 0) / 60, 1),
            )
            for i, n, v, e, m in found
        ]

    streets = rows(street_rows)
    return VolunteerTotals(
        year=year, streets=streets, teams=rows(team_rows), total_minutes=sum(s.minutes for s in streets)
    )


async def recent_activities(
    session: AsyncSession, principal: Principal, days: int = RECENT_ACTIVITY_DAYS
) -> list[tuple[Activity, Place]]:
    """The activities of the caller's places in the last ``days`` days (the console's choice when logging hours)."""
    today = clock.today()
    stmt = (
        select(Activity, Place)
        .join(Place, Place.id == Activity.place_id)
        .where(Activity.held_on >= today - dt.timedelta(days=days), Activity.held_on <= today)
    )
    if principal.role == "child_director":
        stmt = stmt.where(
            or_(
                Place.community_id == principal.community_id,
                and_(Place.community_id.is_(None), Place.street_id == principal.street_id),
            )
        )
    elif principal.role == "child_supervisor":
        stmt = stmt.where(Place.street_id == principal.street_id)
    elif principal.role not in ("district_admin", "auditor"):
        return []
    return list((await session.execute(stmt.order_by(Activity.held_on.desc(), Activity.id.desc()).limit(100))).all())


async def recent_referrals(session: AsyncSession, principal: Principal) -> list[int]:
    """The referrals in the caller's area a volunteer may have served on (ids only: the console names no child)."""
    stmt = select(Referral.id).where(Referral.status.in_(("accepted", "in_service", "completed", "closed")))
    if principal.role == "child_director":
        stmt = stmt.where(Referral.community_id == principal.community_id)
    elif principal.role == "child_supervisor":
        stmt = stmt.where(Referral.street_id == principal.street_id)
    elif principal.role != "district_admin":
        return []
    return list((await session.scalars(stmt.order_by(Referral.id.desc()).limit(100))).all())


# ---------------------------------------------------------------- certificates


def verification_code(settings: Settings, c: Certificate) -> str:
    """HMAC-SHA256 over the certificate's content with the app's secret key: a changed code, or a changed row, no
    longer verifies."""
    content = "|".join(
        (
            "volunteer-hours-certificate",
            c.number,
            str(c.volunteer_id),
            c.period_from.isoformat(),
            c.period_to.isoformat(),
            str(c.total_minutes),
            c.issued_on.isoformat(),
        )
    )
    return hmac.new(settings.secret_key.encode(), content.encode(), hashlib.sha256).hexdigest()[:40]


async def _period_total(session: AsyncSession, volunteer_id: int, start: dt.date, end: dt.date) -> tuple[int, int]:
    minutes, entries = (
        await session.execute(
            select(func.coalesce(func.sum(Hours.minutes), 0), func.count(Hours.id)).where(
                Hours.volunteer_id == volunteer_id, Hours.served_on >= start, Hours.served_on <= end
            )
        )
    ).one()
    return int(minutes), int(entries)


async def issue_certificate(
    session: AsyncSession, principal: Principal, settings: Settings, volunteer_id: int, data: VolunteerCertificateIn
) -> Certificate:
    """The certificate of a volunteer's hours in a period. Issued again for the same period it is the same
    certificate while the hours are the same; once they changed a new one supersedes it."""
    volunteer = await writable(session, principal, volunteer_id, lock=True)
    today = clock.today()
    if data.period_from > data.period_to:
        raise Invalid.field("period_to", "结束日期不能早于开始日期 (period_to before period_from)")
    if data.period_to > today:
        raise Invalid.field("period_to", "证明期间不能包含未来日期 (the period ends in the future)")
    if (data.period_to - data.period_from).days > 366 * 10:
        raise Invalid.field("period_from", "证明期间不能超过十年 (at most ten years)")
    minutes, entries = await _period_total(session, volunteer.id, data.period_from, data.period_to)
    if minutes <= 0:
        raise Invalid.field("period_from", "该期间没有服务时长，不能出具证明 (no hours in the period)")
    current = await session.scalar(
        select(Certificate).where(
            Certificate.volunteer_id == volunteer.id,
            Certificate.period_from == data.period_from,
            Certificate.period_to == data.period_to,
            Certificate.superseded_by_id.is_(None),
        )
    )
    if current is not None and current.total_minutes == minutes and current.entries == entries:
        return current
    cert = Certificate(
        number=f"TMP-{secrets.token_hex(8)}",
        volunteer_id=volunteer.id,
        period_from=data.period_from,
        period_to=data.period_to,
        total_minutes=minutes,
        entries=entries,
        issued_on=today,
        issued_by=principal.account_id,
        code=secrets.token_hex(20),
    )
    session.add(cert)
    await session.flush()
    cert.number = f"ZYSC{today:%Y}{cert.id:06d}"
    cert.code = verification_code(settings, cert)
    if current is not None:
        current.superseded_by_id = cert.id
    await session.flush()
    await audit.record(session, principal, "create", "volunteer_certificate", cert.id, ("total_minutes",))
    return cert


async def certificate_out(session: AsyncSession, principal: Principal, cert: Certificate) -> VolunteerCertificateOut:
    name = await session.scalar(select(Volunteer.name).where(Volunteer.id == cert.volunteer_id)) or ""
    return VolunteerCertificateOut(
        id=cert.id,
        number=cert.number,
        volunteer_id=cert.volunteer_id,
        volunteer_name=_show_name(principal, name),
        period_from=cert.period_from,
        period_to=cert.period_to,
        total_minutes=cert.total_minutes,
        hours=round(cert.total_minutes / 60, 1),
        entries=cert.entries,
        issued_on=cert.issued_on,
        issued_by=cert.issued_by,
        code=cert.code,
        superseded_by_id=cert.superseded_by_id,
        verify_url=PUBLIC_PATH + cert.code,
    )


async def read_certificate(
    session: AsyncSession, principal: Principal, certificate_id: int
) -> tuple[Certificate, Volunteer]:
    cert = await session.get(Certificate, certificate_id)
    if cert is None:
        raise NotFound(f"时长证明 {certificate_id} 不存在 (certificate not found)")
    try:
        volunteer = await readable(session, principal, cert.volunteer_id, roles=HOURS_READERS)
    except NotFound:
        raise NotFound(f"时长证明 {certificate_id} 不存在 (certificate not found)") from None
    await audit.record_read(session, principal, "read", "volunteer_certificate", [cert.id], ("name", "total_minutes"))
    return cert, volunteer


async def certificates_of(session: AsyncSession, volunteer_id: int) -> list[Certificate]:
    return list(
        (
            await session.scalars(
                select(Certificate).where(Certificate.volunteer_id == volunteer_id).order_by(Certificate.id.desc())
            )
        ).all()
    )


async def verify(session: AsyncSession, settings: Settings, code: str) -> VolunteerCertificateCheck:
    """The public check of a certificate's code (no login): valid, superseded or invalid; the name masked."""
    code = code.strip().lower()
    cert = await session.scalar(select(Certificate).where(Certificate.code == code)) if code else None
    if cert is None or not hmac.compare_digest(verification_code(settings, cert), code):
        return VolunteerCertificateCheck(valid=False, status="invalid")
    name = await session.scalar(select(Volunteer.name).where(Volunteer.id == cert.volunteer_id)) or ""
    status: Any = "superseded" if cert.superseded_by_id is not None else "valid"
    return VolunteerCertificateCheck(
        valid=status == "valid",
        status=status,
        number=cert.number,
        name=masking.mask_name(name),
        period_from=cert.period_from,
        period_to=cert.period_to,
        total_minutes=cert.total_minutes,
        hours=round(cert.total_minutes / 60, 1),
        issued_on=cert.issued_on,
    )
