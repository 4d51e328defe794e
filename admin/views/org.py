"""An organization's own pages: its profile (机构资料) and its people in the five-society linkage (社工与志愿服务队).

The profile is what ``update_organization`` lets the organization's staff change (name, kind, contact, streets,
description, address); the credit code and the approval are the district's. Social workers and volunteer teams are
the resources feature's people service: registered, edited and taken off the list (inactive) by their owner.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views.services import own_organization
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.geography import service as geography
from marketplace.ids import PathId
from marketplace.resources import people
from marketplace.resources import service as pool
from marketplace.resources.schemas import (
    OrganizationPatch,
    SocialWorkerIn,
    SocialWorkerPatch,
    VolunteerTeamIn,
    VolunteerTeamPatch,
)
from marketplace.resources.taxonomy import ORGANIZATION_KINDS, ORGANIZATION_STATUSES, SERVICE_CATEGORIES

PROFILE = "/admin/org"
PEOPLE = "/admin/org/people"
# Far more than an organization's social workers or a district's volunteer teams.
LIMIT = 1000
LABELS = {
    "name": "名称",
    "kind": "机构类型",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
    "street_ids": "服务街道",
    "description": "机构简介",
    "address": "地址",
    "qualification": "资质",
    "specialties": "专长",
    "phone": "电话",
    "max_caseload": "最多同时承接个案",
    "street_id": "所在街道",
    "member_count": "队员人数",
    "skills": "服务技能",
}
_AT = re.compile(r"`\$\.([a-z_]+)")


def _convert(kind: type[Any], data: dict[str, Any]) -> Any:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        found = _AT.search(str(exc))
        label = LABELS.get(found.group(1), "表单") if found else "表单"
        raise forms.FormError(f"{label}：格式不正确或未填写", found.group(1) if found else None) from exc


def _ids(values: list[str], field: str) -> list[int]:
    out = []
    for raw in values:
        if not raw.isdigit() or len(raw) > 12:
            raise forms.FormError(f"{LABELS[field]}：请选择列表中的一项", field)
        out.append(int(raw))
    return out


def _count(value: str, field: str, default: int) -> int:
    value = value.strip()
    if not value:
        return default
    if not value.isdigit() or len(value) > 6:
        raise forms.FormError(f"{LABELS[field]}：请填写非负整数", field)
    return int(value)


async def _posted(
    request: Request[Any, Any, Any], multi: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    posted = await request.form()
    one = {k: str(v).strip() for k, v in posted.items() if isinstance(v, str)}
    many = {name: [str(v) for v in posted.getall(name)] if name in posted else [] for name in multi}
    return one, many


def _again(request: Request[Any, Any, Any], location: str) -> Response[str]:
    return Response(content="", status_code=303, headers={"location": location, **web.SECURITY_HEADERS})


# ---------------------------------------------------------------- the profile


async def _profile_context(
    session: AsyncSession, principal: Principal, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the profile page shows: the stored organization, and the form with ``values`` (what was posted) or the
    stored ones."""
    org = await pool.read_organization(session, principal, own_organization(principal))
    streets = [(s.id, s.name) for s in await geography.list_streets(session)]
    names = dict(streets)
    v = values or {
        "name": org.name,
        "kind": org.kind,
        "contact_name": org.contact_name,
        "contact_phone": org.contact_phone,
        "street_ids": org.street_ids,
        "description": org.description,
        "address": org.address,
    }
    return {
        "org": org,
        "kind_label": ORGANIZATION_KINDS.get(org.kind, org.kind),
        "status_label": ORGANIZATION_STATUSES.get(org.status, org.status),
        "street_names": "、".join(names.get(i, str(i)) for i in org.street_ids) or "未填写",
        "v": v,
        "kinds": ORGANIZATION_KINDS,
        "streets": streets,
    }


@get("/org", name="console-org-profile")
async def profile_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    saved: Annotated[str | None, QueryParameter(max_length=2)] = None,
) -> Response[str]:
    return web.render(
        "org_profile.html",
        error=None,
        flash="机构资料已保存" if saved else None,
        **(await _profile_context(session, principal)),
        **web.page_context(request, principal, "org"),
    )


@post("/org", name="console-org-profile-update")
async def update_profile(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    organization_id = own_organization(principal)
    one, many = await _posted(request, ("street_ids",))
    values: dict[str, Any] = {
        "name": one.get("name", ""),
        "kind": one.get("kind", ""),
        "contact_name": one.get("contact_name", ""),
        "contact_phone": one.get("contact_phone", ""),
        "description": one.get("description", ""),
        "address": one.get("address", ""),
        "street_ids": [],
    }
    try:
        values["street_ids"] = _ids(many["street_ids"], "street_ids")
        await pool.update_organization(session, principal, organization_id, _convert(OrganizationPatch, values))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        return await web.render_form_error(
            request,
            session,
            exc,
            "org_profile.html",
            principal=principal,
            active="org",
            reads=lambda: _profile_context(session, principal, values),
            flash=None,
        )
    return _again(request, f"{PROFILE}?saved=1")


# ---------------------------------------------------------------- social workers and volunteer teams


async def _people_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The organization's social workers and volunteer teams, and the choices of the forms that add them."""
    organization_id = own_organization(principal)
    workers, _ = await people.list_social_workers(
        session, organization_id=organization_id, street_id=None, limit=LIMIT, offset=0
    )
    teams, _ = await people.list_volunteer_teams(session, street_id=None, limit=LIMIT, offset=0)
    streets = [(s.id, s.name) for s in await geography.list_streets(session)]
    return {
        "workers": workers,
        "teams": [t for t in teams if t.organization_id == organization_id],
        "categories": SERVICE_CATEGORIES,
        "streets": streets,
        "street_names": dict(streets),
    }


async def _people_error(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    exc: Exception,
    which: str,
    values: dict[str, str],
) -> Response[str]:
    """The people page again, the message above the form (``which``) that was refused, its values as posted."""
    return await web.render_form_error(
        request,
        session,
        exc,
        "org_people.html",
        principal=principal,
        active="people",
        reads=lambda: _people_context(session, principal),
        which=which,
        v=values,
        flash=None,
    )


@get("/org/people", name="console-org-people")
async def people_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    saved: Annotated[str | None, QueryParameter(max_length=2)] = None,
) -> Response[str]:
    return web.render(
        "org_people.html",
        error=None,
        which="",
        v={},
        flash="已保存" if saved else None,
        **(await _people_context(session, principal)),
        **web.page_context(request, principal, "people"),
    )


@post("/org/workers", name="console-org-worker-add")
async def add_worker(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    organization_id = own_organization(principal)
    one, many = await _posted(request, ("specialties", "street_ids"))
    try:
        data = {
            "organization_id": organization_id,
            "name": one.get("name", ""),
            "qualification": one.get("qualification", ""),
            "specialties": many["specialties"],
            "street_ids": _ids(many["street_ids"], "street_ids"),
            "phone": one.get("phone", ""),
            "max_caseload": _count(one.get("max_caseload", ""), "max_caseload", 20),
        }
        await people.create_social_worker(session, principal, _convert(SocialWorkerIn, data))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        return await _people_error(request, session, principal, exc, "worker", one)
    return _again(request, f"{PEOPLE}?saved=1#workers")


@post("/org/teams", name="console-org-team-add")
async def add_team(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    organization_id = own_organization(principal)
    one, many = await _posted(request, ("skills",))
    try:
        street = _ids([one.get("street_id", "")], "street_id") if one.get("street_id") else []
        if not street:
            raise forms.FormError("所在街道：请选择志愿服务队所在的街道", "street_id")
        data = {
            "organization_id": organization_id,
            "street_id": street[0],
            "name": one.get("name", ""),
            "member_count": _count(one.get("member_count", ""), "member_count", 0),
            "skills": many["skills"],
            "contact_name": one.get("contact_name", ""),
            "contact_phone": one.get("contact_phone", ""),
        }
        await people.create_volunteer_team(session, principal, _convert(VolunteerTeamIn, data))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        return await _people_error(request, session, principal, exc, "team", one)
    return _again(request, f"{PEOPLE}?saved=1#teams")


@post("/org/{kind:str}/{item_id:int}/deactivate", name="console-org-people-deactivate")
async def deactivate(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    kind: FromPath[str],
    item_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Take a social worker or a team off the lists (inactive): the plans of later matches no longer name them."""
    own_organization(principal)
    if kind == "workers":
        await people.update_social_worker(session, principal, item_id, SocialWorkerPatch(active=False))
    elif kind == "teams":
        await people.update_volunteer_team(session, principal, item_id, VolunteerTeamPatch(active=False))
    else:
        raise Invalid.field("kind", "未知类别 (unknown kind)")
    return _again(request, f"{PEOPLE}?saved=1#{kind}")


ROUTES = [profile_page, update_profile, people_page, add_worker, add_team, deactivate]
