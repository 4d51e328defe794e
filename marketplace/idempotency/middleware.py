"""The HTTP side of idempotency keys: which requests take a key, where it is read, how an answer is replayed.

Three hooks, registered by the app factory (and the console's router):

* ``IdempotencyMiddleware`` (ASGI, per route): reads the key (the ``Idempotency-Key`` header; on the console the
  hidden ``_idempotency_key`` field every rendered form carries), claims it (``service.claim``) or answers at once
  (the replay, with ``Idempotent-Replayed: true``, or a 409/422/400 problem), and forgets the claim of a request
  that failed.
* ``capture`` (the app's ``after_request``): the handler's answer, encoded, kept for the request's transaction.
* ``store_answer`` (called by the app's session dependency just before it commits): the answer written with the
  write (``service.store``).

The pending claim travels from the middleware to the hooks in a context variable: Litestar runs the handler, its
dependencies (resolved in order: ``marketplace.app``) and its hooks in the middleware's own task.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.serialization import get_serializer
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.helpers import get_enum_string_value
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import operations as audit_operations
from marketplace.auth.models import User
from marketplace.auth.ratelimit import client_address
from marketplace.auth.service import decode_claims
from marketplace.db import Database
from marketplace.errors import Conflict, DomainError, Invalid, problems
from marketplace.idempotency import service
from marketplace.idempotency.service import Answer, Claim

# The API's action POSTs that answer 200 but create records a retry would make twice (payments, reversals, steps,
# referrals, revisions, corrections, reminders). Every POST answering 201 or 202 takes a key as well.
CREATING_ACTIONS = frozenset(
    {
        "payAllowanceRun",
        "reverseDisbursement",
        "addReportStep",
        "dispatchMatchingRun",
        "proposeServiceRevision",
        "resolveReconciliationDifference",
        "remindEscalation",
    }
)
# The console's POSTs that take no key: signing in and out and choosing a password (their answer sets a cookie).
CONSOLE_UNKEYED = frozenset(
    {
        "console-login-post",
        "console-logout",
        "console-password-post",
        "console-password-set-post",
        "console-activate-post",
    }
)


def takes_key(handler: HTTPRouteHandler) -> bool:
    """Whether an API operation honours ``Idempotency-Key`` (it is documented on exactly these)."""
    if "POST" not in handler.http_methods or handler.opt.get("read_only") or not handler.resolve_include_in_schema():
        return False
    return handler.status_code in (201, 202) or handler.operation_id in CREATING_ACTIONS


def console_takes_key(handler: HTTPRouteHandler) -> bool:
    return "POST" in handler.http_methods and not handler.opt.get("read_only") and handler.name not in CONSOLE_UNKEYED


# How long a console form's second submit waits for its first before answering 409.
CONSOLE_WAIT_SECONDS = 10.0


@dataclass
class _Pending:
    claim: Claim
    handler: HTTPRouteHandler
    answer: Answer | None = field(default=None)


_PENDING: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar("idempotency_pending", default=None)


def _client(request: Request[Any, Any, Any]) -> str:
    """An anonymous caller: their address, read as the anonymous write limit reads it (behind a trusted proxy, from
    ``X-Forwarded-For``)."""
    peer = request.client.host if request.client else None
    settings = request.app.state.settings
    address = client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
    return f"anon:{address or 'unknown'}"


class IdempotencyMiddleware:
    """For the API (``console=False``: the header, the caller from the bearer token) or the console's router
    (``console=True``, inside its session middleware: the form field or the header, the caller from the session)."""

    def __init__(self, app: ASGIApp, console: bool = False) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if (
            scope["type"] != ScopeType.HTTP
            or scope.get("method") != "POST"
            or not isinstance(handler, HTTPRouteHandler)
            or not (console_takes_key(handler) if self.console else takes_key(handler))
        ):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        raw = request.headers.get(service.HEADER)
        fingerprint_body: bytes
        if self.console:
            form = await request.form()  # parsed already by the CSRF check; kept for the handler
            if raw is None:
                field_value = form.get(service.FORM_FIELD)
                raw = field_value if isinstance(field_value, str) else None
            fingerprint_body = _form_fingerprint(list(form.multi_items())) if raw is not None else b""
        else:
            fingerprint_body = await request.body() if raw is not None else b""
        if raw is None:
            await self.app(scope, receive, send)
            return
        key = service.check_key(raw)
        owner = self._owner(scope, request)
        if owner is None:  # a token the request will be refused for: nothing to claim
            await self.app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        fingerprint = service.request_hash("POST", scope["path"], scope.get("query_string", b""), fingerprint_body)
        try:
            outcome = await self._claim(state.db, owner, key, scope["path"], fingerprint)
        except (Invalid, Conflict) as exc:
            if not self.console:
                raise
            words = service.FORM_REUSED if isinstance(exc, Invalid) else service.FORM_IN_FLIGHT
            raise type(exc)(words, headers=exc.headers) from None
        if isinstance(outcome, Answer):
            await _audit_replay(scope, handler, owner)
            await _replay(outcome, send)
            return
        pending = _Pending(outcome, handler)
        released = False

        async def watch(message: Message) -> None:
            nonlocal released
            if message["type"] == "http.response.start" and (message["status"] >= 400 or not outcome.stored):
                # A failed request's key is free again before its answer leaves: the corrected retry may use it.
                await service.release(state.db, outcome)
                released = True
            await send(message)

        token = _PENDING.set(pending)
        try:
            await self.app(scope, receive, watch)
        finally:
            _PENDING.reset(token)
            if not released and not outcome.stored:  # no answer was sent at all
                await service.release(state.db, outcome)

    async def _claim(self, db: Database, owner: str, key: str, path: str, fingerprint: str) -> Claim | Answer:
        """The API answers a request still running under the key with 409 at once (the client retries); a console
        form submitted twice (a double click) waits for the first submit and shows its page."""
        waited = 0.0
        while True:
            try:
                return await service.claim(db, owner, key, "POST", path, fingerprint)
            except Conflict:
                if not self.console or waited >= CONSOLE_WAIT_SECONDS:
                    raise
            await asyncio.sleep(0.2)
            waited += 0.2

    def _owner(self, scope: Scope, request: Request[Any, Any, Any]) -> str | None:
        if self.console:
            session = scope.get("session")
            uid = session.get("uid") if isinstance(session, dict) else None
            return f"user:{uid}" if isinstance(uid, int) else _client(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _client(request)
        state = scope["litestar_app"].state
        try:
            user_id, _version = state.principals.claims(
                token.strip(), lambda t: decode_claims(t, settings=state.settings)
            )
        except DomainError:
            return None
        return f"user:{user_id}"


def console_middleware(app: ASGIApp) -> ASGIApp:
    return IdempotencyMiddleware(app, console=True)


def _form_fingerprint(items: list[tuple[str, Any]]) -> bytes:
    digest = hashlib.sha256()
    for name, value in sorted(items, key=lambda item: item[0]):
        text = value if isinstance(value, str) else f"file:{getattr(value, 'filename', '')}"
        digest.update(f"{len(name)}:{name}={len(text)}:{text};".encode())
    return digest.digest()


async def _audit_replay(scope: Scope, handler: HTTPRouteHandler, owner: str) -> None:
    """A replayed answer of a child-data operation shows the record again: its audit row (a read by the caller,
    ``replayed`` in its detail) is committed before the answer is sent, as any read's."""
    key = handler.operation_id if isinstance(handler.operation_id, str) else handler.name
    op = audit_operations.operation_of(key)
    if op is None or key is None:
        return
    state = scope["litestar_app"].state
    user_id = int(owner.removeprefix("user:")) if owner.startswith("user:") else None
    username, role = audit_operations.ANONYMOUS, audit_operations.ANONYMOUS
    if user_id is not None:
        async with state.db.session(write=False) as session:
            found = (await session.execute(select(User.username, User.role).where(User.id == user_id))).first()
        if found is not None:
            username, role = found
    rows = audit_operations.fallback_rows(None, "GET", key, op, scope.get("path_params", {}))
    for row in rows:
        row.update(user_id=user_id, username=username, role=role, action="read")
        row["detail"] = {**row["detail"], "replayed": True}
    await state.audit_writer.append(rows)


async def _replay(answer: Answer, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    headers.append((service.REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def capture(response: Response[Any]) -> Response[Any]:
    """The app's ``after_request``: keep the answer of a request holding a key (its body encoded once, here)."""
    pending = _PENDING.get()
    if pending is None or pending.answer is not None or type(response) is not Response:
        return response
    handler = pending.handler
    media_type = get_enum_string_value(response.media_type or handler.media_type or "application/json")
    if media_type.startswith("text/") and "charset" not in media_type:
        media_type += f"; charset={response.encoding}"
    body = response.render(response.content, media_type, get_serializer(handler.resolve_type_encoders()))
    response.content = body
    if response.status_code is None or len(body) > service.MAX_BODY_BYTES:
        return response
    headers = service.replayable_headers(dict(response.headers))
    headers = [(k, v) for k, v in headers if k != "content-type"] + [("content-type", media_type)]
    pending.answer = Answer(int(response.status_code), headers, body)
    return response


async def store_answer(session: AsyncSession) -> None:
    """Called by the app's session dependency just before it commits a write: the key's answer, in that commit."""
    pending = _PENDING.get()
    if pending is None or pending.answer is None or pending.answer.status_code >= 400:
        return
    await service.store(session, pending.claim, pending.answer)


# ---------------------------------------------------------------- the contract, in the OpenAPI schema

HEADER_PARAMETER = Parameter(
    name=service.HEADER,
    param_in="header",  # type: ignore[arg-type]
    required=False,
    description=(
        "A key the client makes for this one creating request (a UUID); a retry with the same key and the same "
        "body gets the first answer again, with `Idempotent-Replayed: true`, instead of creating twice. Kept 24 h "
        "after a successful answer; a failed request's key is not kept. The same key with another body: 422; "
        "while the first request with it is still running: 409 (retry later)."
    ),
    schema=Schema(
        type=OpenAPIType.STRING, min_length=1, max_length=service.MAX_KEY_LENGTH, pattern=service.KEY_PATTERN
    ),
)


@dataclass
class IdempotentOperation(Operation):
    """An operation that takes ``Idempotency-Key``: the header among its parameters."""

    def __post_init__(self) -> None:
        self.parameters = [*(self.parameters or []), HEADER_PARAMETER]


class IdempotencyKeysInSchema(ReceiveRoutePlugin):
    """A plugin of the app: the operations that take a key document the header and its 422."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if takes_key(handler):
                handler.operation_class = IdempotentOperation
                handler.responses = {**problems(400, 409, 422), **(handler.responses or {})}
