"""What the account pages share: posted forms turned into the accounts feature's shapes, with messages people read.

A form that does not fit its shape, or that the service refuses as invalid or conflicting, comes back to its page
with a message; the request's transaction is abandoned first, so a refused form changes nothing.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from admin import web
from marketplace.accounts.schemas import OneTimeCodeOut
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, DomainError, Invalid

T = TypeVar("T")

LABELS = {
    "username": "用户名",
    "display_name": "姓名",
    "phone": "手机号",
    "role": "角色",
    "street_id": "街道",
    "community_id": "社区",
    "organization_id": "机构",
    "name": "机构名称",
    "credit_code": "统一社会信用代码",
    "legal_representative": "法定代表人",
    "contact_name": "联系人",
    "contact_phone": "联系人手机",
    "contact_email": "电子邮箱",
    "address": "地址",
    "street_ids": "服务街道",
    "qualifications": "资质说明",
    "reason": "原因",
}
HINTS = {
    "username": "3–80位字母、数字、点、下划线或连字符，以字母或数字开头",
    "display_name": "请填写真实姓名（不超过80字）",
    "phone": "请填写11位中国大陆手机号",
    "contact_phone": "请填写11位中国大陆手机号",
    "credit_code": "应为18位统一社会信用代码（数字和大写字母）",
    "legal_representative": "请填写法定代表人姓名",
    "contact_name": "请填写联系人姓名",
    "name": "请填写机构全称（2–200字）",
    "street_ids": "请至少选择一个服务街道",
    "qualifications": "请填写资质说明（10–5000字）",
    "contact_email": "不超过200字",
    "address": "不超过300字",
}
_AT = re.compile(r"`\$\.([A-Za-z_]+)")
# Errors a person fixes in the form; anything else (forbidden, not found) is the console's error page.
FORM_ERRORS = (Invalid, Conflict)


class FormError(Exception):
    """A posted form that does not fit: the message says which field and what it needs."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def field_message(field: str | None, fallback: str = "表单填写有误") -> str:
    if field is None:
        return fallback
    label = LABELS.get(field, field)
    return f"{label}：{HINTS.get(field, '格式不正确或未填写')}"


def convert(kind: type[T], data: dict[str, Any]) -> T:
    """``data`` as ``kind``, or a ``FormError`` naming the first field that does not fit."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        found = _AT.search(str(exc))
        field = found.group(1) if found else None
        raise FormError(field_message(field), field) from exc


def text(form: dict[str, str], name: str, limit: int = 5000) -> str:
    return form.get(name, "").strip()[:limit]


def optional_id(form: dict[str, str], name: str) -> int | None:
    """An id from a select: empty is none; anything but digits is refused."""
    value = form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise FormError(f"{LABELS.get(name, name)}：请选择列表中的一项", name)
    return int(value)


def error_message(exc: Exception) -> str:
    if isinstance(exc, FormError):
        return exc.message
    if isinstance(exc, DomainError):
        return exc.detail
    return str(exc)


def error_status(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, DomainError) else 422


abandon = web.abandon  # the forms of accounts, applications, services and staff call it as forms.abandon


def code_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    active: str,
    *,
    title: str,
    issued: OneTimeCodeOut,
    display_name: str,
    back: str,
    back_label: str,
    note: str = "",
) -> Response[str]:
    """The one-time code, shown in this response only."""
    return web.render(
        "account_code.html",
        title=title,
        username=issued.username,
        display_name=display_name,
        code=issued.code,
        purpose=issued.purpose,
        expires_at=issued.expires_at,
        back=back,
        back_label=back_label,
        note=note,
        **web.page_context(request, principal, active),
    )
