"""Notifications outside the app in the console: each person's own settings (``/admin/account/notifications``:
email and SMS, which groups, the address and mobile, quiet hours, a test message) and the district's view of
delivery (``/admin/messaging``: counts of the last seven days and the recent failures, no message bodies).

Everything goes through ``marketplace.messaging.service``, as the API does."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from sqlalchemy import select

from admin import web
from marketplace.auth.models import User
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import DomainError, Invalid
from marketplace.messaging import ports, service, templates
from marketplace.messaging.schemas import PreferencesIn

PAGE = "/admin/account/notifications"
FLASHES = {
    "saved": "通知设置已保存。",
    "email": "测试邮件已发出，请查收。",
    "sms": "测试短信已发出，请查收。",
}
FIELDS = ("email_groups", "sms_groups", "email", "mobile", "quiet_start", "quiet_end")


def _context(available: set[str], phone: str | None) -> dict[str, Any]:
    return {
        "choices": templates.CHOICES,
        "email_available": "email" in available,
        "sms_available": "sms" in available,
        "account_mobile": service.default_mobile(phone),
    }


async def _phone(session: Any, user_id: int) -> str | None:
    phone: str | None = await session.scalar(select(User.phone).where(User.id == user_id))
    return phone


@get("/account/notifications", name="console-account-notifications")
async def preferences_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    available = set(ports.channels(settings))
    prefs = await service.get_preferences(session, principal, available)
    values = {f: getattr(prefs, f) or "" for f in FIELDS}
    return web.render(
        "messaging_preferences.html",
        v=values,
        flash=FLASHES.get(request.query_params.get("done", "")),
        **_context(available, await _phone(session, principal.user_id)),
        **web.page_context(request, principal, "account_notifications"),
    )


def _posted(form: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {f: form.get(f, "").strip()[:300] for f in FIELDS}
    return values


def _parse(values: dict[str, Any]) -> PreferencesIn:
    body = {**values, "quiet_start": values["quiet_start"] or None, "quiet_end": values["quiet_end"] or None}
    try:
        return msgspec.convert(body, PreferencesIn)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = next((f for f in FIELDS if f"$.{f}" in text), "")
        messages = {
            "email_groups": "请选择邮件接收范围",
            "sms_groups": "请选择短信接收范围",
            "email": "邮箱地址过长",
            "mobile": "手机号应为11位大陆手机号，如 13800138000",
            "quiet_start": "请填写 HH:MM 格式的时间，如 22:00",
            "quiet_end": "请填写 HH:MM 格式的时间，如 07:00",
        }
        raise Invalid.field(field or "email", messages.get(field, "表单填写有误")) from None


@post("/account/notifications", name="console-account-notifications-post")
async def save_preferences(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    available = set(ports.channels(settings))
    values = _posted(form)
    try:
        await service.put_preferences(session, principal, _parse(values), available)
    except DomainError as exc:
        phone = await _phone(session, principal.user_id)
        return await web.render_form_error(
            request,
            session,
            exc,
            "messaging_preferences.html",
            principal=principal,
            active="account_notifications",
            v=values,
            **_context(available, phone),
        )
    return Response(content="", status_code=303, headers={"location": f"{PAGE}?done=saved", **web.SECURITY_HEADERS})


@post("/account/notifications/test", name="console-account-notifications-test")
async def send_test(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    channel = form.get("channel", "")
    chans = ports.channels(settings)
    try:
        if channel not in service.CHANNELS:
            raise Invalid.field("channel", "请选择邮件或短信")
        await service.send_test(session, principal, chans, channel, settings)
    except DomainError as exc:
        available = set(chans)
        prefs = await service.get_preferences(session, principal, available)
        phone = await _phone(session, principal.user_id)
        return await web.render_form_error(
            request,
            session,
            exc,
            "messaging_preferences.html",
            principal=principal,
            active="account_notifications",
            v={f: getattr(prefs, f) or "" for f in FIELDS},
            **_context(available, phone),
        )
    return Response(content="", status_code=303, headers={"location": f"{PAGE}?done={channel}", **web.SECURITY_HEADERS})


@get("/messaging", name="console-messaging")
async def delivery_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    stats = await service.stats(session, principal)
    table: dict[str, dict[str, int]] = {c: {} for c in service.CHANNELS}
    for row in stats.counts:
        table.setdefault(row.channel, {})[row.status] = row.count
    return web.render(
        "messaging.html",
        stats=stats,
        table=table,
        channels=service.CHANNEL_LABELS,
        statuses=service.STATUS_LABELS,
        labels={k: templates.template_for(k).label for k in {f.kind for f in stats.failures}},
        available=set(ports.channels(settings)),
        **web.page_context(request, principal, "messaging"),
    )


ROUTES = [preferences_page, save_preferences, send_test, delivery_page]
