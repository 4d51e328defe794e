"""The child director's day on a phone: my children (cards: risk, next visit, open needs and referrals, warnings),
opening a file (the identity number checked as it is typed, the guardian's consent recorded), and a child's page
(summary, closed-loop timeline, visits, needs, referrals) with the quick visit record, a new need, the consent and
the audited reveal of the guardian's contact.

Every read and write goes through the cases and referrals services with the session's Principal, as the API
controllers call them, so the console keeps their scope (a child outside it is 404) and writes their audit rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views import conferences as conference_views
from admin.views import families
from admin.views import places as places_view
from admin.views import safety as safety_view
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import retention
from marketplace.cases import service as cases
from marketplace.cases.controllers import child_out, need_out, visit_out
from marketplace.cases.schemas import ChildIn, ChildPatch, NeedIn, VisitIn
from marketplace.cases.taxonomy import GENDERS, GUARDIANSHIP, REPORT_KINDS, RISK_LEVELS, URGENCY, VISIT_KINDS
from marketplace.cases.transfer_schemas import ContactRevealIn
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.guardianship import service as guardianship_service
from marketplace.ids import PathId
from marketplace.intake import service as intakes
from marketplace.referrals import service as referrals
from marketplace.referrals import timeline
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES

PAGE = 30
# A visit due within this many days is flagged "due soon" on the cards.
DUE_SOON_DAYS = 7
# What a page of the child's lists shows (the file's history beyond it is in the API).
SHOWN = 50
# Field labels for the messages of a form a schema refused.
LABELS = {
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "id_number": "身份证号",
    "categories": "儿童类别",
    "guardianship": "监护方式",
    "risk_level": "风险等级",
    "school": "学校",
    "household_notes": "家庭情况",
    "guardian_name": "监护人姓名",
    "guardian_relation": "与儿童关系",
    "guardian_phone": "监护人电话",
    "address": "家庭住址",
    "share_note": "可共享说明",
    "visited_on": "走访日期",
    "kind": "方式",
    "findings": "走访发现",
    "next_visit_due": "下次走访",
    "category": "需求类别",
    "urgency": "紧急程度",
    "note": "说明",
    "reason": "理由",
    "description": "情况说明",
    "place": "地点",
    "subject_name": "姓名",
    "subject_description": "特征描述",
}

S = TypeVar("S")


def parse(schema: type[S], values: Mapping[str, Any]) -> S:
    """A posted form as the API's request schema, refused with a Chinese message naming the field."""
    return web.parse_form(schema, values, LABELS)


redirect = web.after_change


_text = web.posted


def _date(values: Mapping[str, Any], name: str) -> dt.date | None:
    text = _text(values, name)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid.field(name, f"“{LABELS.get(name, name)}”不是有效日期 (not a date)") from None


# ---------------------------------------------------------------- my children


def _card(row: Any, needs: int, counts: dict[str, int], today: dt.date) -> dict[str, Any]:
    overdue = (today - row.next_visit_due).days if row.status == "active" and row.next_visit_due < today else 0
    warnings: list[str] = []
    if overdue:
        warnings.append(f"走访逾期 {overdue} 天")
    elif row.status == "active" and (row.next_visit_due - today).days <= DUE_SOON_DAYS:
        warnings.append(f"{(row.next_visit_due - today).days} 天内应走访")
    if counts.get("escalated"):
        warnings.append(f"{counts['escalated']} 个转介超时未办，已升级督办")
    if counts.get("awaiting_verdict"):
        warnings.append(f"{counts['awaiting_verdict']} 个转介服务已完成，待回访确认")
    return {
        "id": row.id,
        "name": row.name,
        "gender": GENDERS.get(row.gender, row.gender),
        "age": cases.age_on(row.birth_date, today),
        "risk_level": row.risk_level,
        "risk": RISK_LEVELS.get(row.risk_level, row.risk_level),
        "categories": [CHILD_CATEGORIES.get(c, c) for c in row.categories or []],
        "last_visit_on": row.last_visit_on,
        "next_visit_due": row.next_visit_due,
        "overdue_days": overdue,
        "open_needs": needs,
        "open_referrals": counts.get("open", 0),
        "awaiting_verdict": counts.get("awaiting_verdict", 0),
        "warnings": warnings,
        "status": row.status,
    }


@get("/children", name="console-children")
async def children_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    q: Annotated[str | None, QueryParameter(max_length=80)] = None,
    risk: Annotated[str | None, QueryParameter(max_length=20)] = None,
    overdue: Annotated[bool | None, QueryParameter()] = None,
) -> Response[str]:
    if risk and risk not in RISK_LEVELS:
        raise Invalid.field("risk", f"未知风险等级 {risk} (unknown risk level)")
    filters = cases.ChildFilters(
        status="active", risk_level=risk or None, overdue=overdue or None, q=(q or "").strip() or None
    )
    # The cases service's scope and audit rows (a role without children's data gets its 403).
    rows, total = await cases.list_children(session, principal, filters, limit=PAGE, offset=(page - 1) * PAGE)
    ids = [r.id for r in rows]
    needs = await cases.open_need_counts(session, principal, ids)
    counts = await referrals.counts_by_child(session, principal, ids)
    today = clock.today()
    cards = [_card(r, needs.get(r.id, 0), counts.get(r.id, {}), today) for r in rows]
    # The ones to act on first: overdue, then awaiting a verdict, then by the next visit.
    cards.sort(key=lambda c: (-c["overdue_days"], -c["awaiting_verdict"], c["next_visit_due"], c["id"]))
    query = urlencode(
        [
            (k, v)
            for k, v in (("q", (q or "").strip()), ("risk", risk or ""), ("overdue", "true" if overdue else ""))
            if v
        ]
    )
    return web.render(
        "children.html",
        cards=cards,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        q=q or "",
        risk=risk or "",
        overdue=bool(overdue),
        risks=RISK_LEVELS,
        query=query,
        may_file=principal.role == "child_director",
        # The district sees the retention rule at work: closed files due for deletion, and when (counts only).
        retention=await retention.overview(session, settings) if principal.role == "district_admin" else None,
        **web.page_context(request, principal, "children"),
    )


# ---------------------------------------------------------------- opening a file


def _new_form_context(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "values": dict(values or {}),
        "genders": GENDERS,
        "guardianships": GUARDIANSHIP,
        "risks": RISK_LEVELS,
        "child_categories": CHILD_CATEGORIES,
        "today": clock.today(),
    }


@get("/children/new", name="console-child-new")
async def new_child_page(request: Request[Any, Any, Any], principal: CurrentUser) -> Response[str]:
    principal.require("child_director")
    return web.render(
        "child_new.html", error=None, **_new_form_context(), **web.page_context(request, principal, "children")
    )


# A check that changes nothing: a read-only session, no write lock.
@post("/children/new/check", name="console-child-check", opt={"read_only": True})
async def check_id(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    """The identity number as it is typed (htmx): its checksum, its birth date and gender against the ones
    given, and whether it has a file already; the answer is a fragment beside the field."""
    number = _text(form, "id_number").upper()
    if len(number) < 18:
        return web.render("_id_check.html", typed=len(number), result=None)
    try:
        birth = _date(form, "birth_date")
    except Invalid:
        birth = None
    gender = _text(form, "gender")
    result = await cases.check_id_number(
        session, principal, settings, number, birth_date=birth, gender=gender if gender in GENDERS else None
    )
    return web.render("_id_check.html", typed=len(number), result=result, genders=GENDERS)


@post("/children/new", name="console-child-create")
async def create_child(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    principal.require("child_director")
    posted = await request.form()
    values: dict[str, Any] = {k: str(v).strip() for k, v in posted.items() if isinstance(v, str) and k != "categories"}
    values.pop("_csrf_token", None)
    categories = [str(v) for v in posted.getall("categories", []) if isinstance(v, str)]
    consent = values.pop("consent_to_share", "") in ("1", "on", "true")
    try:
        if not categories:
            raise Invalid.field("categories", "请至少选择一个儿童类别 (choose at least one category)")
        data = parse(
            ChildIn,
            {
                **{k: v for k, v in values.items() if k in ChildIn.__struct_fields__},
                "community_id": principal.community_id or 0,
                "id_number": values.get("id_number", "").upper(),
                "categories": categories,
                "consent_to_share": consent,
            },
        )
        # The service checks everything again (checksum, birth date, one person one file) and audits the creation.
        child, warnings = await cases.create_child(session, principal, settings, data)
    except forms.FORM_ERRORS as exc:
        # A plain form gets the page again with what was typed; an htmx form keeps it and shows the message.
        return await web.render_form_error(
            request,
            session,
            exc,
            "child_new.html",
            principal=principal,
            active="children",
            **_new_form_context({**values, "categories": categories, "consent_to_share": consent}),
        )
    suffix = "&warn=duplicate" if any(w.code == "possible_duplicate" for w in warnings) else ""
    return redirect(request, f"/admin/children/{child.id}?done=created{suffix}")


# ---------------------------------------------------------------- a child's page

DONE = {
    "created": "档案已建立",
    "visit": "走访已记录，下次走访日期已按风险等级计算",
    "need": "需求已登记，可以为它匹配服务",
    "consent": "已记录监护人同意",
    "report": "强制报告已提交，街道督导员和区民政局已收到通知",
    "safety": "十防检查已记录，安全预警已按检查结果更新",
}


@get("/children/{child_id:int}", name="console-child")
async def child_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    warn: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    # The same reads, scope and audit rows as GET /children/{id}, /timeline, /visits, /needs and /referrals.
    child = await cases.read_child(session, principal, child_id)
    out = child_out(child, settings, principal.role)
    loop = await timeline.build(session, principal, child.id)
    visits, _, visits_total = await cases.list_visits(session, principal, child.id, limit=SHOWN, offset=0)
    needs, _ = await cases.list_needs(
        session, principal, status=None, street_id=None, child_id=child.id, category=None, limit=SHOWN, offset=0
    )
    found, _ = await referrals.list_referrals(
        session, principal, status=None, organization_id=None, need_id=None, child_id=child.id, limit=SHOWN, offset=0
    )
    shown = await referrals.present(session, principal, settings, found, action="list")
    about, _ = await intakes.list_intakes(session, principal, child_id=child.id, limit=SHOWN, offset=0)
    director = principal.role == "child_director" and principal.community_id == child.community_id
    guardianship = await guardianship_service.child_guardianship(session, principal, child.id)
    messages = []
    if done in DONE:
        messages.append(("ok", DONE[done]))
    if warn == "duplicate":
        messages.append(("warn", "本社区已有同名同出生日期的儿童档案，请核实是否重复建档"))
    today = clock.today()
    return web.render(
        "child.html",
        child=out,
        stages=loop.stages,
        events=list(reversed(loop.events)),
        visits=[visit_out(v, child) for v in visits],
        visits_total=visits_total,
        needs=[need_out(n) for n in needs],
        referrals=shown,
        director=director,
        may_reveal=director or (principal.role == "child_supervisor" and principal.street_id == child.street_id),
        messages=messages,
        today=today,
        visit_kinds=VISIT_KINDS,
        risks=RISK_LEVELS,
        categories=SERVICE_CATEGORIES,
        urgencies=URGENCY,
        report_kinds=REPORT_KINDS,
        guardianship=guardianship,
        **await safety_view.child_section(session, principal, child),
        families=await families.section(request, session, principal, child),
        places=await places_view.section(session, principal, child),
        child_intakes=await intakes.present(session, principal, about),
        **await conference_views.child_section(session, principal, child),
        **web.page_context(request, principal, "children"),
    )


@post("/children/{child_id:int}/visits", name="console-child-visit")
async def record_visit(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """The quick visit record: findings, the risk reassessed (the file's tier changes first, so the next visit
    the service computes from this one follows the new tier), and an earlier next visit if the director plans one."""
    data = parse(
        VisitIn,
        {
            "visited_on": _text(form, "visited_on") or clock.today().isoformat(),
            "kind": _text(form, "kind") or "home",
            "findings": _text(form, "findings"),
            "next_visit_due": _text(form, "next_visit_due") or None,
        },
    )
    risk = _text(form, "risk_level")
    if risk:
        if risk not in RISK_LEVELS:
            raise Invalid.field("risk_level", f"未知风险等级 {risk} (unknown risk level)")
        child = await cases.visible_child(session, principal, child_id)
        if risk != child.risk_level:
            await cases.update_child(session, principal, settings, child_id, ChildPatch(risk_level=risk))  # type: ignore[arg-type]
    await cases.create_visit(session, principal, settings, child_id, data)
    return redirect(request, f"/admin/children/{child_id}?done=visit#visits")


@post("/children/{child_id:int}/needs", name="console-child-need")
async def add_need(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    data = parse(
        NeedIn, {"category": _text(form, "category"), "urgency": _text(form, "urgency"), "note": _text(form, "note")}
    )
    await cases.create_need(session, principal, child_id, data)
    return redirect(request, f"/admin/children/{child_id}?done=need#needs")


@post("/children/{child_id:int}/consent", name="console-child-consent")
async def record_consent(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """The guardian's consent to share the file with providers, recorded today (as PATCH /children/{id})."""
    patch = ChildPatch(consent_to_share=True)
    note = _text(form, "share_note")
    if note:
        patch = parse(ChildPatch, {"consent_to_share": True, "share_note": note})
    await cases.update_child(session, principal, settings, child_id, patch)
    return redirect(request, f"/admin/children/{child_id}?done=consent")


@post("/children/{child_id:int}/contact", name="console-child-contact")
async def reveal_contact(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """The guardian's phone and address in clear, with the reason in the audit log (POST /children/{id}/contact)."""
    reason = _text(form, "reason")
    if not reason:
        raise Invalid.field("reason", "请说明查看理由 (state the reason)")
    data = parse(ContactRevealIn, {"reason": reason})
    contact = await cases.reveal_contact(session, principal, settings, child_id, data.reason)
    return web.render("_contact.html", contact=contact)


async def my_children(session: AsyncSession, principal: Principal, limit: int = 200) -> list[Any]:
    """The caller's active children by name (for choosing one in a form), audited as the list is."""
    rows, _ = await cases.list_children(session, principal, cases.ChildFilters(status="active"), limit=limit, offset=0)
    return sorted(rows, key=lambda r: (r.name, r.id))


ROUTES = [
    children_page,
    new_child_page,
    check_id,
    create_child,
    child_page,
    record_visit,
    add_need,
    record_consent,
    reveal_contact,
]
