"""Names for what the app injects into handlers and providers.

Litestar 3 stops inferring dependencies from a parameter's name alone: a parameter is injected only when it is
marked. ``NamedDependency`` injects by the parameter's name, so each alias below must be used on a parameter of
that name: ``session: DbSession``, ``principal: CurrentUser``, ``settings: AppSettings``, ``page: PageParams``,
``search: Search``, ``db: Db`` (the database, for ``db.read``). The providers are registered in ``marketplace.app.create_app`` (session, principal, settings)
and on the controllers that page or search (page, search).

This module imports ``marketplace.auth.principal``, so auth itself (below it) does not import it: its
controller declares the few names it uses itself.
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.pagination import Page
from marketplace.settings import Settings
from search import SearchBackend

DbSession: TypeAlias = NamedDependency[AsyncSession]
Db: TypeAlias = NamedDependency[Database]
CurrentUser: TypeAlias = NamedDependency[Principal]
AppSettings: TypeAlias = NamedDependency[Settings]
PageParams: TypeAlias = NamedDependency[Page]
Search: TypeAlias = NamedDependency[SearchBackend]
