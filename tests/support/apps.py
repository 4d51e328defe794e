"""The ``app`` fixture's apps: one Litestar app per worker and settings, with a fresh runtime for every test.

Registering the app's ~520 route handlers is most of an API test's setup (0.5-1 s of CPU, Litestar's signature
models and route maps) and yields the same routes for every test: what the routes are built from is the code and
settings that only differ between tests by where the test's files are (``PER_TEST``; the console's middleware reads
the secret key and the token lifetime, the same for every test). Everything a test can change or see is made fresh
for each test by the real ``create_app`` for that test's own settings: the app's state (the database and its
engine, the audit writer, the sign-in throttle, the principal cache, the dispatcher, the search backend), the
console's session store and the lifespan that opens and closes them. Only the construction of the ``Litestar``
object itself is skipped; its routes are those of the first app made with equal settings.

A test that changes the app's routes (``app.register``) or its debug flag leaves the cache: the next test gets a
new app.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

from litestar import Litestar
from litestar.stores.registry import StoreRegistry

import marketplace.app as app_module
from marketplace.settings import Settings

# The settings that differ between tests and that nothing in the route handlers is built from.
PER_TEST = ("database_url", "data_dir", "search_path")


def _key(settings: Settings) -> str:
    return repr(dataclasses.replace(settings, **{name: "" for name in PER_TEST}))


def _fingerprint(app: Litestar) -> tuple[object, ...]:
    return (len(app.routes), tuple(id(route) for route in app.routes), app.debug)


def _runtime(settings: Settings) -> dict[str, Any]:
    """What ``create_app(settings)`` passes to ``Litestar(...)``, without constructing the app."""
    parts: dict[str, Any] = {}

    def capture(**kwargs: Any) -> Any:
        parts.update(kwargs)
        return mock.MagicMock()  # create_app wraps the app's ASGI handler: a stand-in takes that

    with mock.patch.object(app_module, "Litestar", capture):
        app_module.create_app(settings)
    return parts


class AppCache:
    def __init__(self) -> None:
        self._apps: dict[str, tuple[Litestar, tuple[object, ...]]] = {}

    def app(self, settings: Settings) -> Litestar:
        key = _key(settings)
        cached = self._apps.get(key)
        if cached is None or _fingerprint(cached[0]) != cached[1]:
            app = app_module.create_app(settings)
            self._apps[key] = (app, _fingerprint(app))
            return app
        app = cached[0]
        parts = _runtime(settings)
        # As Litestar.__init__ sets them: the state as given, the stores in a registry, and the lifespan managers
        # followed by the stores (each store is also entered as a lifespan context).
        app.state = parts["state"]
        app.stores = StoreRegistry(parts["stores"])
        app._lifespan_managers = [*parts["lifespan"], *app.stores._stores.values()]
        return app
