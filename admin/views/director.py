"""The rest of a child director's day: a need's matches (the score's reasons and the five-society plan) and the
referral sent with consent and the contact fields to share; following the referral (its status, steps and the
provider's delivery log) to the verdict that closes the loop; the notifications; and the mandatory report, three
steps from any page (the header's link, the short form, send).

As everywhere in the console: the matching, referrals, cases and report services with the session's Principal,
the same scope and audit rows as the API's endpoints.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import web
from admin.views.children import my_children, parse, redirect
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import notifications, reports
from marketplace.cases import service as cases
from marketplace.cases.report_schemas import MandatoryReportIn
from marketplace.cases.taxonomy import REPORT_KINDS, SHAREABLE_CONTACT, URGENCY, VERDICTS
from marketplace.deps import AppSettings, CurrentUser, Db, DbSession
from marketplace.errors import Invalid
from marketplace.ids import MAX_ID, PathId
from marketplace.matching import service as matching
from marketplace.referrals import service as referrals
from marketplace.referrals.schemas import ReferralIn, VerdictIn
from marketplace.resources.taxonomy import SERVICE_CATEGORIES

MATCHES = 10
NOTIFICATIONS = 30
# The referral's steps in order, with the time each was reached.
STEPS = (
    ("sent_at", "已发出"),
    ("accepted_at", "机构已接收"),
    ("started_at", "开始服务"),
    ("completed_at", "服务完成"),
    ("closed_at", "回访后结案"),
)
# Where a notification's entity is shown in the console.
ENTITY_PAGES = {
    "referral": "/admin/referrals/{}/follow",
    "child": "/admin/children/{}",
    "need": "/admin/needs/{}/matches",
    "mandatory_report": "/admin/mandatory-reports",
    "safety_warning": "/admin/safety/warnings/{}",
    "intake": "/admin/intakes/{}",
    "conference": "/admin/conferences/{}",
    "families_alert": "/admin/families",
    "fund": "/admin/funds/sources/{}",
}
# An organization's staff work referrals in their inbox, not on the caseworker's page.
ORG_PAGES = {"referral": "/admin/referrals/inbox#inbox-card-{}"}


def page_of(principal: Principal, entity: str, entity_id: int) -> str | None:
    """Where the console shows a notification's subject to this reader, None when it has no page."""
    pages = {**ENTITY_PAGES, **ORG_PAGES} if principal.role == "org_staff" else ENTITY_PAGES
    return pages[entity].format(entity_id) if entity in pages else None


COMPONENT_LABELS = {
    "category_fit": "类别匹配",
    "locality": "就近",
    "provider_record": "机构履约",
    "freshness": "信息新鲜度",
    "funding": "资金保障",
    "continuity": "服务连续",
    "capacity": "名额余量",
}


# ---------------------------------------------------------------- matches and the referral


@get("/needs/{need_id:int}/matches", name="console-need-matches")
async def matches_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    db: Db,
    principal: CurrentUser,
    settings: AppSettings,
    need_id: PathId,
) -> Response[str]:
    need = await cases.read_need(session, principal, need_id)
    child = await cases.visible_child(session, principal, need.child_id)
    # The page names the child (the summary's name and consent): one read row, as a file read writes.
    await audit.record_read(session, principal, "read", "child", [child.id], ["name", "consent_to_share"])
    # The match endpoint's own call (its scope: a matcher who may read the need; 409 for a need not open).
    _, candidates, eligible = await matching.match_need(db, session, principal, settings, need_id, MATCHES)
    return web.render(
        "matches.html",
        need=need,
        need_label=SERVICE_CATEGORIES.get(need.category, need.category),
        urgency_label=URGENCY.get(need.urgency, str(need.urgency)),
        child=child,
        candidates=[
            {
                "service_id": c.scored.service.service_id,
                "title": c.scored.service.title,
                "organization": c.scored.service.organization_name,
                "score": c.scored.score,
                "reasons": c.scored.reasons,
                "components": [
                    (COMPONENT_LABELS.get(k, k), v) for k, v in c.scored.components.items() if k in COMPONENT_LABELS
                ],
                "plan": c.plan,
            }
            for c in candidates
        ],
        eligible=eligible,
        shareable=SHAREABLE_CONTACT,
        may_refer=need.status == "open"
        and principal.role in ("child_director", "child_supervisor")
        and referrals_allowed(principal, need.community_id, need.street_id),
        **web.page_context(request, principal, "children"),
    )


def referrals_allowed(principal: Principal, community_id: int, street_id: int) -> bool:
    return (principal.role == "child_director" and principal.community_id == community_id) or (
        principal.role == "child_supervisor" and principal.street_id == street_id
    )


@post("/needs/{need_id:int}/refer", name="console-need-refer")
async def refer(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    need_id: PathId,
) -> Response[str]:
    """Send the need to the chosen service (POST /referrals): the service checks the consent, the pair again and
    the contact fields shared."""
    posted = await request.form()
    share = [str(v) for v in posted.getall("share_contact", []) if isinstance(v, str)]
    service = str(posted.get("service_id") or "")
    if not service.isdigit() or not 1 <= int(service) <= MAX_ID:
        raise Invalid.field("service_id", "请选择服务 (choose a service)")
    note = str(posted.get("share_note") or "").strip()
    data = parse(
        ReferralIn,
        {"need_id": need_id, "service_id": int(service), "share_note": note or None, "share_contact": share},
    )
    r = await referrals.send(session, principal, settings, data)
    return redirect(request, f"/admin/referrals/{r.id}/follow?done=sent")


# ---------------------------------------------------------------- following a referral

DONE = {"sent": "转介已发出，等待机构答复", "closed": "已结案：闭环完成"}


@get("/referrals/{referral_id:int}/follow", name="console-referral-follow")
async def referral_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    referral_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    # GET /referrals/{id} and its /logs: the same scope, presenter and audit rows.
    found = await referrals.load(session, principal, referral_id)
    (r,) = await referrals.present(session, principal, settings, [found], action="read")
    logs, logs_total = await referrals.list_logs(session, principal, referral_id, limit=100, offset=0)
    steps = [(label, getattr(r, attr)) for attr, label in STEPS]
    return web.render(
        "referral.html",
        r=r,
        steps=steps,
        logs=logs,
        logs_total=logs_total,
        verdicts=VERDICTS,
        shareable=SHAREABLE_CONTACT,
        may_close="close" in r.allowed_transitions,
        messages=[("ok", DONE[done])] if done in DONE else [],
        **web.page_context(request, principal, "children" if principal.role == "child_director" else "referrals"),
    )


@post("/referrals/{referral_id:int}/verdict", name="console-referral-verdict")
async def close_with_verdict(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    referral_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Confirm the outcome after the follow-up visit and close the loop (POST /referrals/{id}/close)."""
    verdict = form.get("verdict", "")
    if verdict not in VERDICTS:
        raise Invalid.field("verdict", "请选择回访结论 (choose the verdict)")
    data = parse(
        VerdictIn,
        {
            "verdict": verdict,
            "note": form.get("note", "").strip(),
            "reopen_need": form.get("reopen_need", "") in ("1", "on", "true"),
        },
    )
    await referrals.transition(session, principal, referral_id, "close", verdict=data)
    return redirect(request, f"/admin/referrals/{referral_id}/follow?done=closed")


# ---------------------------------------------------------------- notifications


@get("/notifications", name="console-notifications")
async def notifications_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    unread: Annotated[bool | None, QueryParameter()] = None,
) -> Response[str]:
    rows, total, unread_count = await notifications.list_for(
        session, principal, unread=unread, limit=NOTIFICATIONS, offset=(page - 1) * NOTIFICATIONS
    )
    items = [
        {
            "id": n.id,
            "title": n.title,
            "body": n.body,
            "at": n.created_at,
            "read": n.read_at is not None,
            "href": page_of(principal, n.entity, n.entity_id),
        }
        for n in rows
    ]
    return web.render(
        "notifications.html",
        items=items,
        total=total,
        unread_count=unread_count,
        unread=bool(unread),
        page=page,
        pages=max(1, -(-total // NOTIFICATIONS)),
        query="unread=true" if unread else "",
        **web.page_context(request, principal, "notifications"),
    )


@post("/notifications/{notification_id:int}/read", name="console-notification-read")
async def notification_read(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    notification_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    """Mark it read (POST /notifications/{id}/read) and open what it is about."""
    n = await notifications.mark_read(session, principal, notification_id)
    target = page_of(principal, n.entity, n.entity_id) or "/admin/notifications"
    return redirect(request, target)


# ---------------------------------------------------------------- the mandatory report


@get("/report", name="console-report-new")
async def report_form(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
) -> Response[str]:
    """Step two of three: the short form (the child, what happened, where, whether the police know)."""
    principal.require("child_director", "child_supervisor")
    chosen = None
    if child is not None:
        chosen = await cases.visible_child(session, principal, child)
    return web.render(
        "report_new.html",
        children=await my_children(session, principal),
        chosen=chosen.id if chosen else None,
        kinds=REPORT_KINDS,
        **web.page_context(request, principal, "report"),
    )


@post("/report", name="console-report-create")
async def report_create(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    """Step three: send it (POST /mandatory-reports): the street's supervisor and the district are told at once."""
    child = form.get("child_id", "").strip()
    if child and not (child.isdigit() and 1 <= int(child) <= MAX_ID):
        raise Invalid.field("child_id", "请选择儿童 (choose a child)")
    values: dict[str, Any] = {
        "kind": form.get("kind", ""),
        "description": form.get("description", "").strip(),
        "place": form.get("place", "").strip(),
        "police_notified": form.get("police_notified", "") in ("1", "on", "true"),
    }
    if child:
        values["child_id"] = int(child)
    else:
        values["subject_name"] = form.get("subject_name", "").strip()
        values["subject_description"] = form.get("subject_description", "").strip()
        if not (values["subject_name"] or values["subject_description"]):
            raise Invalid.field("subject_name", "未建档儿童请填写姓名或特征描述 (a name or a description)")
        if not values["place"]:
            raise Invalid.field("place", "未建档儿童请填写发现地点 (the place they were found)")
    if values["kind"] not in REPORT_KINDS:
        raise Invalid.field("kind", "请选择报告类型 (choose the kind)")
    if not values["description"]:
        raise Invalid.field("description", "请填写情况说明 (describe what happened)")
    data = parse(MandatoryReportIn, values)
    report, _ = await reports.create(session, principal, settings, data)
    if report.child_id is not None:
        return redirect(request, f"/admin/children/{report.child_id}?done=report")
    return redirect(request, "/admin/mandatory-reports")


ROUTES = [
    matches_page,
    refer,
    referral_page,
    close_with_verdict,
    notifications_page,
    notification_read,
    report_form,
    report_create,
]
