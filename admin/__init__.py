"""The staff web console (server-rendered, under /admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"


def routes() -> list[Any]:
    """The console's route handlers; mounted by the app factory."""
    from admin import web
    from admin.views import auth, dashboard, pool, sections

    console = Router(
        path="/admin",
        include_in_schema=False,
        route_handlers=[*auth.ROUTES, *dashboard.ROUTES, *pool.ROUTES, *sections.routes()],
        # The console's caller comes from its session cookie, not a bearer token; same Principal, same services.
        dependencies={
            "principal": Provide(web.provide_console_principal),
            "form": Provide(web.provide_form),
        },
        exception_handlers=web.EXCEPTION_HANDLERS,
    )
    static = create_static_files_router(
        path="/admin/static", directories=[STATIC_DIR], include_in_schema=False, name="console-static"
    )
    return [console, static]
