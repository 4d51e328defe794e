"""The application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

from litestar import Litestar, Request
from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncSession

import admin
from marketplace import health, outbox, tasks
from marketplace.audit import operations as audit_operations
from marketplace.audit import writer as audit_writer
from marketplace.auth import ratelimit
from marketplace.auth.cache import PrincipalCache
from marketplace.auth.principal import FIRST_LOGIN_GATE, OPEN_BEFORE_PASSWORD_CHANGE, Principal
from marketplace.auth.service import decode_claims, load_principal
from marketplace.auth.throttle import MemoryThrottle, RedisThrottle, SignInThrottle, Throttle
from marketplace.db import Database
from marketplace.errors import (
    EXCEPTION_HANDLERS,
    CheckedRequest,
    Forbidden,
    ProblemResponses,
    Unauthorized,
    refuse_nul_in_url_and_headers,
)
from marketplace.features import load_models, route_handlers
from marketplace.idempotency import middleware as idempotency
from marketplace.observability.middleware import request_context
from marketplace.search_wiring import attach_search
from marketplace.settings import Settings, get_settings
from search import SearchBackend, SearchQuery

log = logging.getLogger("marketplace")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The API docs UI (Swagger UI, vendored from npm: see marketplace/static/swagger-ui/README.md), served by the app
# itself so /schema works without internet.
DOCS_ASSETS = Path(__file__).parent / "static" / "swagger-ui"
DOCS_ASSETS_URL = "/static/swagger-ui"


class FoldedSwagger(SwaggerRenderPlugin):
    """Swagger UI with each tag's operations folded until the tag is opened: 120-odd operations unfolded at once
    are a wall to scroll, and Swagger UI 5.35 stops rendering an unfolded page of them past about 110 paths."""

    FOLD: Final = (b"deepLinking: true,", b"deepLinking: true,\n                  docExpansion: 'none',")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        page = super().render(request, openapi_schema)
        if self.FOLD[0] not in page:
            raise RuntimeError("Swagger UI page template changed: fold the operations another way")
        return page.replace(*self.FOLD, 1)


def docs_ui() -> SwaggerRenderPlugin:
    return FoldedSwagger(
        js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS_URL}/favicon-32x32.png'>",
    )


async def resolve_dependencies_in_order(
    self: KwargsModel, connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
) -> DependencyCleanupGroup:
    """Litestar's ``KwargsModel.resolve_dependencies``, one dependency after another.

    Litestar 2 resolves each batch of independent dependencies concurrently in an anyio task group: a task per
    dependency, about 0.15 ms of a hot read's 0.3 ms on this project's handlers (five or six cheap providers each;
    upstream issue litestar-org/litestar#4563, open). Ours are cheap and independent, so in order is the same answer
    without the tasks (as FastAPI resolves). Unlike the original, a failing dependency (a refused token) closes the
    generators already started (the request's session) at once instead of leaving them to the garbage collector."""
    cleanup_group = DependencyCleanupGroup()
    try:
        for batch in self.dependency_batches:
            for dependency in batch:
                await resolve_dependency(dependency, connection, kwargs, cleanup_group)
    except BaseException as exc:
        await cleanup_group.close(exc)
        raise
    return cleanup_group


KwargsModel.resolve_dependencies = resolve_dependencies_in_order  # type: ignore[method-assign]


async def provide_session(request: Request[Any, Any, Any], state: State) -> AsyncGenerator[AsyncSession, None]:
    """One session per request, committed after the handler; any error rolls it back.

    GETs read through the reader engine (no write lock on SQLite) unless the route says it writes
    (``opt={"writes": True}``); so does a POST that computes without changing anything (``opt={"read_only": True}``,
    e.g. matching a need). A read's audit rows are collected in its session and, after its read transaction,
    group-committed by the app's audit writer; the response is sent only once they are committed.
    """
    db: Database = state.db
    opt = request.route_handler.opt
    write = (request.method in WRITE_METHODS and not opt.get("read_only")) or bool(opt.get("writes"))
    maker = db.sessionmaker if write else db.read_sessionmaker
    async with maker() as session:
        if not write:
            audit_writer.attach(session, state.audit_writer)
        try:
            yield session
        except BaseException as exc:
            outbox.discard_pending(session)
            await session.rollback()
            await audit_operations.record_refusal(
                state.audit_writer,
                _principal_of(request),
                request.method,
                _route_key(request),
                request.path_params,
                exc,
            )
            raise
        # A child-data operation whose work wrote no audit row gets one (in this transaction, or group-committed).
        await audit_operations.ensure_audited(
            session, _principal_of(request), request.method, _route_key(request), request.path_params
        )
        if write:
            await idempotency.store_answer(session)  # a request's Idempotency-Key answer, in its own commit
            await session.commit()
            await outbox.relay(db, outbox.take_pending(session), state.dispatcher)
        else:
            await session.rollback()
            await audit_writer.commit_collected(session)


def _route_key(request: Request[Any, Any, Any]) -> str | None:
    """The operation's id (API) or the route's name (console): how ``marketplace.audit.operations`` names it."""
    handler = request.route_handler
    return handler.operation_id if isinstance(handler.operation_id, str) else handler.name


def _principal_of(request: Request[Any, Any, Any]) -> Principal | None:
    principal = request.scope.get("principal")
    return principal if isinstance(principal, Principal) else None


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """The bearer token's account, checked on every request: its token version (revocation), that it is active, and
    that it has chosen its own password (until then only the routes marked open before that answer). No database
    round trip while the account is unchanged (``marketplace.auth.cache``)."""
    cached = request.scope.get("principal")
    if isinstance(cached, Principal):
        return cached
    try:
        return await _principal_of_token(request, state)
    except Unauthorized:
        # Nobody is known: a child-data operation still leaves its ``refused`` row, without an actor.
        await audit_operations.record_anonymous_refusal(
            state.audit_writer, request.method, _route_key(request), request.path_params
        )
        raise


async def _principal_of_token(request: Request[Any, Any, Any], state: State) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("需要登录：请在 Authorization 头中携带 Bearer 令牌 (bearer token required)")
    principals: PrincipalCache = state.principals
    settings: Settings = state.settings
    db: Database = state.db
    user_id, version = principals.claims(token.strip(), partial(decode_claims, settings=settings))
    principal = await principals.principal(user_id, version, partial(load_principal, db))
    if principal.must_change_password and not request.route_handler.opt.get(OPEN_BEFORE_PASSWORD_CHANGE):
        raise Forbidden(FIRST_LOGIN_GATE, must_change_password=True)
    request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


def provide_db(state: State) -> Database:
    db: Database = state.db
    return db


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def make_throttle(settings: Settings) -> SignInThrottle:
    """Failed sign-ins per (account, address) and per address, in Redis when the deployment has it."""
    counts: Throttle = RedisThrottle(settings.redis_url) if settings.redis_url else MemoryThrottle()
    return SignInThrottle(counts, settings.login_rate_limit_per_minute)


def make_dispatcher(settings: Settings) -> outbox.Dispatcher | None:
    """None in eager mode (the outbox runs handlers in process), else a sender of event ids to the worker."""
    if settings.task_always_eager:
        return None
    celery = tasks.make_celery(settings)

    def dispatch(event_id: int) -> None:
        # One quick reconnect (the broker restarted since the last send), then give up: a request never waits on a
        # broker that is down; its events stay in the outbox for the sweeper (``outbox.relay``).
        celery.send_task(
            tasks.PROCESS_OUTBOX_EVENT,
            args=[event_id],
            retry_policy=tasks.SEND_RETRY_POLICY,
            headers=tasks.request_headers(),
        )

    return dispatch


def settle_heap(search: SearchBackend) -> None:
    """Load what a serving process keeps for life (the search index and its segmenter's dictionary), then freeze
    the heap (``marketplace.asgi`` calls it once per served process; apps made in tests and commands skip it): the collector's full passes then skip those millions of long-lived objects instead of stopping a
    request for tens of milliseconds each time (the p99 of every hot request)."""
    if search.in_process:
        try:
            search.search("services", SearchQuery(q="儿童", limit=1))
        except Exception:  # an empty or missing index: nothing to warm
            log.debug("search warm-up skipped", exc_info=True)
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    load_models()
    # A topic with neither a handler nor a record-only declaration is refused where it is emitted in development
    # (and in the tests): in production it is recorded with a warning, the write goes through.
    outbox.STRICT = outbox.STRICT or settings.debug
    db = Database(settings)
    audits = audit_writer.AuditWriter(db.engine, db.sync_write_engine)

    stores = admin.stores(settings, db)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with AsyncExitStack() as stack:
                for store in stores.values():
                    await stack.enter_async_context(store)
                yield
        finally:
            try:
                await audits.close()  # commits the read audits still queued (or fails their requests)
            finally:
                await db.dispose()

    state = State(
        {
            "settings": settings,
            "db": db,
            "audit_writer": audits,
            "login_throttle": make_throttle(settings),
            "principals": PrincipalCache(settings.data_dir),
            "dispatcher": make_dispatcher(settings),
        }
    )
    attach_search(state, settings)

    docs_assets = create_static_files_router(
        path=DOCS_ASSETS_URL, directories=[DOCS_ASSETS], include_in_schema=False, name="docs-assets"
    )
    route_list: list[Any] = [*health.ROUTES, *route_handlers(), docs_assets, *admin.routes(settings)]

    app = Litestar(
        route_handlers=route_list,
        dependencies={
            "session": Provide(provide_session),
            "principal": Provide(provide_principal),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "db": Provide(provide_db, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        # the refusals each operation can answer, in its schema (problem+json)
        plugins=[ProblemResponses({ratelimit.anonymous_write: (429,)}), idempotency.IdempotencyKeysInSchema()],
        request_class=CheckedRequest,
        middleware=[refuse_nul_in_url_and_headers, idempotency.IdempotencyMiddleware],
        after_request=idempotency.capture,
        state=state,
        lifespan=[lifespan],
        stores=stores,
        debug=settings.debug,
        # Logging is the process's (marketplace.observability.logs): Litestar's own configuration would replace the
        # root handler with its queue and format at startup.
        logging_config=None,
        request_max_body_size=10 * 1024 * 1024,
        cors_config=CORSConfig(allow_origins=[]),
        openapi_config=OpenAPIConfig(
            title="福田区困境儿童关爱服务资源平台 API",
            version="1.0.0",
            description="Child-protection resource marketplace: resource pool, children's files, matching, "
            "referrals, the public-welfare fund, the special budget and procurement.",
            path="/schema",
            render_plugins=[docs_ui()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"bearer": []}],
        ),
    )
    # Outermost: every answer (404s and problems included) gets its request id, access log line and counts.
    app.asgi_handler = request_context(app.asgi_handler)
    return app
