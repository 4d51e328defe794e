"""Organizations join by application (机构入驻申请): the public form and the applicant's status page, and the
district's review (approve, reject with a reason, ask for more).

The public pages need no login (like the login page they take no ``principal``) but carry the console's CSRF token
like every other form. The application's reference is the applicant's proof: shown once on the receipt, posted
back (never put in a URL) to read the status or supplement.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace.accounts import applications
from marketplace.accounts.schemas import ApplicationIn, ApplicationOut
from marketplace.auth import ratelimit
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import DomainError, Forbidden, Invalid, TooManyRequests
from marketplace.geography.models import Street
from marketplace.ids import PathId
from marketplace.resources.taxonomy import ORGANIZATION_KINDS

PAGE = 20
STATUSES = {"submitted": "待审核", "needs_more": "待补充材料", "approved": "已通过", "rejected": "未通过"}
FIELDS = (
    "name",
    "credit_code",
    "legal_representative",
    "contact_name",
    "contact_phone",
    "contact_email",
    "address",
    "qualifications",
    "kind",
)


def _readers(principal: Principal) -> None:
    if principal.role not in {"district_admin", "auditor"}:
        raise Forbidden("机构入驻申请审核仅限区民政和审计 (district admins and auditors only)")


def _reviewers(principal: Principal) -> None:
    if principal.role != "district_admin":
        raise Forbidden("仅区民政可审核入驻申请 (district admins only)")


async def _streets(session: AsyncSession) -> list[tuple[int, str]]:
    return [(s.id, s.name) for s in (await session.scalars(select(Street).order_by(Street.id))).all()]


async def application_values(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted application's values (checkbox lists need the multi-valued form), to check or show again."""
    posted = await request.form()
    values: dict[str, Any] = {name: str(posted.get(name) or "").strip()[:6000] for name in FIELDS}
    values["credit_code"] = values["credit_code"].upper()
    raw = [str(v) for v in posted.getall("street_ids")] if "street_ids" in posted else []
    values["street_ids"] = [int(v) for v in raw if v.isdigit() and len(v) <= 12]
    values["bad_streets"] = len(values["street_ids"]) != len(raw)
    return values


def application_in(values: dict[str, Any]) -> ApplicationIn:
    if values.get("bad_streets"):
        raise forms.FormError(forms.field_message("street_ids"), "street_ids")
    data = {k: v for k, v in values.items() if k != "bad_streets" and not (k == "kind" and not v)}
    return forms.convert(ApplicationIn, data)


def _public(request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any) -> Response[str]:
    return web.render(template, status_code=status_code, **context, **web.page_context(request, None, ""))


async def _apply_form(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    return _public(
        request,
        "apply.html",
        status_code=status_code,
        streets=await _streets(session),
        kinds=ORGANIZATION_KINDS,
        v=values or {"street_ids": [], "kind": "social_work_agency"},
        error=error,
    )


@get("/apply", name="console-apply")
async def apply_page(request: Request[Any, Any, Any], session: DbSession) -> Response[str]:
    return await _apply_form(request, session)


def _over_limit(request: Request[Any, Any, Any]) -> TooManyRequests | None:
    """The limit on writes without login, shared with the API (per client address and window)."""
    try:
        ratelimit.anonymous_write(request, request.route_handler)
    except TooManyRequests as exc:
        return exc
    return None


def _with_headers(response: Response[str], exc: TooManyRequests) -> Response[str]:
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


@post("/apply", name="console-apply-post")
async def apply(request: Request[Any, Any, Any], session: DbSession) -> Response[str]:
    values = await application_values(request)
    refused = _over_limit(request)
    if refused is not None:
        page = await _apply_form(request, session, values=values, error=refused.detail, status_code=429)
        return _with_headers(page, refused)
    try:
        data = application_in(values)
        receipt = await applications.submit(session, data)
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _apply_form(
            request, session, values=values, error=forms.error_message(exc), status_code=forms.error_status(exc)
        )
    return _public(request, "apply_receipt.html", receipt=receipt, name=data.name)


async def _status_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    application: ApplicationOut | None,
    reference: str = "",
    *,
    error: str | None = None,
    flash: str | None = None,
    values: dict[str, Any] | None = None,
    number: str = "",
    status_code: int = 200,
) -> Response[str]:
    streets = await _streets(session)
    names = dict(streets)
    return _public(
        request,
        "apply_status.html",
        status_code=status_code,
        app=application,
        reference=reference,
        number=number,
        street_names=[names.get(i, str(i)) for i in application.street_ids] if application else [],
        streets=streets,
        kinds=ORGANIZATION_KINDS,
        v=values or (_values_of(application) if application else {}),
        error=error,
        flash=flash,
    )


def _values_of(application: ApplicationOut) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(application, name, "") for name in FIELDS}
    values["street_ids"] = list(application.street_ids)
    return values


def _lookup(form: dict[str, str]) -> tuple[int, str]:
    number = form.get("number", "").strip()
    reference = form.get("reference", "").strip()[:200]
    if not number.isdigit() or len(number) > 12 or not reference:
        raise forms.FormError("请填写申请编号和查询码")
    return int(number), reference


NOT_FOUND = "申请编号或查询码不正确 (no application with this number and reference)"


@get("/apply/status", name="console-apply-status")
async def status_form(
    request: Request[Any, Any, Any],
    session: DbSession,
    number: Annotated[str, QueryParameter(max_length=12)] = "",
) -> Response[str]:
    return await _status_page(request, session, None, number=number)


@post("/apply/status", name="console-apply-status-post")
async def status_lookup(request: Request[Any, Any, Any], session: DbSession, form: web.ConsoleForm) -> Response[str]:
    try:
        number, reference = _lookup(form)
        found = await applications.status_for_applicant(session, number, reference)
    except forms.FormError as exc:
        return await _status_page(request, session, None, error=exc.message, status_code=422)
    except DomainError:
        await forms.abandon(session)
        return await _status_page(
            request, session, None, error=NOT_FOUND, number=form.get("number", "")[:12], status_code=404
        )
    return await _status_page(request, session, found, reference)


@post("/apply/supplement", name="console-apply-supplement")
async def supplement(request: Request[Any, Any, Any], session: DbSession, form: web.ConsoleForm) -> Response[str]:
    try:
        number, reference = _lookup(form)
    except forms.FormError as exc:
        return await _status_page(request, session, None, error=exc.message, status_code=422)
    values = await application_values(request)
    refused = _over_limit(request)
    if refused is not None:
        page = await _status_page(
            request, session, None, error=refused.detail, number=str(number), values=values, status_code=429
        )
        return _with_headers(page, refused)
    try:
        found = await applications.supplement(session, number, reference, application_in(values))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        try:
            current = await applications.status_for_applicant(session, number, reference)
        except DomainError:
            return await _status_page(request, session, None, error=NOT_FOUND, status_code=404)
        return await _status_page(
            request,
            session,
            current,
            reference,
            error=forms.error_message(exc),
            values=values,
            status_code=forms.error_status(exc),
        )
    except DomainError:
        await forms.abandon(session)
        return await _status_page(request, session, None, error=NOT_FOUND, status_code=404)
    return await _status_page(request, session, found, reference, flash="补充材料已提交，请等待区民政审核")


# ---------------------------------------------------------------- the district's review


@get("/applications", name="console-applications")
async def applications_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    status: Annotated[str, QueryParameter(max_length=20)] = "submitted",
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    _readers(principal)
    if status not in STATUSES:
        raise Invalid.field("status", "未知状态 (unknown status)")
    counts = {
        key: (await applications.list_applications(session, principal, status=key, limit=1))[1] for key in STATUSES
    }
    rows, total = await applications.list_applications(
        session, principal, status=status, limit=PAGE, offset=(page - 1) * PAGE
    )
    names = dict(await _streets(session))
    return web.render(
        "applications.html",
        statuses=STATUSES,
        status=status,
        counts=counts,
        rows=rows,
        street_names={r.id: "、".join(names.get(i, str(i)) for i in r.street_ids) for r in rows},
        page=page,
        pages=max(1, -(-total // PAGE)),
        **web.page_context(request, principal, "applications"),
    )


async def _detail(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    application_id: int,
    *,
    error: str | None = None,
    flash: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response[str]:
    found = await applications.get_application(session, principal, application_id)
    names = dict(await _streets(session))
    return web.render(
        "application.html",
        status_code=status_code,
        app=found,
        street_names=[names.get(i, str(i)) for i in found.street_ids],
        kind_label=ORGANIZATION_KINDS,
        may_review=principal.role == "district_admin" and found.status in ("submitted", "needs_more"),
        error=error,
        flash=flash,
        reason=reason,
        **web.page_context(request, principal, "applications"),
    )


@get("/applications/{application_id:int}", name="console-application")
async def application_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, application_id: PathId
) -> Response[str]:
    _readers(principal)
    return await _detail(request, session, principal, application_id)


@post("/applications/{application_id:int}/approve", name="console-application-approve")
async def approve(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    application_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    _reviewers(principal)
    try:
        done = await applications.approve(session, principal, application_id)
    except forms.FORM_ERRORS as exc:
        await forms.abandon(session)
        return await _detail(request, session, principal, application_id, error=exc.detail, status_code=exc.status_code)
    return forms.code_page(
        request,
        principal,
        "applications",
        title=f"“{done.application.name}”已通过入驻审核",
        issued=done.admin,
        display_name=f"{done.application.contact_name}（机构管理员）",
        back=f"/admin/applications/{application_id}",
        back_label="返回申请",
        note=f"机构已入库；机构管理员账号已创建。请联系 {done.application.contact_name}（{done.application.contact_phone}）告知。",
    )


async def _review(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    application_id: int,
    form: dict[str, str],
    action: str,
) -> Response[str]:
    _reviewers(principal)
    reason = form.get("reason", "").strip()
    try:
        if not reason:
            raise forms.FormError("请填写原因：申请人会在查询页看到它")
        if len(reason) > 2000:
            raise forms.FormError("原因不超过2000字")
        if action == "reject":
            found = await applications.reject(session, principal, application_id, reason)
        else:
            found = await applications.request_more(session, principal, application_id, reason)
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _detail(
            request,
            session,
            principal,
            application_id,
            error=forms.error_message(exc),
            reason=reason[:2000],
            status_code=forms.error_status(exc),
        )
    done = "已退回（未通过）" if action == "reject" else "已请申请人补充材料"
    return await _detail(request, session, principal, found.id, flash=f"“{found.name}”{done}")


@post("/applications/{application_id:int}/reject", name="console-application-reject")
async def reject(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    application_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _review(request, session, principal, application_id, form, "reject")


@post("/applications/{application_id:int}/more", name="console-application-more")
async def request_more(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    application_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _review(request, session, principal, application_id, form, "more")


ROUTES = [
    apply_page,
    apply,
    status_form,
    status_lookup,
    supplement,
    applications_page,
    application_page,
    approve,
    reject,
    request_more,
]
