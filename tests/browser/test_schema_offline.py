"""The API docs page (/schema) with no internet: the docs UI is served by the app itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def test_schema_renders_the_operations_offline(live_server: str, shots: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    left: list[str] = []
    served: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname in LOOPBACK:
            served.append(url)
            route.continue_()
        else:
            left.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/schema")

    # Every tag is listed, its operations folded until it is opened.
    page.locator(".opblock-tag[data-tag='resources']").wait_for(timeout=20000)
    assert page.locator(".opblock-tag").count() >= 12
    for tag in ("health", "resources", "cases", "referrals"):
        page.locator(f".opblock-tag[data-tag='{tag}']").click()
    # The operations, by their Chinese summaries, under their tags.
    for summary in ("健康检查", "社会组织列表", "登记社会组织", "强制报告列表", "儿童闭环时间线"):
        operation = page.locator(".opblock-summary-description", has_text=summary).first
        operation.wait_for(timeout=20000)
        assert operation.is_visible()
    assert page.locator(".opblock").count() > 50
    # Opening one shows its parameters: the UI's scripts work, not just its markup.
    page.locator(".opblock-summary", has_text="社会组织详情").first.click()
    page.locator(".opblock-body .parameters", has_text="org_id").first.wait_for()
    page.screenshot(path=str(shots / "api-docs-offline.png"))

    assert left == [], f"requests left the machine: {left}"
    assert any("/static/swagger-ui/swagger-ui-bundle.js" in u for u in served)
    assert any("/static/swagger-ui/swagger-ui.css" in u for u in served)
    assert errors == []
