"""Places in the console: /admin/places (the street's station and children's homes, by street), a place's page
(details, staff on duty, recent activities, the forms to change them), the director's "record an activity" form
(phone first: the community's children chosen by tapping their names, with a search box; the others counted),
/admin/places/usage (the quarter's table per street), and the child's page's section (the activities the child
took part in this year).

Every read and write goes through ``marketplace.places.service`` with the session's Principal, as the API does: its
scope and its audit rows. A form the service refuses is shown again with the message and what was typed."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Forbidden, Invalid
from marketplace.geography.models import Street
from marketplace.ids import MAX_ID, PathId
from marketplace.places import service
from marketplace.places.schemas import (
    PlaceActivityIn,
    PlaceActivityPatch,
    PlacePatch,
    PlaceStaffIn,
    PlaceStaffLeaveIn,
)
from marketplace.places.taxonomy import (
    ACTIVITY_KINDS,
    EDIT_DAYS,
    FACILITIES,
    OTHER_PARTICIPANTS,
    PLACE_KINDS,
    STAFF_ROLES,
)

PAGE = 100
DONE = {
    "activity": "活动已登记",
    "activity_changed": "活动记录已修改",
    "place": "阵地信息已保存",
    "staff": "已登记值班人员",
    "left": "已登记离岗，记录保留在值班历史中",
}
LABELS = {
    "held_on": "活动日期",
    "kind": "活动类型",
    "title": "活动名称",
    "minutes": "时长（分钟）",
    "description": "活动简介",
    "child_ids": "参与的建档儿童",
    "other_children": "未建档儿童人数",
    "adults": "家长及其他成人人数",
    "volunteers": "志愿者人数",
    "name": "名称",
    "address": "地址",
    "opening_hours": "开放时间",
    "facilities": "设施",
    "phone": "联系电话",
    "area_m2": "面积",
    "role": "值班角色",
    "user_id": "账号",
    "duty": "值班时间",
    "since": "上岗日期",
    "until": "离岗日期",
    "note": "备注",
}
S = TypeVar("S")
_text = web.posted
redirect = web.after_change
Id = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    return web.parse_form(schema, values, LABELS)


def _ids(values: list[str], field: str) -> list[int]:
    out = []
    for v in values:
        if not v.isdigit() or not 1 <= int(v) <= MAX_ID:
            raise Invalid.field(field, f"{LABELS.get(field, field)}无效 (bad id)")
        out.append(int(v))
    return out


# ---------------------------------------------------------------- the list


@get("/places", name="console-places")
async def places_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    street_id: Id = None,
    kind: Annotated[str | None, QueryParameter(max_length=20)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    if kind and kind not in PLACE_KINDS:
        raise Invalid.field("kind", f"未知的阵地类型 {kind} (unknown kind)")
    rows, total = await service.list_places(
        session,
        principal,
        service.PlaceFilters(street_id=street_id, kind=kind or None),
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    groups = [(name, list(items)) for name, items in groupby(rows, key=lambda p: p.street_name)]
    streets = (
        (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
        if principal.is_district
        else []
    )
    query = "&".join(f"{k}={v}" for k, v in (("street_id", street_id), ("kind", kind)) if v)
    return web.render(
        "places.html",
        groups=groups,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        query=query,
        street_id=street_id,
        kind=kind or "",
        kinds=PLACE_KINDS,
        streets=streets,
        may_add=principal.role in ("district_admin", "child_supervisor"),
        usage=principal.role in service.USAGE_READERS,
        **web.page_context(request, principal, "places"),
    )


# ---------------------------------------------------------------- a place


async def _accounts(session: AsyncSession, street_id: int) -> list[tuple[int, str]]:
    """The street's active accounts a place may put on duty (its supervisor and directors)."""
    rows = await session.execute(
        select(User.id, User.display_name)
        .where(User.street_id == street_id, User.is_active.is_(True))
        .where(User.role.in_(("child_supervisor", "child_director")))
        .order_by(User.role.desc(), User.id)
    )
    return [(int(i), n) for i, n in rows.all()]


async def _place_context(session: AsyncSession, principal: Principal, place_id: int) -> dict[str, Any]:
    shown = await service.read_place(session, principal, place_id, history=True)
    place = await service.visible_place(session, principal, place_id)
    activities, total = await service.list_activities(
        session, principal, place_id, service.ActivityFilters(), limit=service.RECENT_ACTIVITIES, offset=0
    )
    editor = service.can_edit(principal, place)
    return {
        "place": shown,
        "on_duty": [s for s in shown.staff if s.on_duty],
        "left": [s for s in shown.staff if not s.on_duty],
        "activities": activities,
        "activities_total": total,
        "editor": editor,
        "full_editor": editor and principal.role != "child_director",
        "recorder": service.can_record(principal, place) and place.active,
        "accounts": await _accounts(session, place.street_id) if editor else [],
        "facilities": FACILITIES,
        "staff_roles": STAFF_ROLES,
        "today": clock.today(),
        "edit_days": EDIT_DAYS,
    }


@get("/places/{place_id:int}", name="console-place")
async def place_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    place_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _place_context(session, principal, place_id)
    return web.render(
        "places_place.html",
        message=DONE.get(done or ""),
        posted={},
        form_name="",
        **context,
        **web.page_context(request, principal, "places"),
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    place_id: int,
    exc: Exception,
    form_name: str,
    posted: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _place_context(session, principal, place_id)

    return await web.render_form_error(
        request,
        session,
        exc,
        "places_place.html",
        principal=principal,
        active="places",
        reads=reads,
        form_name=form_name,
        posted=dict(posted),
        message=None,
    )


@post("/places/{place_id:int}", name="console-place-edit")
async def edit_place(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, place_id: PathId
) -> Response[str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    facilities = [str(v) for v in form.getall("facilities", []) if isinstance(v, str)]
    posted: dict[str, Any] = {
        k: _text(values, k) for k in ("name", "address", "opening_hours", "phone", "area_m2", "note")
    }
    posted["facilities"] = facilities
    try:
        if principal.role == "child_director":
            body: dict[str, Any] = {"opening_hours": posted["opening_hours"]}
        else:
            body = {
                "name": posted["name"],
                "address": posted["address"],
                "opening_hours": posted["opening_hours"],
                "phone": posted["phone"],
                "facilities": facilities,
                "area_m2": posted["area_m2"] or None,
                "note": posted["note"],
                "active": _text(values, "active") == "1",
            }
        await service.update_place(session, principal, place_id, parse(PlacePatch, body))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, place_id, exc, "place", posted)
    return redirect(request, f"/admin/places/{place_id}?done=place")


@post("/places/{place_id:int}/staff", name="console-place-staff")
async def add_staff(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    place_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {k: _text(form, k) for k in ("role", "user_id", "name", "duty", "phone", "since")}
    try:
        user = posted["user_id"]
        if user and not user.isdigit():
            raise Invalid.field("user_id", "账号无效 (bad account)")
        body = {
            "role": posted["role"],
            "user_id": int(user) if user else None,
            "name": posted["name"],
            "duty": posted["duty"],
            "phone": posted["phone"],
            "since": posted["since"] or None,
        }
        await service.add_staff(session, principal, place_id, parse(PlaceStaffIn, body))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, place_id, exc, "staff", posted)
    return redirect(request, f"/admin/places/{place_id}?done=staff#staff")


@post("/places/{place_id:int}/staff/{staff_id:int}/leave", name="console-place-staff-leave")
async def staff_leaves(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    place_id: PathId,
    staff_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"until": _text(form, "until") or clock.today().isoformat(), "staff_id": str(staff_id)}
    try:
        await service.staff_leaves(
            session, principal, place_id, staff_id, parse(PlaceStaffLeaveIn, {"until": posted["until"]})
        )
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, place_id, exc, "leave", posted)
    return redirect(request, f"/admin/places/{place_id}?done=left#staff")


# ---------------------------------------------------------------- recording an activity


async def _activity_context(session: AsyncSession, principal: Principal, place_id: int) -> dict[str, Any]:
    place = await service.visible_place(session, principal, place_id)
    return {
        "place": {"id": place.id, "name": place.name, "kind_label": PLACE_KINDS.get(place.kind, place.kind)},
        "recorder": service.can_record(principal, place),
        "children": await service.choosable_children(session, principal, place),
        "kinds": ACTIVITY_KINDS,
        "others": OTHER_PARTICIPANTS,
        "today": clock.today(),
        "edit_days": EDIT_DAYS,
        "activity": None,
    }


@get("/places/{place_id:int}/activities/new", name="console-place-activity-new")
async def new_activity_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, place_id: PathId
) -> Response[str]:
    service.require_reader_or_hide(principal, place_id)
    context = await _activity_context(session, principal, place_id)
    if not context["recorder"]:
        raise Forbidden("活动由本社区儿童主任或本街道督导员登记 (you may not record activities here)")
    return web.render(
        "places_activity_new.html",
        posted={"held_on": clock.today().isoformat(), "kind": "", "child_ids": []},
        **context,
        **web.page_context(request, principal, "places"),
    )


def _activity_fields(posted: dict[str, Any], chosen: Any) -> dict[str, Any]:
    """The activity's body (new or changed) from its form."""
    return {
        "held_on": posted["held_on"],
        "kind": posted["kind"],
        "title": posted["title"],
        "minutes": posted["minutes"] or 0,
        "description": posted["description"],
        "child_ids": _ids(chosen, "child_ids"),
        "other_children": posted["other_children"] or 0,
        "adults": posted["adults"] or 0,
        "volunteers": posted["volunteers"] or 0,
    }


@post("/places/{place_id:int}/activities", name="console-place-activity")
async def record_activity(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, place_id: PathId
) -> Response[str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    posted, chosen = _activity_body(form, values)
    try:
        body = _activity_fields(posted, chosen)
        await service.record_activity(session, principal, place_id, parse(PlaceActivityIn, body))
    except forms.FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            return await _activity_context(session, principal, place_id)

        return await web.render_form_error(
            request,
            session,
            exc,
            "places_activity_new.html",
            principal=principal,
            active="places",
            reads=reads,
            posted=posted,
        )
    return redirect(request, f"/admin/places/{place_id}?done=activity#activities")


def _activity_body(form: Any, values: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    chosen = [str(v) for v in form.getall("child_ids", []) if isinstance(v, str)]
    posted: dict[str, Any] = {
        k: _text(values, k)
        for k in ("held_on", "kind", "title", "minutes", "description", "other_children", "adults", "volunteers")
    }
    posted["child_ids"] = [int(v) for v in chosen if v.isdigit() and len(v) < 11]
    return posted, chosen


async def _editable_activity(session: AsyncSession, principal: Principal, activity_id: int) -> dict[str, Any]:
    shown = await service.read_activity(session, principal, activity_id)
    if not shown.editable:
        raise Forbidden(
            f"只有登记人可在登记后 {EDIT_DAYS} 天内修改活动记录 (only the recorder, within {EDIT_DAYS} days)"
        )
    context = await _activity_context(session, principal, shown.place_id)
    return {**context, "activity": shown}


@get("/places/activities/{activity_id:int}/edit", name="console-place-activity-edit")
async def edit_activity_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, activity_id: PathId
) -> Response[str]:
    context = await _editable_activity(session, principal, activity_id)
    a = context["activity"]
    posted = {
        "held_on": a.held_on.isoformat(),
        "kind": a.kind,
        "title": a.title,
        "minutes": a.minutes or "",
        "description": a.description,
        "child_ids": [c.child_id for c in a.children],
        "other_children": a.other_children,
        "adults": a.adults,
        "volunteers": a.volunteers,
    }
    return web.render(
        "places_activity_new.html", posted=posted, **context, **web.page_context(request, principal, "places")
    )


@post("/places/activities/{activity_id:int}", name="console-place-activity-update")
async def update_activity(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, activity_id: PathId
) -> Response[str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    posted, chosen = _activity_body(form, values)
    try:
        body = _activity_fields(posted, chosen)
        activity = await service.update_activity(session, principal, activity_id, parse(PlaceActivityPatch, body))
    except forms.FORM_ERRORS as exc:

        async def reads() -> dict[str, Any]:
            return await _editable_activity(session, principal, activity_id)

        return await web.render_form_error(
            request,
            session,
            exc,
            "places_activity_new.html",
            principal=principal,
            active="places",
            reads=reads,
            posted=posted,
        )
    return redirect(request, f"/admin/places/{activity.place_id}?done=activity_changed#activity-{activity.id}")


# ---------------------------------------------------------------- usage


@get("/places/usage", name="console-places-usage")
async def usage_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    quarter: Annotated[int | None, QueryParameter(ge=1, le=4)] = None,
) -> Response[str]:
    this_year, this_quarter = service.current_quarter()
    year = year or this_year
    quarter = quarter or this_quarter
    table = await service.usage(session, principal, year, quarter)
    return web.render(
        "places_usage.html",
        usage=table,
        year=year,
        quarter=quarter,
        years=list(range(this_year, this_year - 4, -1)),
        **web.page_context(request, principal, "places"),
    )


# ---------------------------------------------------------------- the child's page


async def section(session: AsyncSession, principal: Principal, child: Child) -> dict[str, Any]:
    """The activities the child took part in this year (``_child_places.html``); audited by the service."""
    today = clock.today()
    return {
        "year": today.year,
        "activities": await service.child_activities(session, principal, child.id, today.year),
    }


ROUTES = [
    places_page,
    usage_page,
    place_page,
    edit_place,
    add_staff,
    staff_leaves,
    new_activity_page,
    record_activity,
    edit_activity_page,
    update_activity,
]
