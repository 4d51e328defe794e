"""Domain errors and the one problem+json shape (RFC 9457) every 4xx/5xx takes."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import NotFoundException as LitestarNotFound
from litestar.exceptions import ValidationException as LitestarValidation
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import IntegrityError, OperationalError

log = logging.getLogger("marketplace")

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "请求无效 Bad Request",
    401: "未登录 Unauthorized",
    403: "无权访问 Forbidden",
    404: "未找到 Not Found",
    405: "方法不允许 Method Not Allowed",
    409: "冲突 Conflict",
    413: "请求过大 Payload Too Large",
    415: "媒体类型不支持 Unsupported Media Type",
    422: "校验失败 Unprocessable Content",
    429: "请求过于频繁 Too Many Requests",
    500: "服务器错误 Internal Server Error",
    503: "服务不可用 Service Unavailable",
}


class DomainError(Exception):
    """A refusal the caller can act on; ``headers`` go out with the problem response (e.g. ``Retry-After``)."""

    status_code = 400

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra


class Invalid(DomainError):
    """The request is well-formed but breaks a rule of the domain."""

    status_code = 422

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(message, errors=[{"field": field, "message": message}])


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class Conflict(DomainError):
    status_code = 409


class TooManyRequests(DomainError):
    status_code = 429

    @classmethod
    def retry_after(cls, detail: str, seconds: int) -> TooManyRequests:
        """Refused for now: the response says when to try again (``Retry-After``, whole seconds, at least 1)."""
        wait = max(int(seconds), 1)
        return cls(detail, headers={"Retry-After": str(wait)}, retry_after=wait)


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(extra: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                key = item.get("key") or item.get("source") or "body"
                message = str(item.get("message", "invalid"))
                field = str(key)
                # msgspec reports "... - at `$.street_ids[0]`": lift the path out as the field.
                if "`$." in message:
                    field = message.split("`$.", 1)[1].rstrip("`").split("`")[0]
                    message = message.split(" - at ", 1)[0]
                errors.append({"field": field, "message": message, "source": item.get("source")})
    return errors


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(
        exc.status_code, exc.detail, instance=request.url.path, errors=exc.errors, headers=exc.headers, **exc.extra
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, LitestarValidation):
        errors = _validation_errors(exc.extra)
        detail = "请求数据校验失败 (validation failed)"
        if errors:
            detail += ": " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(400, detail, instance=request.url.path, errors=errors or None)
    if isinstance(exc, NotAuthorizedException):
        return problem(401, exc.detail or "需要登录", instance=request.url.path, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, PermissionDeniedException | LitestarNotFound):
        return problem(status, exc.detail or TITLES.get(status, ""), instance=request.url.path)
    headers = dict(exc.headers) if exc.headers else None
    return problem(status, exc.detail or TITLES.get(status, "Error"), instance=request.url.path, headers=headers)


def integrity_error_handler(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    log.info("integrity error on %s: %s", request.url.path, exc.orig)
    return problem(409, "与现有数据冲突 (conflicts with existing data)", instance=request.url.path)


def operational_error_handler(request: Request[Any, Any, Any], exc: OperationalError) -> Response[dict[str, Any]]:
    log.warning("database unavailable or busy on %s: %s", request.url.path, exc.orig)
    return problem(
        503,
        "数据库繁忙，请稍后重试 (database busy, retry)",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "服务器内部错误 (internal error)", instance=request.url.path)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    IntegrityError: integrity_error_handler,
    OperationalError: operational_error_handler,
    Exception: internal_error_handler,
}
