"""Where console sessions live: the database by default, Redis when REDIS_URL is set; never in process memory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from admin.sessions import STORE_NAME, DatabaseStore, console_sessions
from marketplace import clock
from marketplace.app import create_app
from marketplace.auth.models import LoginFailure
from tests.admin.console import console_login, csrf_of
from tests.auth.support import GOOD, GOOD2, client_at, give_code, user_named
from tests.support.world import PASSWORD


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


async def test_sessions_live_in_the_database_even_with_redis_and_outlive_its_outage(settings, world, db) -> None:
    """With REDIS_URL set and Redis down (nothing listens on its port) the console signs in and serves its pages."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    app = create_app(dataclasses.replace(settings, redis_url=down))
    assert isinstance(app.stores.get(STORE_NAME), DatabaseStore)
    async with AsyncTestClient(app=app) as client:
        await console_login(client, "admin")
        sid = client.cookies.get("mp_console")
        assert await _stored_rows(db) == 1
        assert (await client.get("/admin/")).status_code == 200

        # Another process over the same database knows the session.
        async with AsyncTestClient(app=create_app(dataclasses.replace(settings, redis_url=down))) as other:
            other.cookies.set("mp_console", sid, path="/admin")
            assert (await other.get("/admin/", follow_redirects=False)).status_code == 200

        page = await client.get("/admin/")
        await client.post("/admin/logout", data={"_csrf_token": csrf_of(page.text)})
        assert await _stored_rows(db) == 0
        client.cookies.clear()
        client.cookies.set("mp_console", sid, path="/admin")
        r = await client.get("/admin/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


# ---------------------------------------------------------------- revocation, first login, passwords, activation


async def _alive(c) -> bool:
    r = await c.get("/admin/", follow_redirects=False)
    return r.status_code == 200


async def _api_token(c, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await c.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_logout_in_one_browser_ends_the_account_s_other_sessions_and_tokens(client) -> None:
    token = await _api_token(client, "director")
    async with client_at(client, "198.51.100.20") as phone:
        await console_login(phone, "director")
        csrf = await console_login(client, "director")
        assert await _alive(phone)
        await client.post("/admin/logout", data={"_csrf_token": csrf})
        assert not await _alive(phone)
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401


async def test_api_logout_ends_a_live_console_session(client) -> None:
    await console_login(client, "supervisor")
    token = await _api_token(client, "supervisor")
    assert (await client.post("/api/v1/auth/logout", headers=token)).status_code == 204
    r = await client.get("/admin/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_first_login_goes_to_the_set_password_page(client, db) -> None:
    await give_code(db, "org")
    page = await client.get("/admin/login")
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": "org", "password": PASSWORD, "next": "/admin/referrals"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/password/set"
    # Every other page sends it back there (htmx requests too).
    for path in ("/admin/", "/admin/referrals", "/admin/password"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/password/set", path
    assert (await client.get("/admin/pool", headers={"HX-Request": "true"})).headers["hx-redirect"] == (
        "/admin/password/set"
    )
    form = await client.get("/admin/password/set")
    assert form.status_code == 200 and "设置您自己的密码" in form.text and "修改密码</a>" not in form.text
    csrf = csrf_of(form.text)
    # No CSRF token, no change.
    r = await client.post("/admin/password/set", data={"new_password": GOOD, "confirm_password": GOOD})
    assert r.status_code == 403
    r = await client.post(
        "/admin/password/set", data={"_csrf_token": csrf, "new_password": GOOD, "confirm_password": GOOD2}
    )
    assert r.status_code == 422 and "不一致" in r.text
    r = await client.post(
        "/admin/password/set",
        data={"_csrf_token": csrf, "new_password": "password123", "confirm_password": "password123"},
    )
    assert r.status_code == 422 and "常用密码" in r.text
    r = await client.post(
        "/admin/password/set",
        data={"_csrf_token": csrf, "new_password": GOOD, "confirm_password": GOOD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    home = await client.get("/admin/")
    assert home.status_code == 200 and "修改密码" in home.text
    user = await user_named(db, "org")
    assert not user.must_change_password and user.one_time_code_hash is None
    # Once set, the first-login page is not a way around the current password.
    r = await client.get("/admin/password/set", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/password"
    r = await client.post(
        "/admin/password/set",
        data={"_csrf_token": csrf_of(home.text), "new_password": GOOD2, "confirm_password": GOOD2},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/password"
    await _api_token(client, "org", GOOD)


async def test_changing_the_password_in_the_console(client, db) -> None:
    token = await _api_token(client, "fund")
    async with client_at(client, "198.51.100.21") as other_browser:
        await console_login(other_browser, "fund")
        await console_login(client, "fund")
        page = await client.get("/admin/password")
        assert page.status_code == 200 and "当前密码" in page.text
        csrf = csrf_of(page.text)
        r = await client.post(
            "/admin/password",
            data={"_csrf_token": csrf, "current_password": "nope", "new_password": GOOD, "confirm_password": GOOD},
        )
        assert r.status_code == 422 and "当前密码不正确" in r.text
        r = await client.post(
            "/admin/password",
            data={"_csrf_token": csrf, "current_password": PASSWORD, "new_password": GOOD, "confirm_password": GOOD},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/password?done=1"
        done = await client.get("/admin/password?done=1")
        assert done.status_code == 200 and "密码已修改" in done.text  # this browser carries on
        assert not await _alive(other_browser)  # the other one does not
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401
    assert (await user_named(db, "fund")).password_changed_at is not None
    await _api_token(client, "fund", GOOD)


async def test_the_activation_page(client, db) -> None:
    code = await give_code(db, "director2")
    page = await client.get("/admin/activate")
    assert page.status_code == 200 and "一次性激活码" in page.text
    csrf = csrf_of(page.text)
    data = {"_csrf_token": csrf, "username": "director2", "new_password": GOOD, "confirm_password": GOOD}
    r = await client.post("/admin/activate", data={**data, "code": "ABCD-EFGH-JKMN"})
    assert r.status_code == 401 and "激活码无效" in r.text and 'value="director2"' in r.text
    r = await client.post("/admin/activate", data={**data, "code": code, "new_password": "director2-abc"})
    assert r.status_code == 422
    r = await client.post("/admin/activate", data={**data, "code": code}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    assert (await client.get("/admin/")).status_code == 200
    # Used up.
    client.cookies.clear()
    page = await client.get("/admin/activate")
    r = await client.post("/admin/activate", data={**data, "_csrf_token": csrf_of(page.text), "code": code})
    assert r.status_code == 401


async def test_the_console_login_is_throttled_with_retry_after(settings, world, db) -> None:
    app = create_app(dataclasses.replace(settings, login_rate_limit_per_minute=3))
    async with AsyncTestClient(app=app) as c:
        page = await c.get("/admin/login")
        data = {"_csrf_token": csrf_of(page.text), "username": "auditor", "password": "wrong", "next": "/admin/"}
        statuses = [(await c.post("/admin/login", data=data)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        r = await c.post("/admin/login", data={**data, "password": PASSWORD})
        assert r.status_code == 429 and "秒后再试" in r.text and int(r.headers["retry-after"]) >= 1
        async with client_at(c, "198.51.100.22") as elsewhere:
            await console_login(elsewhere, "auditor")
    async with db.session() as s:
        reasons = (await s.scalars(select(LoginFailure.reason).order_by(LoginFailure.id))).all()
    assert reasons == ["password", "password", "password", "throttled"]


async def test_a_revoked_session_on_a_page_that_writes_goes_to_login_at_once(client) -> None:
    """The case board writes (an audit row per read): its transaction must not hold the store's delete of the
    revoked session (on SQLite that waited for the busy timeout and answered 503)."""
    async with client_at(client, "198.51.100.23") as other_browser:
        await console_login(other_browser, "director")
        csrf = await console_login(client, "director")
        await client.post("/admin/logout", data={"_csrf_token": csrf})
        r = await other_browser.get("/admin/cases", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
        again = await other_browser.get("/admin/cases", follow_redirects=False)
        assert again.status_code == 303
