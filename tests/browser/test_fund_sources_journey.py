"""The street's money reaches a child's plan: the fund manager, at a desk, records the district's 民生微实事 allocation
to 福田街道's micro-project fund (a bad amount first, refused in place) and approves the street's declared
psychological-care project; then the child director of 福山社区, on a phone (390×844), opens the matches of a
child's counselling need and the plan's charity resource is that project, with the fund's name and what it has.
Every page is measured for sideways scrolling, the supervisor's list at 360 px too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from marketplace.auth.principal import Principal
from marketplace.funds import sources
from tests.browser.test_accessibility import check
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import go, no_sideways_scroll
from tests.browser.viewports import LAPTOP, PHONE
from tests.cases.support import add_child, add_need

pytestmark = pytest.mark.browser


@pytest.fixture
async def street_money(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """福田街道's 2026 micro-project fund (nothing allocated yet) with a declared counselling project, and a child of
    福山社区 who needs counselling."""
    admin = Principal(user_id=world.users["admin"], username="admin", role="district_admin")
    async with db.session() as s:
        fund = await sources.create_source(
            s,
            admin,
            code="futian_micro_2026",
            name="福田街道民生微实事资金（2026年）",
            kind="micro_project",
            street_id=world.streets[0],
            year=2026,
        )
        project = await sources.create_project(
            s,
            admin,
            fund.id,
            title="留守儿童心理关爱小组",
            category="psych_counselling",
            requested_fen=9_000_000,
            community_id=world.communities[0],
        )
        child = await add_child(s, settings, world.communities[0], world.streets[0], name="陈小乐", seq="971")
        need = await add_need(s, child, "psych_counselling")
        return {"fund": fund.id, "project": project.id, "need": need.id}


def test_an_allocation_and_an_approval_reach_the_childs_plan(
    live_server: str, world: Any, street_money: dict[str, int], shots: Path, browser: Any
) -> None:
    base = live_server
    desk = browser.new_context(**LAPTOP, bypass_csp=True)  # axe is injected as a script
    page = desk.new_page()
    errors: list[str] = []
    found: list[str] = []  # axe's findings and sideways scrolling, at every width
    page.on("pageerror", lambda e: errors.append(str(e)))

    login(page, base, "fund")
    go(page, False, "慈善资源")
    page.wait_for_url("**/admin/funds/sources")
    check(page, "fund /admin/funds/sources", found)
    page.click("#fund-sources a:has-text('福田街道民生微实事资金')")
    page.wait_for_url(re.compile(rf".*/admin/funds/sources/{street_money['fund']}$"))
    assert "尚未下达" in page.inner_text("#allocations")

    # A typo in the amount: the form comes back with the message and the document number as typed.
    page.fill("#allocation-form input[name=key]", "福民微〔2026〕03号")
    page.fill("#allocation-form input[name=amount]", "58万")
    page.click("#allocation-form button[type=submit]")
    assert "请填写金额" in page.inner_text("#allocations")
    assert page.input_value("#allocation-form input[name=key]") == "福民微〔2026〕03号"
    check(page, "fund /admin/funds/sources/{id} (allocation refused)", found)
    page.fill("#allocation-form input[name=amount]", "580,000")
    page.click("#allocation-form button[type=submit]")
    page.wait_for_url(re.compile(r".*\?done=allocated"))
    assert "区级下达已入账" in page.content() and "¥580,000.00" in page.inner_text("#allocations")
    assert "¥580,000.00" in page.inner_text("#fund-available")
    page.screenshot(path=str(shots / "laptop-fund-sources-allocated.png"), full_page=True)

    # 立项 for 80,000 of the 90,000 declared: held on the fund.
    row = page.locator(f"#project-{street_money['project']}")
    row.locator("input[name=amount]").fill("80000")
    row.get_by_role("button", name="立项", exact=True).click()
    page.wait_for_url(re.compile(r".*\?done=approve"))
    row = page.locator(f"#project-{street_money['project']}")
    assert "立项" in row.inner_text() and "¥80,000.00" in row.inner_text()
    assert "¥500,000.00" in page.inner_text("#fund-available") and "¥80,000.00" in page.inner_text("#fund-held")
    check(page, "fund /admin/funds/sources/{id} (project approved)", found)
    logout(page)
    desk.close()

    # The director, on a phone: the child's counselling need is offered the street's project money.
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "director")
    page.goto(f"{base}/admin/needs/{street_money['need']}/matches")
    match = page.locator(f"#match-{world.services[0]}")
    plan = match.inner_text()
    assert "民生微实事项目“留守儿童心理关爱小组”" in plan, plan
    assert "福田街道民生微实事资金（2026年） 可用 ¥80,000.00" in plan
    no_sideways_scroll(page, page.url)
    page.screenshot(path=str(shots / "phone-matches-street-money.png"), full_page=True)
    logout(page)
    phone.close()

    # The street's supervisor reads the street's funds on a 360 px phone, without sideways scrolling.
    small = browser.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = small.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "supervisor")
    page.goto(f"{base}/admin/funds/sources")
    assert "福田街道民生微实事资金（2026年）" in page.inner_text("#fund-sources")
    no_sideways_scroll(page, page.url)
    page.goto(f"{base}/admin/funds/sources/{street_money['fund']}")
    assert "留守儿童心理关爱小组" in page.inner_text("#projects")
    no_sideways_scroll(page, page.url)
    small.close()
    assert errors == [] and found == [], (errors, found)
