"""The streets' work stations and the communities' children's homes: the places, their staff on duty, the
activities held there and their usage per street and quarter.

Scope: the district's admin creates and edits any place; a street's supervisor its street's station and homes; a
community's director reads the street's places and changes only their own home's opening hours and staff on duty.
The auditor reads everything and changes nothing; the roles of money and of providers see no place (the public
listing shows them what anyone may read). A place outside the caller's reading scope does not exist for them.

An activity names the children on file who took part (``place_activity_children``): the recorder chooses them in
their own scope (the director their community's children, the supervisor their street's), and a reader sees the
name of a child only when they read the child's file (the rest are counted, never named); every read that shows a
child's name writes its audit row. The figures outside (the public listing, the usage table, the quarterly
dispatch) are counts only.

An activity's participants may be changed by its recorder for ``EDIT_DAYS`` days after it was recorded (every
change audited); after that it is part of the quarter's figures and stays as it is."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community, Street
from marketplace.pagination import fetch_page
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from marketplace.places.schemas import (
    PlaceActivityChildOut,
    PlaceActivityCountOut,
    PlaceActivityIn,
    PlaceActivityOut,
    PlaceActivityPatch,
    PlaceIn,
    PlaceOut,
    PlacePatch,
    PlaceStaffIn,
    PlaceStaffLeaveIn,
    PlaceStaffOut,
    PlaceUsageKindOut,
    PlaceUsageOut,
    PlaceUsageStreetOut,
    PublicPlaceOut,
)
from marketplace.places.taxonomy import (
    ACTIVITY_KINDS,
    EDIT_DAYS,
    FACILITIES,
    OTHER_CHILDREN,
    OTHER_CHILDREN_LABEL,
    PLACE_KINDS,
    STAFF_ROLES,
    UNCATEGORISED,
    UNCATEGORISED_LABEL,
)
from marketplace.resources.taxonomy import CHILD_CATEGORIES

# Roles that read the places (and their activities' counts): the child-protection side of the district.
READERS = frozenset({"child_director", "child_supervisor", "district_admin", "auditor"})
# Roles that read the usage table: the supervisor (their street) and the district.
USAGE_READERS = frozenset({"child_supervisor", "district_admin", "auditor"})
# What an activity shows of the children on file (audited by name; never the values).
ACTIVITY_CHILD_FIELDS = ("child_name",)
# An activity may be recorded at most this long after it was held (a typo of the year, not a history).
MAX_ACTIVITY_AGE = dt.timedelta(days=366)
EDIT_WINDOW = dt.timedelta(days=EDIT_DAYS)
RECENT_ACTIVITIES = 10
NOT_A_READER = "此角色无权查看儿童阵地信息 (this role may not see the places)"


def _place_missing(place_id: int) -> NotFound:
    return NotFound(f"阵地 {place_id} 不存在 (place not found)")


def _activity_missing(activity_id: int) -> NotFound:
    return NotFound(f"活动记录 {activity_id} 不存在 (activity not found)")


# ---------------------------------------------------------------- scope


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden(NOT_A_READER)


def can_see(principal: Principal, street_id: int) -> bool:
    if principal.role in ("child_director", "child_supervisor"):
        return principal.street_id == street_id
    return principal.role in ("district_admin", "auditor")


def can_edit(principal: Principal, place: Place) -> bool:
    """Whether the caller changes the place's details (the director: only their home's hours and staff)."""
    if principal.role == "district_admin":
        return True
    if principal.role == "child_supervisor":
        return principal.street_id == place.street_id
    return (
        principal.role == "child_director"
        and place.kind == "children_home"
        and place.community_id is not None
        and place.community_id == principal.community_id
    )


def can_record(principal: Principal, place: Place) -> bool:
    """Whether the caller records activities at the place: the home's director, the street's supervisor."""
    if principal.role == "child_supervisor":
        return principal.street_id == place.street_id
    return (
        principal.role == "child_director"
        and place.kind == "children_home"
        and place.community_id == principal.community_id
    )


async def _load_place(session: AsyncSession, place_id: int, *, lock: bool = False) -> Place:
    stmt = select(Place).where(Place.id == place_id)
    if lock:
        stmt = stmt.with_for_update()
    place = await session.scalar(stmt)
    if place is None:
        raise _place_missing(place_id)
    return place


async def visible_place(session: AsyncSession, principal: Principal, place_id: int, *, lock: bool = False) -> Place:
    place = await _load_place(session, place_id, lock=lock)
    if not can_see(principal, place.street_id):
        raise _place_missing(place_id)
    return place


async def _editable_place(session: AsyncSession, principal: Principal, place_id: int) -> Place:
    place = await visible_place(session, principal, place_id, lock=True)
    if not can_edit(principal, place):
        raise Forbidden("只有区民政、本街道督导员或本社区儿童主任可修改此阵地 (you may not change this place)")
    return place


# ---------------------------------------------------------------- names


async def _street_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    # Always one query (an empty page too): a list's statements do not depend on its rows.
    rows = await session.execute(select(Street.id, Street.name).where(Street.id.in_(ids)))
    return {int(i): n for i, n in rows.all()}


async def _community_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    rows = await session.execute(select(Community.id, Community.name).where(Community.id.in_(ids)))
    return {int(i): n for i, n in rows.all()}


def _check_facilities(facilities: Sequence[str]) -> list[str]:
    unknown = [f for f in facilities if f not in FACILITIES]
    if unknown:
        raise Invalid.field("facilities", f"未知的设施：{'、'.join(unknown)} (unknown facilities)")
    return list(dict.fromkeys(facilities))


# ---------------------------------------------------------------- presenting places


def staff_out(s: PlaceStaff, today: dt.date) -> PlaceStaffOut:
    return PlaceStaffOut(
        id=s.id,
        place_id=s.place_id,
        user_id=s.user_id,
        name=s.name,
        role=s.role,
        role_label=STAFF_ROLES.get(s.role, s.role),
        duty=s.duty,
        phone=s.phone,
        since=s.since,
        until=s.until,
        on_duty=s.until is None or s.until >= today,
    )


async def present_places(session: AsyncSession, places: Sequence[Place], *, history: bool = False) -> list[PlaceOut]:
    """Places with their staff on duty (``history``: those who left too) and this quarter's activity count."""
    if not places:
        return []
    today = clock.today()
    ids = [p.id for p in places]
    streets = await _street_names(session, {p.street_id for p in places})
    communities = await _community_names(session, {p.community_id for p in places if p.community_id})
    staff_stmt = select(PlaceStaff).where(PlaceStaff.place_id.in_(ids))
    if not history:
        staff_stmt = staff_stmt.where((PlaceStaff.until.is_(None)) | (PlaceStaff.until >= today))
    staff: dict[int, list[PlaceStaffOut]] = defaultdict(list)
    for s in (await session.scalars(staff_stmt.order_by(PlaceStaff.until.is_not(None), PlaceStaff.id))).all():
        staff[s.place_id].append(staff_out(s, today))
    q_start, q_end = quarter_bounds(today.year, (today.month - 1) // 3 + 1)
    counts = dict(
        (
            await session.execute(
                select(Activity.place_id, func.count())
                .where(Activity.place_id.in_(ids), Activity.held_on.between(q_start, q_end))
                .group_by(Activity.place_id)
            )
        ).all()
    )
    return [
        PlaceOut(
            id=p.id,
            kind=p.kind,
            kind_label=PLACE_KINDS.get(p.kind, p.kind),
            street_id=p.street_id,
            street_name=streets.get(p.street_id, ""),
            community_id=p.community_id,
            community_name=communities.get(p.community_id, "") if p.community_id else "",
            name=p.name,
            address=p.address,
            opening_hours=p.opening_hours,
            facilities=list(p.facilities or []),
            facility_labels=[FACILITIES.get(f, f) for f in p.facilities or []],
            area_m2=p.area_m2,
            phone=p.phone,
            opened_on=p.opened_on,
            active=p.active,
            note=p.note,
            activities_this_quarter=int(counts.get(p.id, 0)),
            staff=staff.get(p.id, []),
        )
        for p in places
    ]


# ---------------------------------------------------------------- places


@dataclass(frozen=True)
class PlaceFilters:
    street_id: int | None = None
    community_id: int | None = None
    kind: str | None = None
    active: bool | None = None


def _places_stmt(principal: Principal, filters: PlaceFilters) -> Select[Place]:
    stmt = select(Place)
    if principal.role in ("child_director", "child_supervisor"):
        stmt = stmt.where(Place.street_id == principal.street_id)
    if filters.street_id is not None:
        stmt = stmt.where(Place.street_id == filters.street_id)
    if filters.community_id is not None:
        stmt = stmt.where(Place.community_id == filters.community_id)
    if filters.kind is not None:
        stmt = stmt.where(Place.kind == filters.kind)
    if filters.active is not None:
        stmt = stmt.where(Place.active.is_(filters.active))
    return stmt


async def list_places(
    session: AsyncSession, principal: Principal, filters: PlaceFilters, *, limit: int, offset: int
) -> tuple[list[PlaceOut], int]:
    require_reader(principal)
    rows, total = await fetch_page(
        session,
        _places_stmt(principal, filters),
        Place.street_id,
        Place.kind.desc(),  # the street's station first, then its homes
        Place.name,
        Place.id,
        limit=limit,
        offset=offset,
    )
    return await present_places(session, rows), total


async def read_place(session: AsyncSession, principal: Principal, place_id: int, *, history: bool = False) -> PlaceOut:
    require_reader_or_hide(principal, place_id)
    place = await visible_place(session, principal, place_id)
    return (await present_places(session, [place], history=history))[0]


def require_reader_or_hide(principal: Principal, place_id: int) -> None:
    """A role that reads no place is told the place does not exist (its path names one)."""
    if principal.role not in READERS:
        raise _place_missing(place_id)


async def _check_location(
    session: AsyncSession, kind: str, street_id: int, community_id: int | None, *, place_id: int | None = None
) -> None:
    if await session.scalar(select(Street.id).where(Street.id == street_id)) is None:
        raise Invalid.field("street_id", f"街道 {street_id} 不存在 (unknown street)")
    if kind == "station":
        if community_id is not None:
            raise Invalid.field("community_id", "工作站设在街道，不属于社区 (a station belongs to the street)")
        existing = await session.scalar(
            select(Place.id).where(Place.kind == "station", Place.street_id == street_id).with_for_update()
        )
        if existing is not None and existing != place_id:
            raise Conflict(
                f"该街道已有未成年人保护工作站（阵地 {existing}）(the street already has its station)",
            )
        return
    if community_id is None:
        raise Invalid.field("community_id", "儿童之家须属于一个社区 (a children's home belongs to a community)")
    street_of = await session.scalar(select(Community.street_id).where(Community.id == community_id))
    if street_of is None:
        raise Invalid.field("community_id", f"社区 {community_id} 不存在 (unknown community)")
    if int(street_of) != street_id:
        raise Invalid.field("community_id", "该社区不属于所选街道 (the community is not in the street)")


async def _name_taken(session: AsyncSession, street_id: int, name: str, place_id: int | None = None) -> None:
    other = await session.scalar(select(Place.id).where(Place.street_id == street_id, Place.name == name))
    if other is not None and other != place_id:
        raise Conflict(f"本街道已有同名阵地「{name}」(a place of this name exists in the street)")


async def create_place(session: AsyncSession, principal: Principal, data: PlaceIn) -> Place:
    if principal.role == "child_supervisor":
        if data.street_id != principal.street_id:
            raise Invalid.field("street_id", "督导员只能在本街道设立阵地 (supervisors add places in their street)")
    elif principal.role != "district_admin":
        if principal.role in READERS:
            raise Forbidden("只有区民政或街道督导员可设立阵地 (only the district or the supervisor add places)")
        raise Forbidden(NOT_A_READER)
    name = data.name.strip()
    if not name:
        raise Invalid.field("name", "请填写阵地名称 (a name is required)")
    await _check_location(session, data.kind, data.street_id, data.community_id)
    await _name_taken(session, data.street_id, name)
    place = Place(
        kind=data.kind,
        street_id=data.street_id,
        community_id=data.community_id,
        name=name,
        address=data.address.strip(),
        opening_hours=data.opening_hours.strip(),
        facilities=_check_facilities(data.facilities),
        area_m2=data.area_m2,
        phone=data.phone.strip(),
        opened_on=data.opened_on,
        active=True,
        note=data.note,
    )
    if data.opened_on is not None and data.opened_on > clock.today():
        raise Invalid.field("opened_on", "启用日期不能晚于今天 (opened_on is in the future)")
    session.add(place)
    await session.flush()
    await audit.record(session, principal, "create", "place", place.id, ("name", "kind", "address"))
    return place


DIRECTOR_FIELDS = frozenset({"opening_hours"})


async def update_place(session: AsyncSession, principal: Principal, place_id: int, data: PlacePatch) -> Place:
    require_reader_or_hide(principal, place_id)
    place = await _editable_place(session, principal, place_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if principal.role == "child_director" and set(changes) - DIRECTOR_FIELDS:
        raise Forbidden(
            "儿童主任只能修改本社区儿童之家的开放时间和值班人员 (directors change only the opening hours and staff)"
        )
    if "name" in changes:
        changes["name"] = str(changes["name"]).strip()
        if not changes["name"]:
            raise Invalid.field("name", "请填写阵地名称 (a name is required)")
        await _name_taken(session, place.street_id, changes["name"], place.id)
    if "facilities" in changes:
        changes["facilities"] = _check_facilities(changes["facilities"])
    if changes.get("opened_on") is not None and changes["opened_on"] > clock.today():
        raise Invalid.field("opened_on", "启用日期不能晚于今天 (opened_on is in the future)")
    for key in ("address", "opening_hours", "phone"):
        if key in changes:
            changes[key] = str(changes[key]).strip()
    for key, value in changes.items():
        setattr(place, key, value)
    await session.flush()
    await audit.record(session, principal, "update", "place", place.id, sorted(changes))
    return place


# ---------------------------------------------------------------- staff on duty


async def add_staff(session: AsyncSession, principal: Principal, place_id: int, data: PlaceStaffIn) -> PlaceStaff:
    require_reader_or_hide(principal, place_id)
    place = await _editable_place(session, principal, place_id)
    if data.role not in STAFF_ROLES:
        raise Invalid.field("role", f"未知的值班角色 {data.role} (unknown staff role)")
    name = data.name.strip()
    if data.user_id is not None:
        user = await session.get(User, data.user_id)
        in_street = user is not None and (
            user.street_id == place.street_id
            or (
                user.community_id is not None
                and await session.scalar(select(Community.street_id).where(Community.id == user.community_id))
                == place.street_id
            )
        )
        if user is None or not in_street or not user.is_active:
            raise Invalid.field("user_id", "只能选择本街道在用的账号 (choose an active account of the street)")
        name = name or user.display_name
        phone = data.phone.strip() or (user.phone or "")
    else:
        phone = data.phone.strip()
    if not name:
        raise Invalid.field("name", "请填写值班人员姓名或选择账号 (a name or an account is required)")
    today = clock.today()
    since = data.since or today
    if since > today + dt.timedelta(days=60):
        raise Invalid.field("since", "上岗日期不能晚于两个月后 (since is too far ahead)")
    staff = PlaceStaff(
        place_id=place.id,
        user_id=data.user_id,
        name=name,
        role=data.role,
        duty=data.duty.strip(),
        phone=phone,
        since=since,
        until=None,
    )
    session.add(staff)
    await session.flush()
    await audit.record(session, principal, "create", "place_staff", staff.id, ("name", "role", "duty"))
    return staff


async def staff_leaves(
    session: AsyncSession, principal: Principal, place_id: int, staff_id: int, data: PlaceStaffLeaveIn
) -> PlaceStaff:
    require_reader_or_hide(principal, place_id)
    place = await _editable_place(session, principal, place_id)
    staff = await session.scalar(
        select(PlaceStaff).where(PlaceStaff.id == staff_id, PlaceStaff.place_id == place.id).with_for_update()
    )
    if staff is None:
        raise NotFound(f"值班人员 {staff_id} 不存在 (staff not found)")
    if staff.until is not None:
        raise Conflict(f"{staff.name} 已于 {staff.until.isoformat()} 离岗 (already left)")
    if staff.since is not None and data.until < staff.since:
        raise Invalid.field("until", "离岗日期不能早于上岗日期 (until is before since)")
    if data.until > clock.today() + dt.timedelta(days=60):
        raise Invalid.field("until", "离岗日期不能晚于两个月后 (until is too far ahead)")
    staff.until = data.until
    await session.flush()
    await audit.record(session, principal, "update", "place_staff", staff.id, ("until",))
    return staff


# ---------------------------------------------------------------- public listing


async def public_places(
    session: AsyncSession,
    *,
    street_id: int | None = None,
    kind: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[PublicPlaceOut], int]:
    """What anyone may read: the open places, their address, hours, phone and facilities (no staff, no children)."""
    stmt = select(Place).where(Place.active.is_(True))
    if street_id is not None:
        stmt = stmt.where(Place.street_id == street_id)
    if kind is not None:
        stmt = stmt.where(Place.kind == kind)
    rows, total = await fetch_page(
        session, stmt, Place.street_id, Place.kind.desc(), Place.name, Place.id, limit=limit, offset=offset
    )
    streets = await _street_names(session, {p.street_id for p in rows})
    communities = await _community_names(session, {p.community_id for p in rows if p.community_id})
    return [
        PublicPlaceOut(
            id=p.id,
            kind=p.kind,
            kind_label=PLACE_KINDS.get(p.kind, p.kind),
            name=p.name,
            street_name=streets.get(p.street_id, ""),
            community_name=communities.get(p.community_id, "") if p.community_id else "",
            address=p.address,
            opening_hours=p.opening_hours,
            phone=p.phone,
            facilities=[FACILITIES.get(f, f) for f in p.facilities or []],
        )
        for p in rows
    ], total


# ---------------------------------------------------------------- activities


def activity_counts(on_file: Sequence[Child], other_children: int, adults: int, volunteers: int) -> dict[str, Any]:
    """``counts`` as stored: the children on file by their first category, the others, adults, volunteers."""
    children: dict[str, int] = {}
    for child in on_file:
        category = (child.categories or [UNCATEGORISED])[0]
        children[category] = children.get(category, 0) + 1
    if other_children:
        children[OTHER_CHILDREN] = other_children
    return {
        "children": children,
        "on_file": len(on_file),
        "other_children": other_children,
        "adults": adults,
        "volunteers": volunteers,
    }


def _category_label(code: str) -> str:
    if code == OTHER_CHILDREN:
        return OTHER_CHILDREN_LABEL
    if code == UNCATEGORISED:
        return UNCATEGORISED_LABEL
    return CHILD_CATEGORIES.get(code, code)


async def _chosen_children(
    session: AsyncSession, principal: Principal, place: Place, child_ids: Sequence[int]
) -> list[Child]:
    """The children on file the recorder names: active files of the recorder's own scope (the director's
    community, the supervisor's street) in the place's street. Any other id is refused without saying why."""
    ids = list(dict.fromkeys(child_ids))
    if not ids:
        return []
    rows = (await session.scalars(select(Child).where(Child.id.in_(ids)))).all()
    found = {c.id: c for c in rows}
    bad = [
        i
        for i in ids
        if i not in found
        or found[i].status != "active"
        or found[i].street_id != place.street_id
        or not (
            (principal.role == "child_director" and found[i].community_id == principal.community_id)
            or (principal.role == "child_supervisor" and found[i].street_id == principal.street_id)
        )
    ]
    if bad:
        raise Invalid.field(
            "child_ids",
            f"参与儿童须为本辖区在册儿童：{'、'.join(str(i) for i in bad)} 不可选 (children not on your files)",
        )
    return [found[i] for i in ids]


def _check_activity_fields(held_on: dt.date, kind: str, title: str) -> None:
    today = clock.today()
    if held_on > today:
        raise Invalid.field("held_on", "活动日期不能晚于今天 (held_on is in the future)")
    if held_on < today - MAX_ACTIVITY_AGE:
        raise Invalid.field("held_on", "只能登记一年内的活动 (held_on is more than a year ago)")
    if kind not in ACTIVITY_KINDS:
        raise Invalid.field("kind", f"未知的活动类型 {kind} (unknown activity kind)")
    if not title.strip():
        raise Invalid.field("title", "请填写活动名称 (a title is required)")


async def record_activity(
    session: AsyncSession, principal: Principal, place_id: int, data: PlaceActivityIn
) -> Activity:
    require_reader_or_hide(principal, place_id)
    place = await visible_place(session, principal, place_id)
    if not can_record(principal, place):
        raise Forbidden(
            "活动由本社区儿童主任或本街道督导员登记 (only the home's director or the street's supervisor record it)"
        )
    if not place.active:
        raise Conflict("该阵地已停用，不能登记活动 (the place is closed)")
    _check_activity_fields(data.held_on, data.kind, data.title)
    if place.opened_on is not None and data.held_on < place.opened_on:
        raise Invalid.field("held_on", "活动日期早于阵地启用日期 (held before the place opened)")
    children = await _chosen_children(session, principal, place, data.child_ids)
    counts = activity_counts(children, data.other_children, data.adults, data.volunteers)
    activity = Activity(
        place_id=place.id,
        held_on=data.held_on,
        kind=data.kind,
        title=data.title.strip(),
        description=data.description,
        minutes=data.minutes,
        counts=counts,
        children_total=len(children) + data.other_children,
        volunteers_total=data.volunteers,
        recorded_by=principal.account_id,
        created_at=clock.now(),
    )
    session.add(activity)
    await session.flush()
    session.add_all([ActivityChild(activity_id=activity.id, child_id=c.id) for c in children])
    await session.flush()
    await audit.record(
        session,
        principal,
        "create",
        "place_activity",
        activity.id,
        ("held_on", "kind", "title", "children", "counts"),
        {"children": len(children)},
    )
    return activity


async def _visible_activity(
    session: AsyncSession, principal: Principal, activity_id: int, *, lock: bool = False
) -> tuple[Activity, Place]:
    stmt = select(Activity).where(Activity.id == activity_id)
    if lock:
        stmt = stmt.with_for_update()
    activity = await session.scalar(stmt)
    if activity is None or principal.role not in READERS:
        raise _activity_missing(activity_id)
    place = await _load_place(session, activity.place_id)
    if not can_see(principal, place.street_id):
        raise _activity_missing(activity_id)
    return activity, place


async def update_activity(
    session: AsyncSession, principal: Principal, activity_id: int, data: PlaceActivityPatch
) -> Activity:
    activity, place = await _visible_activity(session, principal, activity_id, lock=True)
    if not can_record(principal, place) or activity.recorded_by != principal.account_id:
        raise Forbidden("只有登记人可以修改活动记录 (only the recorder may change the activity)")
    if clock.now() > activity.created_at + EDIT_WINDOW:
        raise Conflict(
            f"活动登记已超过 {EDIT_DAYS} 天，不能再修改 (an activity may be changed for {EDIT_DAYS} days after recording)"
        )
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    held_on = changes.get("held_on", activity.held_on)
    kind = changes.get("kind", activity.kind)
    title = changes.get("title", activity.title)
    _check_activity_fields(held_on, kind, title)
    if place.opened_on is not None and held_on < place.opened_on:
        raise Invalid.field("held_on", "活动日期早于阵地启用日期 (held before the place opened)")
    old = dict(activity.counts or {})
    if "child_ids" in changes:
        children = await _chosen_children(session, principal, place, changes["child_ids"])
        # Children named by others (another scope's recorder cannot have named any: the recorder is the caller)
        existing = (await session.scalars(select(ActivityChild).where(ActivityChild.activity_id == activity.id))).all()
        keep = {c.id for c in children}
        for row in existing:
            if row.child_id not in keep:
                await session.delete(row)
        have = {row.child_id for row in existing}
        session.add_all([ActivityChild(activity_id=activity.id, child_id=c.id) for c in children if c.id not in have])
    else:
        children = list(
            (
                await session.scalars(
                    select(Child)
                    .join(ActivityChild, ActivityChild.child_id == Child.id)
                    .where(ActivityChild.activity_id == activity.id)
                )
            ).all()
        )
    other_children = int(changes.get("other_children", old.get("other_children", 0)))
    adults = int(changes.get("adults", old.get("adults", 0)))
    volunteers = int(changes.get("volunteers", old.get("volunteers", 0)))
    activity.held_on = held_on
    activity.kind = kind
    activity.title = str(title).strip()
    if "minutes" in changes:
        activity.minutes = changes["minutes"]
    if "description" in changes:
        activity.description = changes["description"]
    activity.counts = activity_counts(children, other_children, adults, volunteers)
    activity.children_total = len(children) + other_children
    activity.volunteers_total = volunteers
    await session.flush()
    await audit.record(
        session, principal, "update", "place_activity", activity.id, sorted(changes), {"children": len(children)}
    )
    return activity


async def present_activities(
    session: AsyncSession, principal: Principal, rows: Sequence[Activity]
) -> list[PlaceActivityOut]:
    """Activities with the names of the children the caller reads the files of (audited), the rest counted."""
    if not rows:
        return []
    ids = [a.id for a in rows]
    places = {
        p.id: p for p in (await session.scalars(select(Place).where(Place.id.in_({a.place_id for a in rows})))).all()
    }
    named: dict[int, list[PlaceActivityChildOut]] = defaultdict(list)
    hidden: dict[int, int] = defaultdict(int)
    shown_children: set[int] = set()
    child_rows = await session.execute(
        select(ActivityChild.activity_id, Child.id, Child.name, Child.community_id, Child.street_id)
        .join(Child, Child.id == ActivityChild.child_id)
        .where(ActivityChild.activity_id.in_(ids))
        .order_by(ActivityChild.activity_id, Child.id)
    )
    for activity_id, child_id, name, community_id, street_id in child_rows.all():
        if cases.can_read(principal, community_id, street_id):
            named[activity_id].append(PlaceActivityChildOut(child_id=child_id, name=name))
            shown_children.add(int(child_id))
        else:
            hidden[activity_id] += 1
    if shown_children:
        await audit.record_read(
            session,
            principal,
            "list",
            "child",
            sorted(shown_children),
            ACTIVITY_CHILD_FIELDS,
            {"place_activities": ids[:50]},
        )
    now = clock.now()
    out = []
    for a in rows:
        place = places[a.place_id]
        counts: dict[str, Any] = dict(a.counts or {})
        by_category: dict[str, Any] = dict(counts.get("children") or {})
        until = a.created_at + EDIT_WINDOW
        out.append(
            PlaceActivityOut(
                id=a.id,
                place_id=a.place_id,
                place_name=place.name,
                street_id=place.street_id,
                community_id=place.community_id,
                held_on=a.held_on,
                kind=a.kind,
                kind_label=ACTIVITY_KINDS.get(a.kind, a.kind),
                title=a.title,
                description=a.description,
                minutes=a.minutes,
                children_by_category=[
                    PlaceActivityCountOut(code=str(code), label=_category_label(str(code)), count=int(n))
                    for code, n in sorted(
                        dict(by_category).items(), key=lambda kv: (kv[0] == OTHER_CHILDREN, -int(kv[1]), kv[0])
                    )
                ],
                on_file_total=int(counts.get("on_file", 0)),
                other_children=int(counts.get("other_children", 0)),
                adults=int(counts.get("adults", 0)),
                volunteers=int(counts.get("volunteers", 0)),
                children_total=a.children_total,
                volunteers_total=a.volunteers_total,
                children=named.get(a.id, []),
                hidden_children=hidden.get(a.id, 0),
                recorded_by=a.recorded_by,
                created_at=a.created_at,
                editable_until=until,
                editable=(
                    a.recorded_by is not None
                    and a.recorded_by == principal.account_id
                    and now <= until
                    and can_record(principal, place)
                ),
            )
        )
    return out


@dataclass(frozen=True)
class ActivityFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kind: str | None = None


async def list_activities(
    session: AsyncSession,
    principal: Principal,
    place_id: int,
    filters: ActivityFilters,
    *,
    limit: int,
    offset: int,
) -> tuple[list[PlaceActivityOut], int]:
    require_reader_or_hide(principal, place_id)
    place = await visible_place(session, principal, place_id)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise Invalid.field("from", "开始日期晚于结束日期 (from is after to)")
    stmt = select(Activity).where(Activity.place_id == place.id)
    if filters.date_from is not None:
        stmt = stmt.where(Activity.held_on >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(Activity.held_on <= filters.date_to)
    if filters.kind is not None:
        if filters.kind not in ACTIVITY_KINDS:
            raise Invalid.field("kind", f"未知的活动类型 {filters.kind} (unknown activity kind)")
        stmt = stmt.where(Activity.kind == filters.kind)
    rows, total = await fetch_page(
        session, stmt, Activity.held_on.desc(), Activity.id.desc(), limit=limit, offset=offset
    )
    return await present_activities(session, principal, rows), total


async def read_activity(session: AsyncSession, principal: Principal, activity_id: int) -> PlaceActivityOut:
    activity, _ = await _visible_activity(session, principal, activity_id)
    return (await present_activities(session, principal, [activity]))[0]


async def child_activities(
    session: AsyncSession, principal: Principal, child_id: int, year: int
) -> list[PlaceActivityOut]:
    """The activities a child on file took part in during ``year`` (the child's page; the file's scope)."""
    child = await cases.visible_child(session, principal, child_id)
    rows = (
        await session.scalars(
            select(Activity)
            .join(ActivityChild, ActivityChild.activity_id == Activity.id)
            .where(
                ActivityChild.child_id == child.id,
                Activity.held_on.between(dt.date(year, 1, 1), dt.date(year, 12, 31)),
            )
            .order_by(Activity.held_on.desc(), Activity.id.desc())
        )
    ).all()
    return await present_activities(session, principal, rows)


async def choosable_children(session: AsyncSession, principal: Principal, place: Place) -> list[tuple[int, str]]:
    """The children on file a recorder may name at ``place`` (id, name), by name: the director's community's, the
    supervisor's street's (the console's choice; the names it shows are audited by the caller)."""
    if not can_record(principal, place):
        return []
    stmt = select(Child.id, Child.name).where(Child.status == "active", Child.street_id == place.street_id)
    if principal.role == "child_director":
        stmt = stmt.where(Child.community_id == principal.community_id)
    elif place.community_id is not None:
        stmt = stmt.where(Child.community_id == place.community_id)
    rows = [(int(i), str(n)) for i, n in (await session.execute(stmt)).all()]
    rows.sort(key=lambda r: (r[1], r[0]))
    if rows:
        await audit.record_read(
            session, principal, "list", "child", [i for i, _ in rows], ("name",), {"place_id": place.id}
        )
    return rows


# ---------------------------------------------------------------- usage per street and quarter


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    if not 2000 <= year <= 2100:
        raise Invalid.field("year", "年份应在 2000-2100 之间 (year out of range)")
    if quarter not in (1, 2, 3, 4):
        raise Invalid.field("quarter", "季度应为 1-4 (quarter must be 1..4)")
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return start, end - dt.timedelta(days=1)


def current_quarter() -> tuple[int, int]:
    today = clock.today()
    return today.year, (today.month - 1) // 3 + 1


def _empty_row(street_id: int, name: str) -> dict[str, Any]:
    return {
        "street_id": street_id,
        "street_name": name,
        "stations": 0,
        "children_homes": 0,
        "activities": 0,
        "on_file_times": 0,
        "other_children_times": 0,
        "adult_times": 0,
        "volunteer_times": 0,
        "children_reached": 0,
        "children_on_file": 0,
        "minutes": 0,
    }


async def usage_figures(
    session: AsyncSession,
    year: int,
    quarter: int,
    *,
    street_id: int | None = None,
    community_id: int | None = None,
) -> dict[str, Any]:
    """The quarter's usage, counts only: per street (or the one street; ``community_id`` narrows it to the
    community's home): places open, activities, participant-times by category, distinct children on file reached
    and their share of the street's children on file, minutes; per kind of activity. No child is named."""
    start, end = quarter_bounds(year, quarter)
    streets_stmt = select(Street.id, Street.name).order_by(Street.id)
    if street_id is not None:
        streets_stmt = streets_stmt.where(Street.id == street_id)
    rows: dict[int, dict[str, Any]] = {int(i): _empty_row(int(i), n) for i, n in (await session.execute(streets_stmt))}

    places_stmt = select(Place.id, Place.street_id, Place.kind).where(
        Place.active.is_(True), (Place.opened_on.is_(None)) | (Place.opened_on <= end)
    )
    if street_id is not None:
        places_stmt = places_stmt.where(Place.street_id == street_id)
    if community_id is not None:
        places_stmt = places_stmt.where(Place.community_id == community_id)
    for _, sid, kind in (await session.execute(places_stmt)).all():
        if int(sid) in rows:
            rows[int(sid)]["stations" if kind == "station" else "children_homes"] += 1

    act_stmt = (
        select(Activity.id, Place.street_id, Activity.kind, Activity.minutes, Activity.counts)
        .join(Place, Place.id == Activity.place_id)
        .where(Activity.held_on.between(start, end))
    )
    if street_id is not None:
        act_stmt = act_stmt.where(Place.street_id == street_id)
    if community_id is not None:
        act_stmt = act_stmt.where(Place.community_id == community_id)
    kinds: dict[str, dict[str, Any]] = {}
    for _, sid, kind, minutes, stored in (await session.execute(act_stmt)).all():
        row = rows.get(int(sid))
        if row is None:
            continue
        counts: dict[str, Any] = dict(stored or {})
        on_file = int(counts.get("on_file", 0))
        other = int(counts.get("other_children", 0))
        adults = int(counts.get("adults", 0))
        volunteers = int(counts.get("volunteers", 0))
        row["activities"] += 1
        row["on_file_times"] += on_file
        row["other_children_times"] += other
        row["adult_times"] += adults
        row["volunteer_times"] += volunteers
        row["minutes"] += int(minutes or 0)
        k = kinds.setdefault(
            kind,
            {
                "kind": kind,
                "label": ACTIVITY_KINDS.get(kind, kind),
                "activities": 0,
                "participant_times": 0,
                "minutes": 0,
            },
        )
        k["activities"] += 1
        k["participant_times"] += on_file + other + adults + volunteers
        k["minutes"] += int(minutes or 0)

    reached_stmt = (
        select(Place.street_id, func.count(func.distinct(ActivityChild.child_id)))
        .select_from(ActivityChild)
        .join(Activity, Activity.id == ActivityChild.activity_id)
        .join(Place, Place.id == Activity.place_id)
        .where(Activity.held_on.between(start, end))
        .group_by(Place.street_id)
    )
    if street_id is not None:
        reached_stmt = reached_stmt.where(Place.street_id == street_id)
    if community_id is not None:
        reached_stmt = reached_stmt.where(Place.community_id == community_id)
    for sid, n in (await session.execute(reached_stmt)).all():
        if int(sid) in rows:
            rows[int(sid)]["children_reached"] = int(n)
    total_reached = int(
        await session.scalar(
            select(func.count(func.distinct(ActivityChild.child_id)))
            .select_from(ActivityChild)
            .join(Activity, Activity.id == ActivityChild.activity_id)
            .join(Place, Place.id == Activity.place_id)
            .where(
                Activity.held_on.between(start, end),
                *([Place.street_id == street_id] if street_id is not None else []),
                *([Place.community_id == community_id] if community_id is not None else []),
            )
        )
        or 0
    )

    files_stmt = select(Child.street_id, func.count()).where(Child.status == "active").group_by(Child.street_id)
    if street_id is not None:
        files_stmt = files_stmt.where(Child.street_id == street_id)
    if community_id is not None:
        files_stmt = files_stmt.where(Child.community_id == community_id)
    for sid, n in (await session.execute(files_stmt)).all():
        if int(sid) in rows:
            rows[int(sid)]["children_on_file"] = int(n)

    total = _empty_row(0, "合计")
    for row in rows.values():
        row["reached_share"] = _share(row["children_reached"], row["children_on_file"])
        for key, value in row.items():
            if key not in ("street_id", "street_name", "reached_share", "children_reached"):
                total[key] += value
    total["children_reached"] = total_reached
    total["reached_share"] = _share(total_reached, total["children_on_file"])
    return {
        "year": year,
        "quarter": quarter,
        "from_date": start,
        "to_date": end,
        "streets": list(rows.values()),
        "kinds": sorted(kinds.values(), key=lambda k: (-k["activities"], k["kind"])),
        "total": total,
    }


async def dispatch_section(
    session: AsyncSession, year: int, quarter: int, *, street_id: int | None, community_id: int | None
) -> dict[str, Any]:
    """The places' part of the quarterly dispatch (``reports.service.quarterly``): the usage figures as plain
    values (counts only; the street rows, the total, per kind of activity)."""
    figures = await usage_figures(session, year, quarter, street_id=street_id, community_id=community_id)
    return {"streets": figures["streets"], "total": figures["total"], "kinds": figures["kinds"]}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


async def usage(session: AsyncSession, principal: Principal, year: int, quarter: int) -> PlaceUsageOut:
    """The usage table: the district's every street, the supervisor's own street."""
    if principal.role not in USAGE_READERS:
        raise Forbidden("阵地使用情况仅限街道督导员和区民政查看 (the supervisor and the district read the usage)")
    street_id = principal.street_id if principal.role == "child_supervisor" else None
    if principal.role == "child_supervisor" and street_id is None:
        raise Forbidden(NOT_A_READER)
    figures = await usage_figures(session, year, quarter, street_id=street_id)
    return PlaceUsageOut(
        year=figures["year"],
        quarter=figures["quarter"],
        from_date=figures["from_date"],
        to_date=figures["to_date"],
        streets=[PlaceUsageStreetOut(**row) for row in figures["streets"]],
        kinds=[PlaceUsageKindOut(**k) for k in figures["kinds"]],
        total=PlaceUsageStreetOut(**figures["total"]),
    )
