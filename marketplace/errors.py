"""Domain errors and the one problem+json shape (RFC 9457) every 4xx/5xx takes."""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request, Response
from litestar._signature.model import SignatureModel, _deserializer
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import NotFoundException as LitestarNotFound
from litestar.exceptions import ValidationException as LitestarValidation
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import BodyKwarg
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.serialization import decode_json
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Empty, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from marketplace.observability.context import current_request_id
from search.port import SearchError

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


class BadRequest(DomainError):
    """A request the app cannot read at all (a NUL character, JSON nested too deep)."""

    status_code = 400


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
    request_id = current_request_id()
    if request_id is not None:  # the id the logs of this request carry (marketplace.observability)
        body["request_id"] = request_id
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


# ------------------------------------------------------------ the database out of reach
#
# A request that meets a database it cannot reach (stopped, restarting, the network to it down, every pooled
# connection taken past the pool's timeout) is answered 503 with ``Retry-After``, never 500: the client (a browser,
# a scraper, a load balancer) retries, and nothing was done. What says so, driver by driver:
# - asyncpg (the app's sessions on PostgreSQL): connecting raises the socket's own error (``ConnectionRefusedError``,
#   ``TimeoutError``, ``socket.gaierror``) or asyncpg's connection errors (SQLSTATE class 08, 57P01-57P03 "the
#   server is shutting down / starting up", 53300 too many connections), not wrapped by SQLAlchemy; a pooled
#   connection found dead mid-request is a ``DBAPIError`` SQLAlchemy marks ``connection_invalidated``;
# - psycopg (the hot reads on PostgreSQL): ``OperationalError`` (connection refused, the server shutting down, a lock
#   or statement timeout, a serialization failure);
# - sqlite3: ``OperationalError`` saying so ("unable to open database file", "database is locked" past the busy
#   timeout, a disk I/O error), not one of a query it cannot run ("no such table": a 500);
# - the pool: ``sqlalchemy.exc.TimeoutError`` when no connection came free in time; ``InterfaceError`` on a closed
#   connection.
# An ordinary refusal of the database (a unique key, a value too long, a bad query) is not one of them: an
# ``IntegrityError`` stays a 409 and a ``DataError`` or ``ProgrammingError`` a 500.

DATABASE_UNAVAILABLE = "数据库暂时无法连接，请稍后重试 (database unavailable, retry later)"
DATABASE_BUSY = "数据库繁忙，请稍后重试 (database busy, retry)"
# Seconds a client is asked to wait: an outage (a restart, a failover) takes seconds; a busy database, a moment.
OUTAGE_RETRY_AFTER: Final = 5
BUSY_RETRY_AFTER: Final = 1
# SQLSTATEs of a connection that cannot be had or was lost: class 08 (connection exception) and these.
_OUTAGE_SQLSTATES: Final = frozenset({"57P01", "57P02", "57P03", "53300", "53000"})
# SQLSTATEs of a busy database (a lock not granted, a statement cancelled by its timeout): retry in a moment.
_BUSY_SQLSTATES: Final = frozenset({"55P03", "57014", "40001", "40P01"})
# What sqlite3 says of a database file it cannot use now (its other OperationalErrors are the query's fault).
_SQLITE_OUTAGES: Final = (
    "unable to open database file",
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "locking protocol",
)
# The modules whose frames show that a bare socket error came from reaching the database.
_DATABASE_MODULES: Final = ("asyncpg", "psycopg", "sqlalchemy", "aiosqlite", "sqlite3", "marketplace.db")


def _sqlstate(exc: BaseException) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


def _raised_by_database_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith(_DATABASE_MODULES):
            return True
        tb = tb.tb_next
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, else ``__context__``), at most a few links deep; an exception group
    (concurrent work that failed together) stands for the exceptions in it."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        item: BaseException | None = todo.pop()
        depth = 0
        while item is not None and depth < 8 and all(item is not s for s in seen):
            seen.append(item)
            if isinstance(item, BaseExceptionGroup):
                todo.extend(item.exceptions)
            item = item.__cause__ or item.__context__
            depth += 1
    return seen


def _outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, PoolTimeout | InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        # sqlite3 reports a query it cannot run ("no such table", a syntax error) as an OperationalError too: only
        # these say the file cannot be used now.
        if isinstance(exc.orig, sqlite3.Error):
            return any(sign in str(exc.orig).lower() for sign in _SQLITE_OUTAGES)
        return True
    code = _sqlstate(exc)
    if code is not None and type(exc).__module__.startswith(("asyncpg", "psycopg")):
        return code.startswith("08") or code in _OUTAGE_SQLSTATES
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return _raised_by_database_driver(exc.__traceback__)
    return False


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached or could not answer in time
    (503, retry), rather than that it refused the request (409, 422) or the code is wrong (500)."""
    chain = _chain(exc)
    if any(isinstance(item, IntegrityError) for item in chain):
        return False
    return any(_outage(item) for item in chain)


def database_busy(exc: BaseException) -> bool:
    """A database that answered but could not do it now (SQLite's write lock past its busy timeout, a PostgreSQL
    lock or statement timeout): retry in a moment. Otherwise, an unavailable database is one out of reach."""
    for item in _chain(exc):
        orig = item.orig if isinstance(item, DBAPIError) and item.orig is not None else item
        if "database is locked" in str(orig) or (_sqlstate(orig) or "") in _BUSY_SQLSTATES:
            return True
    return False


def database_outage(request: Request[Any, Any, Any], exc: BaseException) -> tuple[str, int]:
    """What a request that met an unavailable (or busy) database answers: its message and the seconds to wait
    (``Retry-After``). Logged once, without a traceback: the cause is outside this process, the message names it.
    The API answers it as a problem (below), the console as its 503 page (``admin.web``)."""
    busy = database_busy(exc)
    log.warning(
        "database %s on %s %s: %s",
        "busy" if busy else "unavailable",
        request.method,
        request.url.path,
        _describe(exc),
    )
    return (DATABASE_BUSY, BUSY_RETRY_AFTER) if busy else (DATABASE_UNAVAILABLE, OUTAGE_RETRY_AFTER)


def database_unavailable_problem(request: Request[Any, Any, Any], exc: BaseException) -> Response[dict[str, Any]]:
    detail, wait = database_outage(request, exc)
    return problem(503, detail, instance=request.url.path, headers={"Retry-After": str(wait)}, retry_after=wait)


def _describe(exc: BaseException) -> str:
    """The exception's class and the driver's first line (no statement, no parameters: they may hold children's
    data)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__module__}.{type(orig).__name__}: {first[:200]}"


# The search engine out of reach or refusing (Meilisearch down, its indexes not set up, a wrong key): a 503 to
# retry, logged once without a traceback (``/health`` says what is wrong).
SEARCH_UNAVAILABLE = "搜索服务暂时无法使用，请稍后重试 (search unavailable, retry later)"
SEARCH_RETRY_AFTER: Final = 10


def search_unavailable(exc: BaseException) -> bool:
    return any(isinstance(item, SearchError) for item in _chain(exc))


def search_outage(request: Request[Any, Any, Any], exc: BaseException) -> tuple[str, int]:
    """What a request that met an unavailable search engine answers: its message and the seconds to wait."""
    cause = next((item for item in _chain(exc) if isinstance(item, SearchError)), exc)
    log.warning("search unavailable on %s %s: %s", request.method, request.url.path, str(cause)[:300])
    return SEARCH_UNAVAILABLE, SEARCH_RETRY_AFTER


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A 500, unless the database is out of reach or busy (``database_unavailable``) or search is
    (``search_unavailable``): then a 503 to retry."""
    if database_unavailable(exc):
        return database_unavailable_problem(request, exc)
    if search_unavailable(exc):
        detail, wait = search_outage(request, exc)
        return problem(503, detail, instance=request.url.path, headers={"Retry-After": str(wait)}, retry_after=wait)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "服务器内部错误 (internal error)", instance=request.url.path)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    IntegrityError: integrity_error_handler,
    Exception: internal_error_handler,
}


# ------------------------------------------------------------ reading requests
#
# What a client sends is read in one place, before any handler or query sees it:
# - a NUL character (U+0000) is refused: in the path, the query or a header (cookies included) with a 400, in a JSON
#   string or key or a form field with a 422 naming the field; PostgreSQL cannot store it in text and no field of
#   this domain carries one;
# - JSON nested deeper than the decoder's limit is a 400, not a RecursionError;
# - a JSON body is converted to its schema strictly: no string-to-number, number-to-string or other coercion (a
#   money amount sent as ``"100"`` is refused); query and path parameters and form fields stay text converted to
#   their types, as HTTP sends them.

CONSOLE_PATH = "/admin/"
NUL_REFUSED = "请求中含有不允许的空字符 (NUL, U+0000) (a NUL character is not accepted)"
TOO_DEEP = "JSON 嵌套层数过深 (JSON nested too deeply)"


def nul_field(value: Any, path: str = "") -> str | None:
    """Where a decoded JSON or form value holds a NUL character in a string or a key (``donor.name``,
    ``lines[2].name``; ``body`` for the value itself), or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body"
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return name
                stack.append((inner, name))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{where}[{n}]") for n, inner in enumerate(item))
    return None


def refuse_nul(field: str) -> Invalid:
    field = field.replace("\x00", "\\u0000")  # a key holding the NUL is named, not echoed
    return Invalid(NUL_REFUSED, errors=[{"field": field, "message": NUL_REFUSED}])


def refuse_nul_in_url_and_headers(app: ASGIApp) -> ASGIApp:
    """An ASGI middleware: a NUL in the path, the query string or a header value is a 400 before the handler
    (and its layer's error page) sees it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (
            "\x00" in scope["path"]
            or b"\x00" in unquote_to_bytes(scope["query_string"].replace(b"+", b" "))
            # cookies are read percent-decoded (the console's session id)
            or any(b"\x00" in value or (name == b"cookie" and b"%00" in value) for name, value in scope["headers"])
        ):
            raise BadRequest(NUL_REFUSED)
        await app(scope, receive, send)

    return middleware


class CheckedRequest(Request[Any, Any, Any]):
    """The app's request: a JSON body or form field holding a NUL character is refused with a 422 naming the field,
    and JSON nested too deeply is a 400 (not a RecursionError)."""

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            body = await self.body()
            try:
                value = decode_json(body or b"null", type_decoders=self.route_handler.resolve_type_decoders())
            except RecursionError:
                raise BadRequest(TOO_DEEP) from None
            field = nul_field(value) if b"\\u0000" in body else None
            if field is not None:
                raise refuse_nul(field)
            self._json = self._connection_state.json = value
        return await super().json()

    async def form(self) -> FormMultiDict:
        form = await super().form()
        if self.scope["path"].startswith(CONSOLE_PATH):
            # The console's forms take the values as posted: a NUL is refused where the form is handled (the
            # session's guard, ``admin.web``), so the form is shown again in place with the message and the values.
            return form
        for key, value in form.multi_items():
            if "\x00" in key or (isinstance(value, str) and "\x00" in value):
                raise refuse_nul(key)
        return form


def _json_body(model: type[SignatureModel]) -> bool:
    """Whether the handler behind ``model`` takes a JSON body as ``data``."""
    field = model._fields.get("data")
    if field is None:
        return False
    kwarg = field.kwarg_definition
    return not isinstance(kwarg, BodyKwarg) or kwarg.media_type == RequestEncodingType.JSON


_parse_leniently: Callable[..., dict[str, Any]] = SignatureModel.parse_values_from_connection_kwargs.__func__  # type: ignore[attr-defined]


def _parse_strictly(
    cls: type[SignatureModel], connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Litestar's parsing of a handler's arguments, with the JSON body converted strictly first: Litestar converts
    every argument leniently (``strict=False``, right for query strings), which would turn ``"100"`` into 100."""
    if "data" in kwargs and _json_body(cls):
        deserializer = partial(_deserializer, default_deserializer=connection.route_handler.default_deserializer)
        try:
            data = msgspec.convert(
                kwargs["data"], cls.__annotations__["data"], strict=True, dec_hook=deserializer, str_keys=True
            )
        except msgspec.ValidationError as exc:
            raise LitestarValidation(
                detail="请求数据校验失败 (validation failed)",
                extra=[{"key": "data", "message": str(exc), "source": "body"}],
            ) from exc
        kwargs = {**kwargs, "data": data}
    return _parse_leniently(cls, connection, kwargs)


SignatureModel.parse_values_from_connection_kwargs = classmethod(_parse_strictly)  # type: ignore[method-assign,assignment]


# ------------------------------------------------------------ the problems in the OpenAPI schema
#
# Every refusal above answers the one problem document; the schema says so, operation by operation, with the
# statuses that operation can give (schemathesis checks each response against it: tests/fuzz):
# - every operation: 400 (a NUL character in the URL or a header, JSON too deep, a parameter or body that does not
#   decode) and 503 (the database busy or the audit rows of a read not committed: retry);
# - an operation behind a login: 401 (no or a bad token) and 403 (a role that may not, or an account that must
#   first choose its own password);
# - an operation with a path id, or one behind a login with a body or a query naming objects: 404 (not found, or
#   outside the caller's scope);
# - an operation with a body or query parameters: 422 (a rule of the domain refuses the values);
# - a write: 409 (a state that does not allow it, or a conflict with existing data); one with a body: 413;
# - an operation behind a rate-limiting guard: 429 (with Retry-After);
# and whatever a route declares itself with ``responses=problems(...)``.


class FieldProblem(msgspec.Struct, omit_defaults=True):
    field: str
    message: str
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """A refusal (RFC 9457), ``application/problem+json``; some carry more members (``retry_after``,
    ``must_change_password``, ``donation_id``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None
    # The request's X-Request-ID (the client's, or the one made for it): the key to its log lines.
    request_id: str | None = None


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI responses of refusals with ``statuses``: a route's ``responses=problems(401, 429)``."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=TITLES.get(status, "Error"),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def _takes(handler: HTTPRouteHandler, name: str) -> bool:
    """Whether ``handler`` or one of the dependencies it uses (transitively) takes the parameter ``name``."""
    dependencies = handler.resolve_dependencies()
    seen: set[str] = set()
    todo = list(handler.parsed_fn_signature.parameters)
    while todo:
        param = todo.pop()
        if param == name:
            return True
        if param in seen or param not in dependencies:
            continue
        seen.add(param)
        todo.extend(dependencies[param].signature_model._fields)
    return False


RESERVED = frozenset({"data", "request", "state", "headers", "scope", "cookies", "socket"})


def problem_statuses(
    route: HTTPRoute, handler: HTTPRouteHandler, guard_statuses: dict[Any, tuple[int, ...]]
) -> set[int]:
    """The refusals ``handler`` (on ``route``) can answer, by the rules above."""
    params = handler.parsed_fn_signature.parameters
    dependencies = handler.resolve_dependencies()
    body = "data" in params
    path = bool(route.path_parameters)
    queries = (
        any(name not in dependencies and name not in RESERVED and name not in route.path_parameters for name in params)
        or _takes(handler, "page")
        or _takes(handler, "search")
    )
    login = _takes(handler, "principal")
    statuses = {400, 503}
    if path:
        statuses.add(404)
    if login:
        statuses |= {401, 403}
        if body or queries:
            statuses.add(404)
    if body or queries:
        statuses.add(422)
    if handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}:
        statuses.add(409)
        if body:
            statuses.add(413)
    for layer in handler.ownership_layers:  # the guards as declared (resolve_guards() wraps them)
        for guard in layer.guards or ():
            statuses |= set(guard_statuses.get(guard, ()))
    return statuses


class ProblemResponses(ReceiveRoutePlugin):
    """A plugin of the app: gives every operation of its schema the problem responses it can answer, as each route
    is registered (before the schema is built); what a route declares itself stays. ``guard_statuses``: the
    refusals of the guards that refuse with their own status (the rate limits: 429)."""

    def __init__(self, guard_statuses: dict[Any, tuple[int, ...]]) -> None:
        self.guard_statuses = guard_statuses

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            declared = dict(handler.responses or {})
            statuses = problem_statuses(route, handler, self.guard_statuses)
            handler.responses = {**problems(*sorted(statuses)), **declared}
