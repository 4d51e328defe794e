"""The yearly assessment (述职考核) in the console: the director, on a phone (390×844), opens 我的考核 and writes
the self-report (an empty one refused in place first); the supervisor scores it; the district confirms it and sees
the grade with every indicator's inputs; the street ranking shows the directors' assessment. Every page is measured
for sideways scrolling, and the director's pages and the district's pass axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.workforce import service
from marketplace.workforce.schemas import WorkforceAssessmentOpenIn
from tests.browser.test_accessibility import check
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import api, go, no_sideways_scroll
from tests.browser.viewports import LAPTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
async def opened(db: Any, world: Any) -> int:
    """This year's assessment of the director of 福山, opened by the street's supervisor."""
    supervisor = Principal(
        user_id=world.users["supervisor"], username="supervisor", role="child_supervisor", street_id=world.streets[0]
    )
    async with db.session() as s:
        row = await service.open_assessment(
            s, supervisor, WorkforceAssessmentOpenIn(user_id=world.users["director"], year=clock.today().year)
        )
        return row.id


def test_director_reports_supervisor_scores_district_confirms(
    live_server: str, world: Any, opened: int, shots: Path, browser: Any
) -> None:
    base = live_server
    url = f"{base}/admin/workforce/assessments/{opened}"
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"workforce-{name}.png"), full_page=True)

    # The director on a phone: 我的考核 opens this year's assessment, with the indicators' inputs.
    login(page, base, "director")
    go(page, True, "我的考核")
    page.wait_for_url(re.compile(rf".*/admin/workforce/assessments/{opened}"))
    assert "待述职" in page.inner_text("#assessment-status")
    assert "按时走访" in page.inner_text("#indicator-visits_on_time")
    shot("director-open")
    page.fill("textarea[name=text]", "   ")
    page.fill("textarea[name=claims]", "组织防溺水安全教育活动2场")
    page.click("button:has-text('提交述职报告')")
    page.locator("#form-error", has_text="述职报告").wait_for()
    assert page.input_value("textarea[name=claims]") == "组织防溺水安全教育活动2场"
    shot("director-refused")
    page.fill("textarea[name=text]", "本年度按计划走访在册儿童，及时更新档案，协助处置强制报告线索。")
    page.click("button:has-text('提交述职报告')")
    page.wait_for_url(re.compile(r".*done=self_report"))
    assert "已述职待评分" in page.inner_text("#assessment-status")
    assert "组织防溺水安全教育活动2场" in page.inner_text("#self-report")
    shot("director-reported")
    logout(page)

    # The supervisor scores it.
    login(page, base, "supervisor")
    page.goto(url)
    page.fill("input[name=score]", "90")
    page.fill("textarea[name=comment]", "走访扎实，报告及时。")
    page.click("button:has-text('保存评分')")
    page.wait_for_url(re.compile(r".*done=score"))
    assert "已评分待确认" in page.inner_text("#assessment-status")
    shot("supervisor-scored")
    context.close()

    # The district, at a desk, confirms and sees the grade; the ranking shows the indicator.
    context = browser.new_context(**LAPTOP)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "admin")
    page.goto(url)
    page.click("button:has-text('确认考核结果')")
    page.wait_for_url(re.compile(r".*done=confirm"))
    shown = api(base, "admin", f"/api/v1/workforce/assessments/{opened}")
    assert shown["status"] == "confirmed" and shown["grade_label"]
    result = page.inner_text("#assessment-result")
    assert str(shown["result"]) in result and shown["grade_label"] in result
    shot("district-confirmed")
    page.goto(f"{base}/admin/reports")
    table = page.inner_text("#report-ranking table")
    assert "儿童主任考核" in table and f"{shown['result']:.1f}（1人）" in table
    assert errors == []
    context.close()

    # axe (WCAG 2 A/AA) on the director's pages and the district's overview.
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    found: list[str] = []
    login(page, base, "director")
    page.goto(url)
    check(page, "director assessment page", found, menu=True)
    page.goto(f"{base}/admin/workforce/people/{world.users['director']}")
    check(page, "director workforce person page", found)
    logout(page)
    login(page, base, "admin")
    page.goto(f"{base}/admin/workforce")
    check(page, "district workforce overview", found)
    assert found == [], "\n".join(found)
    # The smallest phone: no sideways scrolling on the overview, a person's page or the assessment.
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/admin/workforce", f"/admin/workforce/people/{world.users['director']}", url[len(base) :]):
        page.goto(base + path)
        no_sideways_scroll(page, f"{path} at 360 px")
    context.close()
