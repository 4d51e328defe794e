"""Guardianship in a real browser: the director, on a phone (390×844), opens a child's page, fills the guardianship
assessment rendered from the instrument and sees its score and result; records an entrusted guardianship whose
review falls within 30 days; the district, on a laptop, finds it on the guardianship board as due for review."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.guardianship import instrument as inst
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import LAPTOP, go, no_sideways_scroll
from tests.browser.viewports import PHONE
from tests.cases.support import add_child

pytestmark = pytest.mark.browser


@pytest.fixture
async def filed_child(db: Any, world: Any, settings: Any) -> int:
    async with db.session() as s:
        child = await add_child(s, settings, world.communities[0], world.streets[0], name="林小草")
        return child.id


def test_director_assesses_and_entrusts_on_a_phone_and_the_district_sees_the_review_due(
    live_server: str, filed_child: int, shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "director")
    page.goto(f"{base}/admin/children/{filed_child}")
    section = page.locator("section#guardianship")
    assert "尚未评估" in section.inner_text()
    section.locator("a:has-text('监护评估')").click()
    page.wait_for_url(f"**/admin/children/{filed_child}/guardianship/assess")
    no_sideways_scroll(page, "assessment form")
    # Every question answered with its second-best choice, the safety risks with the best.
    for item in inst.CURRENT.items():
        value = item.best if item.code in ("violence", "alone", "hazards") else item.best - 1
        page.locator(f"input[name=answer_{item.code}][value='{value}']").check()
    page.fill("textarea[name=note]", "祖母照料，起居尚可，学习辅导不足")
    page.screenshot(path=str(shots / "phone-director-guardianship-assess.png"), full_page=True)
    page.click("button:has-text('提交评估')")
    page.wait_for_url("**/admin/guardianship/assessments/*")
    score = page.locator("#assessment-score").inner_text()
    assert "73 分" in score and "监护基本合格需支持" in score
    assert "祖母照料" in page.content()
    no_sideways_scroll(page, "assessment result")
    page.screenshot(path=str(shots / "phone-director-guardianship-result.png"), full_page=True)

    # The entrusted guardianship, signed 11 months ago: its review (a year on) is within 30 days.
    page.goto(f"{base}/admin/children/{filed_child}/guardianship")
    page.click("summary:has-text('登记委托监护确认书')")
    page.fill("input[name=person_name]", "陈秀英")
    page.fill("input[name=relationship]", "外祖母")
    page.fill("input[name=contact_phone]", "13800138000")
    signed = clock.today() - dt.timedelta(days=340)
    page.fill("input[name=signed_on]", signed.isoformat())
    page.click("#entrust-form button:has-text('登记')")
    page.wait_for_url(f"**/admin/children/{filed_child}/guardianship?done=entrusted")
    assert "委托监护确认书已登记" in page.content()
    assert page.locator("#guardianship-label").inner_text() == "委托监护"
    no_sideways_scroll(page, "child guardianship")
    page.screenshot(path=str(shots / "phone-director-guardianship-entrusted.png"), full_page=True)
    logout(page)
    context.close()

    context = browser.new_context(**LAPTOP)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "admin")
    go(page, False, "监护管理")
    page.wait_for_url("**/admin/guardianship")
    due = page.locator("#entrusted-due").inner_text()
    assert "林小草" in due and "陈**" in due and "13800138000" not in due
    page.screenshot(path=str(shots / "laptop-district-guardianship-board.png"), full_page=True)
    context.close()
    assert not errors, errors
