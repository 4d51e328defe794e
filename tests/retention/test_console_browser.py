"""The district's view of the retention rule on the child list, in a browser: axe clean at laptop and phone widths
(360x740), no sideways scrolling, the counts and the months as the service computes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from marketplace import clock
from tests.browser.conftest import browser, live_server
from tests.browser.test_accessibility import check
from tests.browser.test_console import login
from tests.cases.support import add_child

__all__ = ["browser", "live_server"]

pytestmark = pytest.mark.browser


@pytest.fixture
async def closed_files(db: Any, world: Any, settings: Any) -> None:
    now = clock.now()
    ages = [365 * 5 + 30, 365 * 5 + 2, 365 * 5 - 15, 365 * 5 - 75, 365 * 2]
    async with db.session() as s:
        for i, days in enumerate(ages):
            child = await add_child(
                s, settings, world.communities[i % 3], world.streets[0 if i % 3 < 2 else 1], seq=f"96{i}"
            )
            child.status, child.closed_at = "closed", now - dt.timedelta(days=days)


def test_the_district_reads_the_rule_on_a_phone(live_server: str, world: Any, closed_files: None, browser: Any) -> None:
    context = browser.new_context(locale="zh-CN", bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    login(page, live_server, "admin")
    response = page.goto(f"{live_server}/admin/children")
    assert response is not None and response.status == 200
    section = page.locator("section.retention")
    assert "结案满 5 年" in section.inner_text()
    facts = section.locator("dl").inner_text()
    assert "5 份" in facts and "2 份" in facts
    assert section.locator("table caption").inner_text() == "未来 12 个月到期的档案"
    assert section.locator("tbody tr").count() >= 1
    found: list[str] = []
    check(page, "admin /admin/children (retention)", found)
    context.close()
    assert not found, "\n".join(found)
