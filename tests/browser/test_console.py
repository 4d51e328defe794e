"""The console in a real browser: each staff role logs in, walks its pages and does its job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marketplace.resources.models import Service
from tests.reports.data import build_cases
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
async def district(db, world) -> Any:
    async with db.session() as session:
        await build_cases(session, world)
        draft = await session.get(Service, world.services[2])
        draft.status = "pending_review"
    return world


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def logout(page: Any) -> None:
    page.click("text=退出登录")
    page.wait_for_url("**/admin/login")


def charts_drawn(page: Any) -> int:
    page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length > 0")
    return int(page.eval_on_selector_all("[data-chart] canvas", "els => els.length"))


def test_every_role_walks_the_console(live_server: str, district: Any, shots: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server

    # District admin: dashboard charts, then approves a pending service in the pool.
    login(page, base, "admin")
    assert "区民政局儿童福利科工作台" in page.content()
    assert charts_drawn(page) >= 3
    page.screenshot(path=str(shots / "admin-dashboard.png"), full_page=True)
    page.click("nav >> text=资源库审核")
    row = page.locator("tr", has_text="法律援助进社区")
    row.locator("button", has_text="通过").click()
    page.locator("#flash", has_text="已通过").wait_for()
    assert "已发布" in page.locator("tr", has_text="法律援助进社区").inner_text()
    page.screenshot(path=str(shots / "admin-pool-approved.png"), full_page=True)
    page.goto(f"{base}/admin/pool?tab=organizations")
    page.locator("tr", has_text="新苗志愿者协会").locator("button", has_text="通过入库").click()
    page.locator("#flash", has_text="已通过入库").wait_for()
    logout(page)

    # Supervisor: the street's dashboard, the quarterly dispatch, an export with progress to the download link.
    login(page, base, "supervisor")
    assert charts_drawn(page) >= 2
    page.screenshot(path=str(shots / "supervisor-dashboard.png"), full_page=True)
    page.click("nav >> text=报表与导出")
    assert "工作调度（福田街道）" in page.content()
    page.select_option("select[name=kind]", "quarterly_all")
    page.click("text=开始导出")
    page.locator("#export-list a", has_text="下载").first.wait_for(timeout=15000)
    page.screenshot(path=str(shots / "supervisor-reports.png"), full_page=True)
    logout(page)

    # Director, organization, fund manager, procurement officer, auditor: each sees their own console.
    for user, expect in (
        ("director", "儿童主任工作台"),
        ("org", "社会组织工作人员工作台"),
        ("fund", "基金管理员工作台"),
        ("procurement", "采购经办人工作台"),
        ("auditor", "审计/纪检工作台"),
    ):
        login(page, base, user)
        assert expect in page.content(), user
        page.screenshot(path=str(shots / f"{user}-dashboard.png"), full_page=True)
        for link in page.eval_on_selector_all("nav.nav a", "els => els.map(e => e.getAttribute('href'))"):
            response = page.goto(base + link)
            assert response is not None and response.status == 200, (user, link)
            page.screenshot(path=str(shots / f"{user}{link.replace('/', '-')}.png"), full_page=True)
        page.goto(f"{base}/admin/")
        logout(page)
    assert not errors, errors
    context.close()


def test_phone_layout(live_server: str, district: Any, shots: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    login(page, live_server, "admin")
    charts_drawn(page)
    # No sideways scrolling on a phone: the page fits its width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(shots / "phone-dashboard.png"), full_page=True)
    page.goto(f"{live_server}/admin/pool?tab=published")
    page.screenshot(path=str(shots / "phone-pool.png"), full_page=True)
    context.close()


def test_htmx_sends_the_csrf_header_and_logout_ends_the_session(live_server: str, district: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    base = live_server
    login(page, base, "admin")
    page.goto(f"{base}/admin/pool?tab=organizations")
    page.locator("tr", has_text="新苗志愿者协会").locator("button", has_text="通过入库").click()
    page.locator("#flash", has_text="已通过入库").wait_for()
    # admin.js puts the page's token in the header Litestar's CSRF middleware reads.
    (approve,) = [r for r in posts if r.headers.get("hx-request") == "true"]
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    assert token and approve.headers.get("x-csrf-token") == token

    # A copy of the cookies taken while logged in, put back after logging out: the login page, not the dashboard.
    saved = context.cookies()
    assert any(c["name"] == "mp_console" for c in saved)
    logout(page)
    context.add_cookies(saved)
    page.goto(f"{base}/admin/")
    assert page.url.startswith(f"{base}/admin/login")
    assert "工作人员登录" in page.content() and "退出登录" not in page.content()
    context.close()
