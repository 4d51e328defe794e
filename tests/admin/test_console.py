from __future__ import annotations

import datetime as dt
import json
import re

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from admin.sessions import console_sessions
from marketplace import clock
from marketplace.app import create_app
from marketplace.auth.models import User
from marketplace.resources.models import Organization, Service
from tests.admin.console import console_login, csrf_of, htmx


async def test_pages_need_login_and_redirect_to_it(client) -> None:
    r = await client.get("/admin/pool", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/pool"
    r = await client.get("/admin/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.headers["hx-redirect"].startswith("/admin/login")


async def test_login_sets_an_httponly_session_cookie_and_logout_ends_the_session(client, db) -> None:
    page = await client.get("/admin/login")
    # An anonymous visit stores nothing and sets no session cookie (only the CSRF cookie).
    assert "mp_console=" not in page.headers.get("set-cookie", "")
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": "admin", "password": "test-password", "next": "/admin/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    set_cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("mp_console="))
    assert (
        "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie.replace("Lax", "lax") and "Path=/admin" in set_cookie
    )
    sid = client.cookies.get("mp_console")
    # The cookie is an opaque id: who is logged in lives on the server, in the console_sessions table by default.
    assert re.fullmatch(r"[0-9a-f]{64}", sid)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(console_sessions).where(console_sessions.c.key == sid))
    home = await client.get("/admin/")
    assert home.status_code == 200 and "退出登录" in home.text
    csrf = csrf_of(home.text)

    r = await client.post("/admin/logout", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    async with db.session() as s:
        assert not await s.scalar(select(func.count()).select_from(console_sessions))
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303

    # The old cookie, replayed after logout, is worth nothing: the login page, not the dashboard.
    client.cookies.clear()
    client.cookies.set("mp_console", sid, path="/admin")
    r = await client.get("/admin/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    page = await client.get("/admin/")
    assert "工作人员登录" in page.text and "退出登录" not in page.text


async def test_a_session_id_planted_before_login_is_not_kept(client) -> None:
    client.cookies.set("mp_console", "a" * 64, domain="testserver.local", path="/admin")
    await console_login(client, "admin", clear=False)
    assert client.cookies.get("mp_console") != "a" * 64


async def test_the_session_outlives_the_process(client, settings) -> None:
    """The embedded store is the database: another app process (or a restart) knows the session."""
    await console_login(client, "supervisor")
    sid = client.cookies.get("mp_console")
    async with AsyncTestClient(app=create_app(settings)) as other:
        other.cookies.set("mp_console", sid, path="/admin")
        page = await other.get("/admin/", follow_redirects=False)
        assert page.status_code == 200 and "退出登录" in page.text


async def test_deactivating_a_user_ends_their_live_session(client, db) -> None:
    await console_login(client, "admin")
    sid = client.cookies.get("mp_console")
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 200
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "admin"))
        user.is_active = False
    r = await client.get("/admin/pool", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/pool"
    # Ended, not merely refused: the stored session is gone, so reactivating the account does not revive it.
    async with db.session() as s:
        assert not await s.scalar(
            select(func.count()).select_from(console_sessions).where(console_sessions.c.key == sid)
        )
        user = await s.scalar(select(User).where(User.username == "admin"))
        user.is_active = True
    client.cookies.set("mp_console", sid, path="/admin")
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_a_role_or_scope_change_ends_the_session(client, db, world) -> None:
    await console_login(client, "supervisor")
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "supervisor"))
        user.role = "district_admin"
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303
    await console_login(client, "org")
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "org"))
        user.organization_id = world.orgs[1]
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_wrong_password_shows_the_form_again(client) -> None:
    page = await client.get("/admin/login")
    r = await client.post(
        "/admin/login", data={"_csrf_token": csrf_of(page.text), "username": "admin", "password": "nope"}
    )
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_a_made_up_session_id_is_not_a_login(client) -> None:
    await console_login(client, "admin")
    sid = client.cookies.get("mp_console")
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 200
    client.cookies.clear()
    client.cookies.set("mp_console", sid[:-1] + ("0" if sid[-1] != "0" else "1"), path="/admin")
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_posts_without_the_csrf_token_change_nothing(app, client, world, db) -> None:
    csrf = await console_login(client, "admin")
    pending = world.orgs[2]
    url = f"/admin/pool/organizations/{pending}/approve"
    for headers in ({"HX-Request": "true"}, {"HX-Request": "true", "X-CSRF-Token": "forged"}):
        r = await client.post(url, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.text and r.headers["hx-retarget"] == "#flash"
    # A plain form post without the field, or with a wrong one, or with another session's: the 403 page.
    async with AsyncTestClient(app=app) as stranger:
        other = csrf_of((await stranger.get("/admin/login")).text)
    for data in ({"tab": "organizations"}, {"_csrf_token": "forged", "tab": "organizations"}, {"_csrf_token": other}):
        r = await client.post(url, data=data, follow_redirects=False)
        assert r.status_code == 403 and "text/html" in r.headers["content-type"]
        assert "403" in r.text and "页面已过期或请求来源不明" in r.text and "CSRF" in r.text
    async with db.session() as s:
        assert (await s.get(Organization, pending)).status == "pending"
    # The right token still works afterwards.
    r = await client.post(url, data={"tab": "organizations"}, headers=htmx(csrf))
    assert r.status_code == 200
    # Login itself needs the token too.
    client.cookies.clear()
    r = await client.post("/admin/login", data={"username": "admin", "password": "test-password"})
    assert r.status_code == 403 and "页面已过期" in r.text
    assert client.cookies.get("mp_console") is None


async def test_the_bearer_token_api_needs_no_csrf_token(client, auth, world) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "test-password"})
    assert r.status_code == 200
    assert "mp_console" not in r.headers.get("set-cookie", "")


async def test_only_local_next_targets_after_login(client) -> None:
    page = await client.get("/admin/login?next=https://evil.example/")
    assert 'value="/admin/"' in page.text
    r = await client.post(
        "/admin/login",
        data={
            "_csrf_token": csrf_of(page.text),
            "username": "admin",
            "password": "test-password",
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/admin/"


async def test_district_admin_approves_an_organization_and_a_service(client, world, db) -> None:
    csrf = await console_login(client, "admin")
    page = await client.get("/admin/pool?tab=organizations")
    assert "深圳市福田区新苗志愿者协会" in page.text and "通过入库" in page.text
    r = await client.post(
        f"/admin/pool/organizations/{world.orgs[2]}/approve", data={"tab": "organizations"}, headers=htmx(csrf)
    )
    assert r.status_code == 200 and "已入库" in r.text and "hx-swap-oob" in r.text
    # A service of the now-approved organization goes draft -> pending (by its owner) -> published (district).
    async with db.session() as s:
        svc = Service(
            organization_id=world.orgs[2],
            title="周末志愿陪伴",
            capacity_per_month=4,
            status="pending_review",
            assured_on=dt.date(2026, 1, 1),
        )
        s.add(svc)
        await s.flush()
        sid = svc.id
    page = await client.get("/admin/pool?tab=pending")
    assert "周末志愿陪伴" in page.text
    r = await client.post(f"/admin/pool/services/{sid}/approve", data={"tab": "pending"}, headers=htmx(csrf))
    assert r.status_code == 200 and "已发布" in r.text
    async with db.session() as s:
        assert (await s.get(Service, sid)).status == "published"
    # Approving twice is refused by the service's state machine, shown as a message, not a crash.
    r = await client.post(f"/admin/pool/services/{sid}/approve", data={"tab": "pending"}, headers=htmx(csrf))
    assert r.status_code == 409 and r.headers["hx-retarget"] == "#flash" and "不能执行" in r.text


async def test_reject_needs_a_reason(client, world, db) -> None:
    csrf = await console_login(client, "admin")
    async with db.session() as s:
        svc = await s.get(Service, world.services[2])
        svc.status = "pending_review"
    r = await client.post(f"/admin/pool/services/{world.services[2]}/reject", data={"reason": " "}, headers=htmx(csrf))
    assert r.status_code == 422 and "原因" in r.text
    r = await client.post(
        f"/admin/pool/services/{world.services[2]}/reject", data={"reason": "请补充收费说明"}, headers=htmx(csrf)
    )
    assert r.status_code == 200 and "请补充收费说明" in r.text and "草稿" in r.text


async def test_plain_form_posts_work_without_javascript(client, world, db) -> None:
    csrf = await console_login(client, "admin")
    r = await client.post(
        f"/admin/pool/services/{world.services[0]}/pause",
        data={"_csrf_token": csrf, "tab": "published"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/pool?tab=published"
    async with db.session() as s:
        assert (await s.get(Service, world.services[0])).status == "paused"


async def test_stale_listings_are_flagged(client, world, db, settings) -> None:
    async with db.session() as s:
        svc = await s.get(Service, world.services[1])
        svc.assured_on = clock.today() - dt.timedelta(days=settings.stale_listing_days + 30)
    await console_login(client, "admin")
    page = await client.get("/admin/pool?tab=stale")
    assert "困境儿童助学金计划" in page.text and "过期" in page.text
    assert "困境儿童心理疏导服务" not in page.text


async def test_roles_see_their_own_console(client, world) -> None:
    await console_login(client, "auditor")
    page = await client.get("/admin/pool?tab=organizations")
    assert page.status_code == 200 and "新苗志愿者协会" in page.text and "通过入库" not in page.text
    await console_login(client, "org")
    page = await client.get("/admin/pool?tab=draft")
    assert "法律援助进社区" in page.text and "提交审核" in page.text
    csrf = csrf_of(page.text)
    r = await client.post(f"/admin/pool/services/{world.services[0]}/approve", headers=htmx(csrf))
    assert r.status_code == 403
    await console_login(client, "fund")
    assert (await client.get("/admin/pool")).status_code == 403
    page = await client.get("/admin/")
    assert page.status_code == 200 and "基金管理员工作台" in page.text


async def test_console_pages_never_500_on_bad_input(client, world) -> None:
    csrf = await console_login(client, "admin")
    for url in ("/admin/pool?tab=nope", "/admin/reports?year=abc", "/admin/reports?quarter=9", "/admin/exports/999999"):
        r = await client.get(url)
        assert 400 <= r.status_code < 500, (url, r.status_code)
        assert "text/html" in r.headers["content-type"]
    r = await client.post("/admin/pool/services/999999/approve", headers=htmx(csrf))
    assert r.status_code == 404
    r = await client.post(f"/admin/pool/services/{world.services[0]}/explode", headers=htmx(csrf))
    assert r.status_code == 422


async def test_security_headers(client) -> None:
    r = await client.get("/admin/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    static = await client.get("/admin/static/vendor/htmx.min.js")
    assert static.status_code == 200 and "htmx" in static.text[:2000]


def embedded_charts(html: str) -> dict[str, tuple[str, object]]:
    found = re.findall(
        r'<script type="application/json" id="chart-([a-z0-9_]+)" data-api="([^"]+)">(.*?)</script>', html, re.S
    )
    return {key: (api.replace("&amp;", "&"), json.loads(body)) for key, api, body in found}


async def test_every_chart_agrees_with_the_api(client, auth, db, world) -> None:
    from tests.admin.money import budget_with_contract, fund_with_gifts
    from tests.reports.data import build_cases

    async with db.session() as session:
        await build_cases(session, world)
    budget = (await budget_with_contract(client, auth, world))["budget"]
    fund_id = await fund_with_gifts(client, auth, db, world)
    money = {f"budget_{budget['id']}", f"fund_income_{fund_id}", f"fund_spending_{fund_id}"}
    expected = {
        "admin": {"coverage", "referrals", "overdue"} | money,
        "auditor": {"coverage", "referrals", "overdue"} | money,
        "supervisor": {"coverage", "referrals", "overdue"},
        "director": {"coverage", "referrals", "overdue"},
        "procurement": {f"budget_{budget['id']}"},
        "fund": money,
        "org": set(),
    }
    for user, keys in expected.items():
        await console_login(client, user)
        page = await client.get("/admin/")
        charts = embedded_charts(page.text)
        assert set(charts) == keys, (user, sorted(charts))
        headers = await auth(user)
        for key, (api, data) in charts.items():
            r = await client.get(api, headers=headers)
            assert r.status_code == 200, (api, r.text)
            assert r.json() == data, (user, key)
    # What a reader sees on the money charts: the purchase line's 10,000-yuan commitment and the fund's figures.
    await console_login(client, "admin")
    page = await client.get("/admin/")
    charts = embedded_charts(page.text)
    lines = {x["code"]: x for x in charts[f"budget_{budget['id']}"][1]["lines"]}
    assert lines["purchase_services"]["committed_fen"] == 1_000_000
    assert lines["purchase_services"]["appropriation_fen"] == 100_000_000
    fund = charts[f"fund_income_{fund_id}"][1]
    assert sum(m["income_fen"] for m in fund["income_by_month"]) == 120_000
    assert fund["balance_fen"] == 60_000
    assert "余额 ¥600.00" in page.text and "已承诺 ¥10,000.00" in page.text
    await console_login(client, "admin")
    page = await client.get("/admin/reports?year=2026&quarter=4")
    ((api, data),) = embedded_charts(page.text).values()
    assert (await client.get(api, headers=await auth("admin"))).json() == data


async def test_building_the_console_raises_no_litestar_deprecation(settings) -> None:
    import warnings

    from marketplace.app import create_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings)
    console = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) and ("console-" in str(w.message) or "admin" in w.filename)
    ]
    assert console == []
