"""十防 safety in a real browser: the director, on a phone (390×844), sees a red warning on the board, opens the
child, completes the drowning checklist (a missed item with its note), and acknowledges the warning with the action
taken; the street's supervisor sees the escalated warning of another community first and adds a note."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.safety import service
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, go, no_sideways_scroll
from tests.browser.viewports import PHONE
from tests.cases.support import add_child

pytestmark = pytest.mark.browser


@pytest.fixture
async def warned(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """In 福山: a critical-risk child 40 days past a visit (red); in 岗厦 (the same street): a high-risk child 10
    days past (orange), raised 80 hours ago and not acknowledged: escalated to the street's supervisor."""
    today, now = clock.today(), clock.now()
    async with db.session() as s:
        red = await add_child(s, settings, world.communities[0], world.streets[0], name="吴小溪", seq="961")
        red.risk_level, red.next_visit_due = "critical", today - dt.timedelta(days=40)
        orange = await add_child(s, settings, world.communities[1], world.streets[0], name="郑小岚", seq="963")
        orange.risk_level, orange.next_visit_due = "high", today - dt.timedelta(days=10)
        await s.flush()
        await service.grade_child(s, service.facts_of(red), now, today)
        await service.grade_child(s, service.facts_of(orange), now - dt.timedelta(hours=80), today)
        assert await service.escalate_due(s, now) == 1
        w_red = await service.open_warning(s, red.id)
        w_orange = await service.open_warning(s, orange.id)
        assert w_red is not None and w_orange is not None and w_red.grade == "red" and w_orange.grade == "orange"
        return {"red": red.id, "orange": orange.id, "w_red": w_red.id, "w_orange": w_orange.id}


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_director_checks_and_acknowledges_supervisor_notes(
    live_server: str, world: Any, warned: dict[str, int], shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    context = browser.new_context(**(PHONE if phone else LAPTOP))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-safety-{name}.png"), full_page=True)

    login(page, base, "director")
    go(page, phone, "安全预警")
    page.wait_for_url("**/admin/safety")
    item = page.locator(f"#warning-{warned['w_red']}")
    assert "红色预警" in item.inner_text() and "吴小溪" in item.inner_text() and "待处置" in item.inner_text()
    assert page.locator(f"#warning-{warned['w_orange']}").count() == 0  # another community's
    shot("board")

    # The child's page: the warning, this season's checklists; the drowning checklist from the form's tabs.
    page.goto(f"{base}/admin/children/{warned['red']}#safety")
    assert "红色预警" in page.inner_text("#safety")
    shot("child")
    page.goto(f"{base}/admin/children/{warned['red']}/safety-check?prevention=fire")
    page.click(".prevention-tabs >> text=防溺水")
    page.wait_for_url(re.compile(r".*prevention=drowning"))
    for code in ("told_six_nevers", "guardian_pledge", "water_spots_known"):
        page.locator(f"#item-{code} label.answer-done").click()
    page.locator("#item-summer_care_plan label.answer-missed").click()
    shot("checklist")
    # Without the note of the missed item the form comes back with the answers as chosen.
    page.click("button:has-text('提交检查')")
    page.locator("#form-error", has_text="请写明原因").wait_for()
    assert page.locator("#item-summer_care_plan input[value=missed]").is_checked()
    page.fill("#note-summer_care_plan", "父母外出务工，假期无人看护")
    page.click("button:has-text('提交检查')")
    page.wait_for_url(re.compile(r".*/admin/children/\d+\?done=safety"))
    assert "十防检查已记录" in page.content()
    page.click("#safety summary")
    assert "父母外出务工，假期无人看护" in page.inner_text("#safety")
    shot("checked")

    # Acknowledge with the action taken.
    page.click("#safety a:has-text('处置预警')")
    page.wait_for_url(f"**/admin/safety/warnings/{warned['w_red']}")
    page.fill("#ack-note", "已入户核实，联系外婆暂住照看，明日复访")
    shot("acknowledge")
    page.click("button:has-text('确认已处置')")
    page.wait_for_url(re.compile(r".*\?done=ack"))
    assert "已处置并记录措施" in page.content() and "联系外婆暂住照看" in page.inner_text("#history")
    shot("acknowledged")
    context.close()

    # The street's supervisor: the escalated warning first, a note on it.
    context = browser.new_context(**(PHONE if phone else LAPTOP))
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "supervisor")
    go(page, phone, "安全预警")
    page.wait_for_url("**/admin/safety")
    first = page.locator(".safety-warnings > li").first
    assert "郑小岚" in first.inner_text() and "已升级至街道督导员" in first.inner_text()
    shot("supervisor-board")
    first.locator("a.button").click()
    page.wait_for_url(f"**/admin/safety/warnings/{warned['w_orange']}")
    page.fill("#action-note", "已电话督促岗厦社区儿童主任今日入户")
    page.click("button:has-text('保存')")
    page.wait_for_url(re.compile(r".*\?done=note"))
    assert "督导意见" in page.inner_text("#history") and "今日入户" in page.inner_text("#history")
    shot("supervisor-noted")
    assert errors == []
    context.close()
