"""Console sessions and CSRF, through Litestar: server-side sessions in a store, double-submit CSRF tokens.

The browser holds only a random session id (HttpOnly cookie); what it stands for lives in the ``console_sessions``
table of the app's database (shared by every process and kept across restarts), also when the deployment has Redis:
a Redis outage or a restart without persistence then neither fails a console page nor signs anybody out. Logging out deletes the stored session, so a copy of the cookie is worth nothing after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.auth.models import console_sessions
from marketplace.db import Database, utcnow
from marketplace.settings import Settings

STORE_NAME = "console-sessions"
SESSION_COOKIE = "mp_console"
CSRF_COOKIE = "mp_console_csrf"
CSRF_HEADER = "x-csrf-token"
# The form field Litestar's CSRF middleware reads from url-encoded and multipart bodies.
CSRF_FIELD = "_csrf_token"
CONSOLE_PATH = "/admin"

# Scope keys the backend below uses: the session as loaded (to skip rewriting an unchanged one) and the
# "give this session a new id" mark the login sets.
_LOADED = "console_session_loaded"
_ROTATE = "console_session_rotate"


# ---------------------------------------------------------------- the SQL store (the embedded default)


# The table lives with the users it logs in (marketplace.auth.models), so the migrations' metadata knows it.


def _expiry(expires_in: int | dt.timedelta | None) -> dt.datetime | None:
    if expires_in is None:
        return None
    delta = expires_in if isinstance(expires_in, dt.timedelta) else dt.timedelta(seconds=expires_in)
    return utcnow() + delta


class DatabaseStore(Store):
    """A Litestar store over the ``console_sessions`` table of the app's database (SQLite or PostgreSQL)."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        values = {"key": key, "value": data, "expires_at": _expiry(expires_in)}
        insert = postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert
        async with self.db.session() as session:
            statement = insert(console_sessions).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=[console_sessions.c.key],
                set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
            )
            await session.execute(statement)
            # Expired sessions go whenever a session is written (logins, mostly): the table stays small.
            await session.execute(delete(console_sessions).where(console_sessions.c.expires_at <= utcnow()))

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        async with self.db.session(write=False) as session:
            row = (
                await session.execute(
                    select(console_sessions.c.value, console_sessions.c.expires_at).where(console_sessions.c.key == key)
                )
            ).first()
        if row is None:
            return None
        value, expires_at = row
        if expires_at is not None and expires_at <= utcnow():
            await self.delete(key)
            return None
        if renew_for is not None and expires_at is not None:
            async with self.db.session() as session:
                await session.execute(
                    update(console_sessions).where(console_sessions.c.key == key).values(expires_at=_expiry(renew_for))
                )
        return bytes(value)

    async def delete(self, key: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(console_sessions).where(console_sessions.c.key == key))

    async def delete_all(self) -> None:
        async with self.db.session() as session:
            await session.execute(delete(console_sessions))

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self.db.session(write=False) as session:
            expires_at = await session.scalar(
                select(console_sessions.c.expires_at).where(console_sessions.c.key == key)
            )
        if expires_at is None:
            return None
        return max(int((expires_at - utcnow()).total_seconds()), 0)


def make_store(settings: Settings, db: Database) -> Store:
    """The app's own database (never memory: several processes serve; never Redis: the console outlives its outage).

    ``settings`` is kept for a store that would depend on the deployment."""
    del settings
    return DatabaseStore(db)


# ---------------------------------------------------------------- the session middleware


class ConsoleSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side backend, writing only what changed.

    - An empty session is never stored and gets no cookie (the login page costs no write); emptying a stored one
      (logout) deletes it and clears the cookie.
    - An unchanged session is not written again on every page.
    - A login gets a fresh session id (``rotate``): an id planted before authentication never becomes a login.
    - The cookie is ``Secure`` whenever the request came over HTTPS.
    """

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope[_LOADED] = dict(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        scope: Any = connection.scope
        store = self.config.get_store_from_app(scope["app"])
        sent = connection.cookies.get(self.config.key)
        sent = sent if sent and sent != "null" else None
        params: dict[str, Any] = dict(
            extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        )
        if connection.url.scheme == "https":
            params["secure"] = True
        headers = MutableScopeHeaders.from_message(message)  # type: ignore[arg-type]
        loaded = scope.get(_LOADED)
        if scope_session is Empty or not scope_session:
            if sent:
                await self.delete(sent, store=store)
                headers.add(
                    "Set-Cookie", Cookie(value="null", key=self.config.key, expires=0, **params).to_header(header="")
                )
            return
        rotate = bool(scope.get(_ROTATE))
        if sent and not rotate and scope_session == loaded:
            return
        if sent and not rotate and loaded:
            session_id = sent
        else:
            if sent:
                await self.delete(sent, store=store)
            session_id = self.generate_session_id()
        await self.set(session_id, self.serialize_data(scope_session, connection.scope), store=store)
        headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key, **params).to_header(header=""))


@dataclass
class ConsoleSessionConfig(ServerSideSessionConfig):
    _backend_class = ConsoleSessionBackend


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Store the session under a new id when the response goes out (the old id is deleted)."""
    connection.scope[_ROTATE] = True  # type: ignore[literal-required]


def session_config(settings: Settings) -> ConsoleSessionConfig:
    return ConsoleSessionConfig(
        key=SESSION_COOKIE,
        path=CONSOLE_PATH,
        httponly=True,
        samesite="lax",
        # An absolute lifetime, as long as an API token's; a page view does not extend it.
        max_age=settings.token_ttl_seconds,
        renew_on_access=False,
        scopes={ScopeType.HTTP},
        store=STORE_NAME,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        cookie_path=CONSOLE_PATH,
        header_name=CSRF_HEADER,
        # The page carries the token (a form field and a <meta> tag for admin.js); scripts never read the cookie.
        cookie_httponly=True,
        cookie_samesite="lax",
    )


def middleware(settings: Settings) -> list[DefineMiddleware]:
    """For the console's router only: the bearer-token API needs neither a session nor CSRF tokens."""
    return [session_config(settings).middleware, DefineMiddleware(CSRFMiddleware, config=csrf_config(settings))]
