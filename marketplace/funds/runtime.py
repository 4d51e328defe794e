"""Which settings an outbox handler runs under.

Handlers get only a session. A worker process has one configuration (its environment); an API process in
eager mode, or a test run with several apps, may serve databases with different settings, so each app
registers its settings under its database URL and a handler looks them up by its session's database.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.settings import Settings, get_settings

_BY_DATABASE: dict[str, Settings] = {}


def _key(url: str) -> str:
    return make_url(url).render_as_string(hide_password=False)


def remember(settings: Settings) -> None:
    _BY_DATABASE[_key(settings.async_database_url)] = settings


def settings_for(session: AsyncSession) -> Settings:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    found = _BY_DATABASE.get(engine.url.render_as_string(hide_password=False))
    return found or get_settings()
