"""Where console sessions live: the database by default, Redis when REDIS_URL is set; never in process memory."""

from __future__ import annotations

import dataclasses
import datetime as dt

import redis.asyncio as aioredis
from litestar.stores.redis import RedisStore
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from admin.sessions import STORE_NAME, DatabaseStore, console_sessions
from marketplace import clock
from marketplace.app import create_app
from tests.admin.console import console_login, csrf_of


async def _stored_rows(db) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(console_sessions)) or 0)


async def test_the_default_store_is_the_database(app, client, db) -> None:
    assert isinstance(app.stores.get(STORE_NAME), DatabaseStore)
    csrf = await console_login(client, "admin")
    sid = client.cookies.get("mp_console")
    async with db.session() as s:
        value = await s.scalar(select(console_sessions.c.value).where(console_sessions.c.key == sid))
        expires_at = await s.scalar(select(console_sessions.c.expires_at).where(console_sessions.c.key == sid))
    assert value and b'"uid"' in value
    # An absolute lifetime of the API token's length (12 h by default); page views do not extend it.
    assert dt.timedelta(hours=11, minutes=59) < expires_at - clock.now() <= dt.timedelta(hours=12)
    for _ in range(3):
        assert (await client.get("/admin/")).status_code == 200
    async with db.session() as s:
        again = await s.scalar(select(console_sessions.c.expires_at).where(console_sessions.c.key == sid))
    assert again == expires_at
    await client.post("/admin/logout", data={"_csrf_token": csrf})
    assert await _stored_rows(db) == 0


async def test_an_expired_session_is_a_logout(client, db) -> None:
    await console_login(client, "admin")
    sid = client.cookies.get("mp_console")
    async with db.session() as s:
        await s.execute(update(console_sessions).values(expires_at=clock.now() - dt.timedelta(seconds=1)))
    r = await client.get("/admin/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    async with db.session() as s:
        assert not await s.scalar(
            select(func.count()).select_from(console_sessions).where(console_sessions.c.key == sid)
        )


async def test_the_database_store(db) -> None:
    store = DatabaseStore(db)
    await store.set("a", b"one", expires_in=60)
    await store.set("a", "two", expires_in=60)
    await store.set("b", b"forever")
    assert await store.get("a") == b"two" and await store.get("b") == b"forever"
    assert 55 <= (await store.expires_in("a") or 0) <= 60 and await store.expires_in("b") is None
    await store.get("a", renew_for=3600)
    assert (await store.expires_in("a") or 0) > 3500
    assert await store.exists("a") and not await store.exists("nope")
    await store.set("old", b"x", expires_in=dt.timedelta(seconds=-1))
    assert await store.get("old") is None and not await store.exists("old")
    await store.delete("a")
    assert await store.get("a") is None
    await store.delete("a")  # deleting what is gone is fine
    await store.delete_all()
    assert await _stored_rows(db) == 0


async def test_sessions_live_in_redis_when_redis_url_is_set(settings, world, db, redis_url) -> None:
    app = create_app(dataclasses.replace(settings, redis_url=redis_url))
    store = app.stores.get(STORE_NAME)
    assert isinstance(store, RedisStore)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        async with AsyncTestClient(app=app) as client:
            await console_login(client, "admin")
            sid = client.cookies.get("mp_console")
            key = f"{store.namespace}:{sid}"
            assert await redis.exists(key) == 1
            assert 0 < await redis.ttl(key) <= settings.token_ttl_seconds
            assert await _stored_rows(db) == 0
            assert (await client.get("/admin/")).status_code == 200

            # Another process over the same Redis knows the session.
            async with AsyncTestClient(app=create_app(dataclasses.replace(settings, redis_url=redis_url))) as other:
                other.cookies.set("mp_console", sid, path="/admin")
                assert (await other.get("/admin/", follow_redirects=False)).status_code == 200

            page = await client.get("/admin/")
            await client.post("/admin/logout", data={"_csrf_token": csrf_of(page.text)})
            assert await redis.exists(key) == 0
            client.cookies.clear()
            client.cookies.set("mp_console", sid, path="/admin")
            r = await client.get("/admin/", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    finally:
        await redis.aclose()
