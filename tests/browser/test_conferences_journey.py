"""A case conference in real browsers: the street's supervisor (laptop) convenes one for a child from the child's page
with the school and the police station, records the minutes, the attendance and two decisions (one the director's,
one the police station's followed up by the supervisor); the director, on a phone (360×740), finds hers under 个案会商
("my decisions") and marks it done; the child's timeline shows the conference and the decision done. The state is
then checked through the API; the director's pages are measured for sideways scrolling."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.browser.test_accessibility import AXE, EXCLUDED, RUN, TAGS
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll
from tests.cases.support import add_child

pytestmark = pytest.mark.browser


def axe_clean(page: Any, where: str) -> None:
    """No WCAG 2 A/AA violation on the page (axe-core, as tests/browser/test_accessibility.py runs it)."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(RUN, [TAGS, list(EXCLUDED)])
    assert violations == [], f"{where}: {violations}"


@pytest.fixture
async def child(db: Any, world: Any, settings: Any) -> int:
    async with db.session() as s:
        kid = await add_child(s, settings, world.communities[0], world.streets[0], name="周小禾", seq="981")
        return kid.id


def test_supervisor_convenes_and_the_director_marks_her_decision_done(
    live_server: str, world: Any, child: int, shots: Path, browser: Any
) -> None:
    base = live_server
    errors: list[str] = []

    # The supervisor, on a laptop: the child's page → 召集个案会商.
    sup = browser.new_context(**LAPTOP, bypass_csp=True).new_page()
    sup.on("pageerror", lambda e: errors.append(str(e)))
    login(sup, base, "supervisor")
    sup.goto(f"{base}/admin/children/{child}")
    sup.click("#conferences >> text=召集个案会商")
    sup.wait_for_url(f"**/admin/conferences/new?child={child}")
    sup.fill("textarea[name=topic]", "孩子近月多次缺课、情绪低落，研究就学与监护支持")
    sup.fill("input[name=date]", (clock.today() + dt.timedelta(days=1)).isoformat())
    sup.fill("input[name=time]", "15:00")
    sup.fill("input[name=place]", "福山社区党群服务中心")
    sup.check(f"input[name=participant_ids][value='{world.users['director']}']")
    sup.select_option("select[name=party0_kind]", "school")
    sup.fill("input[name=party0_organisation]", "福山小学")
    sup.fill("input[name=party0_name]", "陈老师（班主任）")
    sup.select_option("select[name=party1_kind]", "police")
    sup.fill("input[name=party1_organisation]", "福田派出所")
    sup.fill("input[name=party1_name]", "刘警官")
    sup.click("button:has-text('召集会商')")
    sup.wait_for_url(re.compile(r".*/admin/conferences/\d+\?done=convened"))
    conference = int(re.search(r"/admin/conferences/(\d+)", sup.url).group(1))  # type: ignore[union-attr]
    assert "会商已召集" in sup.content() and "福田派出所" in sup.inner_text("#participants")
    sup.screenshot(path=str(shots / "laptop-conference-convened.png"), full_page=True)

    # Held: the minutes, the police officer absent, two decisions.
    due = (clock.today() + dt.timedelta(days=7)).isoformat()
    sup.fill("#held-form textarea[name=minutes]", "班主任通报缺课情况；商定社区入户核实，派出所联系在外务工的父亲。")
    police = sup.locator("#held-form label.check", has_text="福田派出所").locator("input")
    police.uncheck()
    sup.fill("textarea[name=d0_text]", "入户核实祖母的照料情况")
    sup.select_option("select[name=d0_owner]", f"u:{world.users['director']}")
    sup.fill("input[name=d0_due_on]", due)
    sup.fill("textarea[name=d1_text]", "派出所联系在外务工的父亲")
    sup.select_option("select[name=d1_owner]", label="派出所·福田派出所（刘警官）")
    sup.select_option("select[name=d1_follow_up_by]", str(world.users["supervisor"]))
    sup.fill("input[name=d1_due_on]", due)
    sup.click("button:has-text('保存纪要和决定')")
    sup.wait_for_url(re.compile(r".*\?done=held"))
    decisions = sup.inner_text("#decisions")
    assert "入户核实祖母的照料情况" in decisions and "派出所联系在外务工的父亲" in decisions
    assert "未出席" in sup.inner_text("#participants")
    sup.screenshot(path=str(shots / "laptop-conference-held.png"), full_page=True)
    axe_clean(sup, "the conference's page")

    # The director, on a phone: 个案会商 → my decisions → marked done.
    page = browser.new_context(**PHONE, bypass_csp=True).new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "director")
    go(page, True, "个案会商")
    page.wait_for_url("**/admin/conferences")
    mine = page.locator("#my-decisions li", has_text="入户核实祖母的照料情况")
    assert "派出所联系" not in page.inner_text("#my-decisions")
    no_sideways_scroll(page, "my decisions")
    axe_clean(page, "my decisions")
    page.screenshot(path=str(shots / "phone-conference-my-decisions.png"), full_page=True)
    mine.locator("summary").click()
    mine.locator("textarea").fill("已入户，祖母身体尚可，姑姑每周来照看")
    mine.locator("button:has-text('已落实')").click()
    page.wait_for_url(re.compile(r".*/admin/conferences\?done=done.*"))
    assert "已标记落实" in page.content() and "暂无待落实的会商决定" in page.inner_text("#my-decisions")

    # The conference's page and the child's timeline tell it.
    page.goto(f"{base}/admin/conferences/{conference}")
    assert "已入户，祖母身体尚可" in page.inner_text("#decisions")
    no_sideways_scroll(page, "conference page")
    page.goto(f"{base}/admin/children/{child}")
    timeline = page.inner_text("#timeline")
    assert "个案会商已召开" in timeline and "会商决定已落实" in timeline and "召集个案会商" in timeline
    no_sideways_scroll(page, "child page")
    page.screenshot(path=str(shots / "phone-conference-timeline.png"), full_page=True)

    # Through the API: one decision done, one open; the conference still held.
    body = api(base, "supervisor", f"/api/v1/conferences/{conference}")
    assert body["status"] == "held"
    assert sorted(d["status"] for d in body["decisions"]) == ["done", "open"]
    assert errors == []
