"""Each request's id, its access log line and its counts: one pure ASGI wrapper around the whole app.

It wraps Litestar's own handler (routing, exception handlers, CORS), so it sees every answer: the API's, the
console's, the 404 of an unknown path and a problem made from an error. It takes the client's ``X-Request-ID``
when sane (``marketplace.observability.context``) or makes one, keeps it in the contextvar for the request (every
log line, problem body and outbox event of the request carries it), echoes it on the response, and at the end
writes one ``marketplace.access`` line -- method, route template (never the query string, never a body), status,
duration, bytes sent, the signed-in principal's id -- and counts the request (``marketplace.observability.metrics``).
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from marketplace.observability import context, logs, metrics

access_log = logging.getLogger("marketplace.access")

_HEADER = context.HEADER.lower().encode()
_STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}


def _incoming_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _HEADER:
            return context.sane(value) or context.new_request_id()
    return context.new_request_id()


def _principal_id(scope: Scope) -> int | None:
    principal = scope.get("principal")  # set by the API's and the console's sign-in checks
    user_id = getattr(principal, "user_id", None)
    return user_id if isinstance(user_id, int) else None


def request_context(app: ASGIApp) -> ASGIApp:
    """``app`` with request ids, access log lines and request metrics."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = _incoming_id(scope)
        token = context.request_id_var.set(request_id)
        echo = (_HEADER, request_id.encode())
        started = perf_counter()
        answer = {"status": 500, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]  # type: ignore[typeddict-item]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            try:
                _account(scope, answer, perf_counter() - started)  # type: ignore[arg-type]
            finally:
                context.request_id_var.reset(token)

    return wrapped


def _account(scope: HTTPScope, answer: dict[str, int], seconds: float) -> None:
    method = scope["method"] if scope["method"] in metrics.METHODS else "OTHER"
    route: str = scope.get("path_template") or metrics.UNMATCHED  # type: ignore[assignment]
    status = answer["status"]
    metrics.count_request(route, method, _STATUS_CLASSES.get(status // 100, "other"), seconds)
    if access_log.isEnabledFor(logging.INFO):
        extra: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "bytes": answer["bytes"],
            "principal_id": _principal_id(scope),
            "request_id": context.current_request_id(),  # on the record itself, for handlers that format later
        }
        if logs.write_json_line(access_log, f"{method} {route} {status}", extra):
            return
        # The record made directly: ``Logger.info`` would also walk the stack for the caller's file and line, a
        # tenth of the line's cost and of no use for the one access line.
        record = access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "%s %s %s", (method, route, status), None, extra=extra
        )
        access_log.handle(record)
