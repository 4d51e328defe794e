"""Left-behind children's parents away from home in the console: the section of the child's page (the parents, the
last contact, "today we spoke" in two taps on a phone), a parent's page (contacts, a visit home, a change saved as a
new version), and /admin/families: the children whose contact with a parent stopped, by community.

Every read and write goes through ``marketplace.families.service`` with the session's Principal, as the API does: its
scope (the child's director writes, the street's supervisor and the district read) and its audit rows. A form the
service refuses is shown again with the message and what was typed (``web.render_form_error``)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.families import service
from marketplace.families.schemas import ParentAwayIn, ParentAwayVersionIn, ParentContactIn, ParentVisitHomeIn
from marketplace.families.taxonomy import ALERT_STATUSES, CHANNELS, FREQUENCY_LABELS, RELATIONS
from marketplace.ids import PathId

PAGE = 50
TITLES = {
    "child_director": "本社区留守儿童亲情联系",
    "child_supervisor": "本街道留守儿童亲情联系",
    "district_admin": "全区留守儿童亲情联系",
    "auditor": "全区留守儿童亲情联系",
}
DONE = {
    "contact": "已登记联系，联系中断预警随之解除",
    "visit_home": "已登记回家探望",
    "parent": "已登记外出父母",
    "revised": "已保存为新版本，旧信息保留在历史中",
}
# The channels a tap on the child's page records (the rest on the parent's page).
QUICK_CHANNELS = ("phone", "video")
PARENT_TEXT = ("relation", "name", "work_province", "work_city", "employer", "job", "phone", "wechat", "frequency")


S = TypeVar("S")
# Field labels for the messages of a form a schema refused.
LABELS = {
    "relation": "与儿童关系",
    "name": "姓名",
    "work_province": "务工省份",
    "work_city": "务工城市",
    "employer": "工作单位",
    "job": "从事工作",
    "phone": "手机号",
    "wechat": "微信号",
    "frequency": "约定联系频次",
    "away_since": "外出时间",
    "returned_on": "返乡日期",
    "note": "备注",
    "contacted_on": "联系日期",
    "channel": "方式",
    "from_date": "回家日期",
    "to_date": "离家日期",
}


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    """A posted form as the API's request schema, refused with a Chinese message naming the field."""
    return web.parse_form(schema, values, LABELS)


redirect = web.after_change


_text = web.posted


def _is_director(principal: Principal, child: Child) -> bool:
    return principal.role == "child_director" and principal.community_id == child.community_id


async def section(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, child: Child
) -> dict[str, Any]:
    """What the child's page shows of the parents away (``_child_families.html``); audited by the service."""
    _, rows = await service.list_parents(session, principal, child.id)
    done = request.query_params.get("families")
    return {
        "parents": await service.present(session, principal, rows),
        "writer": _is_director(principal, child) and child.status == "active",
        "message": DONE.get(done) if isinstance(done, str) else None,
        "today": clock.today(),
        "channels": {c: CHANNELS[c] for c in QUICK_CHANNELS},
        "left_behind": "left_behind" in (child.categories or []),
    }


# ---------------------------------------------------------------- the alert list


@get("/families", name="console-families")
async def families_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    if status and status not in ALERT_STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    shown, total = await service.list_alerts(
        session,
        principal,
        status=status or "open",
        community_id=None,
        street_id=None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    rows = sorted(shown, key=lambda a: (a.community_name, a.silent_since, a.id))
    groups = [(name, list(items)) for name, items in groupby(rows, key=lambda a: a.community_name)]
    return web.render(
        "families.html",
        title=TITLES.get(principal.role, "留守儿童亲情联系"),
        groups=groups,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "open",
        statuses=ALERT_STATUSES,
        **web.page_context(request, principal, "families"),
    )


# ---------------------------------------------------------------- a new parent


def _new_context(child: Child, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "child": {"id": child.id, "name": child.name},
        "values": dict(values or {"relation": "father", "frequency": "weekly"}),
        "relations": RELATIONS,
        "frequencies": FREQUENCY_LABELS,
        "today": clock.today(),
    }


@get("/families/children/{child_id:int}/parents/new", name="console-families-parent-new")
async def new_parent_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, child_id: PathId
) -> Response[str]:
    child = await cases.read_child(session, principal, child_id)
    cases.require_director(principal, child)
    return web.render(
        "families_parent_new.html", **_new_context(child), **web.page_context(request, principal, "children")
    )


@post("/families/children/{child_id:int}/parents", name="console-families-parent")
async def create_parent(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    values = {name: _text(form, name) for name in (*PARENT_TEXT, "away_since", "note")}
    try:
        data = parse(ParentAwayIn, {**values, "away_since": values["away_since"] or None})
        await service.create_parent(session, principal, child_id, data)
    except forms.FORM_ERRORS as exc:
        child = await cases.visible_child(session, principal, child_id)
        return await web.render_form_error(
            request,
            session,
            exc,
            "families_parent_new.html",
            principal=principal,
            active="children",
            **_new_context(child, values),
        )
    return redirect(request, f"/admin/children/{child_id}?families=parent#families")


# ---------------------------------------------------------------- a parent's page and its forms


async def _parent_context(session: AsyncSession, principal: Principal, parent_id: int) -> dict[str, Any]:
    child, current, contacts = await service.read_parent(session, principal, parent_id)
    [shown] = await service.present(session, principal, [current])
    return {
        "child": {"id": child.id, "name": child.name},
        "parent": shown,
        "contacts": contacts,
        "writer": _is_director(principal, child) and child.status == "active",
        "relations": RELATIONS,
        "frequencies": FREQUENCY_LABELS,
        "channels": CHANNELS,
        "today": clock.today(),
    }


@get("/families/parents/{parent_id:int}", name="console-families-parent-page")
async def parent_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    parent_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    context = await _parent_context(session, principal, parent_id)
    return web.render(
        "families_parent.html",
        message=DONE.get(done or ""),
        posted={},
        **context,
        **web.page_context(request, principal, "children"),
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    parent_id: int,
    exc: Exception,
    form_name: str,
    posted: Mapping[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return await _parent_context(session, principal, parent_id)

    return await web.render_form_error(
        request,
        session,
        exc,
        "families_parent.html",
        principal=principal,
        active="children",
        reads=reads,
        form_name=form_name,
        posted=dict(posted),
        message=None,
    )


@post("/families/parents/{parent_id:int}/contacts", name="console-families-contact")
async def record_contact(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    parent_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """A contact: from the child's page one tap per channel (today), from the parent's page any day with a note."""
    posted = {
        "contacted_on": _text(form, "contacted_on") or clock.today().isoformat(),
        "channel": _text(form, "channel"),
        "note": _text(form, "note"),
    }
    back = _text(form, "back")
    try:
        contact = await service.record_contact(session, principal, parent_id, parse(ParentContactIn, posted))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, parent_id, exc, "contact", posted)
    if back == "child":
        return redirect(request, f"/admin/children/{contact.child_id}?families=contact#families")
    return redirect(request, f"/admin/families/parents/{parent_id}?done=contact")


@post("/families/parents/{parent_id:int}/visits-home", name="console-families-visit-home")
async def record_visit_home(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    parent_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    posted = {"from_date": _text(form, "from_date"), "to_date": _text(form, "to_date"), "note": _text(form, "note")}
    try:
        await service.record_visit_home(session, principal, parent_id, parse(ParentVisitHomeIn, posted))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, parent_id, exc, "visit_home", posted)
    return redirect(request, f"/admin/families/parents/{parent_id}?done=visit_home")


@post("/families/parents/{parent_id:int}/revise", name="console-families-revise")
async def revise(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    parent_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """A change of the parent's details: every field of the form as it now stands, saved as a new version."""
    posted = {name: _text(form, name) for name in (*PARENT_TEXT, "away_since", "returned_on", "note")}
    body: dict[str, Any] = dict(posted)
    body["away_since"] = posted["away_since"] or None
    body["returned_on"] = posted["returned_on"] or None
    try:
        new = await service.new_version(session, principal, parent_id, parse(ParentAwayVersionIn, body))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, parent_id, exc, "revise", posted)
    return redirect(request, f"/admin/families/parents/{new.id}?done=revised")


ROUTES = [families_page, new_parent_page, create_parent, parent_page, record_contact, record_visit_home, revise]
