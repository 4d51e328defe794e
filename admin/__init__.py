"""The staff web console (server-rendered, under /admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store

from admin import sessions, web
from admin.views import auth, dashboard, pool, sections
from marketplace.db import Database
from marketplace.idempotency import middleware as idempotency
from marketplace.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"


def routes(settings: Settings) -> list[Any]:
    """The console's route handlers; mounted by the app factory, with ``stores()`` registered on the app."""
    console = Router(
        path=sessions.CONSOLE_PATH,
        include_in_schema=False,
        route_handlers=[*auth.ROUTES, *dashboard.ROUTES, *pool.ROUTES, *sections.routes()],
        # The console's caller comes from its server-side session, not a bearer token; same Principal, same services.
        dependencies={
            "principal": Provide(web.provide_console_principal),
            "form": Provide(web.provide_form),
        },
        # The session first, then the CSRF check of every unsafe request (a refusal is the 403 page below), then
        # the forms' idempotency keys (a double submit answers with the first submit's page or redirect).
        middleware=[*sessions.middleware(settings), idempotency.console_middleware],
        exception_handlers=web.EXCEPTION_HANDLERS,
    )
    static = create_static_files_router(
        path="/admin/static", directories=[STATIC_DIR], include_in_schema=False, name="console-static"
    )
    return [console, static]


def stores(settings: Settings, db: Database) -> dict[str, Store]:
    """The stores the console's middleware reads by name: its sessions, in Redis or the app's database."""
    return {sessions.STORE_NAME: sessions.make_store(settings, db)}
