"""The console's 503 page (the database out of reach) in a real browser: axe-clean (WCAG 2 A/AA) and without
sideways scrolling on a phone and a laptop, for a page that was read (it offers to reload) and for a form that was
sent (it says nothing was saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import served
from tests.browser.test_accessibility import VIEWPORTS, check

pytestmark = pytest.mark.browser


def test_the_503_page_passes_axe_and_fits_a_phone(tmp_path: Path, browser: Any) -> None:
    absent = f"sqlite:///{tmp_path / 'no-such-directory' / 'marketplace.db'}"
    found: list[str] = []
    with served("tests.browser.app_factory:make", absent, tmp_path) as base:
        context = browser.new_context(viewport=VIEWPORTS["laptop"], locale="zh-CN", bypass_csp=True)
        # A session cookie as a signed-in browser holds: reading the session needs the database.
        context.add_cookies([{"name": "mp_console", "value": "a" * 32, "url": base}])
        page = context.new_page()
        answer = page.goto(f"{base}/admin/children?page=2")
        assert answer is not None and answer.status == 503
        assert page.get_by_role("heading", name="503 · 服务暂时不可用").is_visible()
        assert page.get_by_role("link", name="重新加载此页").get_attribute("href") == "/admin/children?page=2"
        check(page, "503 after a read", found)

        context.clear_cookies()
        page.goto(f"{base}/admin/login")
        page.get_by_label("用户名").fill("director")
        page.get_by_label("密码").fill("whatever-password")
        with page.expect_response(lambda r: r.url.endswith("/admin/login") and r.request.method == "POST") as sent:
            page.get_by_role("button", name="登录").click()
        assert sent.value.status == 503
        assert page.get_by_text("刚才提交的内容没有保存").is_visible()
        check(page, "503 after a form", found)
        context.close()
    assert found == [], "\n".join(found)
