"""The issue's journey in a real browser: the street's supervisor takes a 12355 call about a child nobody has a
file for; the community's director, on a phone (390×844), sees it among the calls waiting, triages it into a
mandatory report, then opens the child's file from it (the report linked); the child's page shows the call, the
report and the file's emergency need on one timeline. The outcome is then checked through the API, and every page
the director used is measured for sideways scrolling."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_accessibility import check
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import api, no_sideways_scroll
from tests.browser.viewports import LAPTOP, PHONE
from tests.cases.support import birth_for_age, id_number

pytestmark = pytest.mark.browser


def test_a_hotline_call_becomes_a_report_and_a_file_on_one_timeline(
    live_server: str, world: Any, shots: Path, browser: Any
) -> None:
    base = live_server
    errors: list[str] = []
    found: list[str] = []  # accessibility violations (axe), at the laptop's and the phone's widths

    # The street's supervisor takes the call on the quick form.
    desk = browser.new_context(**LAPTOP, bypass_csp=True)
    page = desk.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "supervisor")
    page.click("nav >> text=来电与反映")
    page.wait_for_url("**/admin/intakes")
    page.click("#new-intake")
    page.wait_for_url("**/admin/intakes/new")
    check(page, "supervisor /admin/intakes/new", found)
    page.select_option("select[name=channel]", "hotline_12355")
    page.check("input[name=urgency][value='3']")
    page.fill("textarea[name=what]", "来电称一名男孩连续两晚在荔枝公园长椅过夜，自称父母在外地打工")
    page.fill("input[name=place]", "福山社区荔枝公园北门")
    page.select_option("select[name=community_id]", str(world.communities[0]))
    page.fill("input[name=subject_name]", "小军")
    page.fill("textarea[name=subject_description]", "男孩，约9岁，穿蓝色校服")
    page.fill("input[name=caller_name]", "陈女士")
    page.fill("input[name=caller_phone]", "13712345678")
    page.fill("input[name=caller_relation]", "晨练居民")
    page.screenshot(path=str(shots / "intake-new.png"), full_page=True)
    page.click("button:has-text('登记并转社区研判')")
    page.wait_for_url(re.compile(r".*/admin/intakes/\d+\?done=created"))
    intake_id = int(re.search(r"/admin/intakes/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert "来电已登记" in page.content()
    logout(page)
    desk.close()

    # The community's director, on a phone: the call is waiting, with its deadline.
    phone = browser.new_context(**PHONE, bypass_csp=True)
    page = phone.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    checked: set[str] = set()

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        checked.add(page.url.split("?")[0].removeprefix(base))
        page.screenshot(path=str(shots / f"phone-intake-{name}.png"), full_page=True)

    login(page, base, "director")
    page.click("label.nav-button")
    page.click("nav >> text=来电与反映")
    page.wait_for_url("**/admin/intakes")
    card = page.locator(f"#intake-{intake_id}")
    assert "待研判" in card.inner_text() and "12355青少年服务热线" in card.inner_text()
    shot("list")
    card.locator("a").click()
    page.wait_for_url(f"**/admin/intakes/{intake_id}")
    assert "13712345678" in page.inner_text("#intake")  # to call back
    shot("intake")
    check(page, "director /admin/intakes/{id}", found)
    page.set_viewport_size(PHONE["viewport"])  # type: ignore[arg-type]

    # Triage: a mandatory report about the unidentified child.
    page.select_option("#triage-report select[name=report_kind]", "lives_alone")
    page.check("#triage-report input[name=police_notified]")
    page.click("#triage-report button:has-text('提交强制报告')")
    page.wait_for_url(re.compile(rf".*/admin/intakes/{intake_id}\?done=triaged"))
    assert "转为强制报告" in page.inner_text("#triages")
    shot("reported")
    check(page, "director /admin/intakes/{id} (the file to open)", found)
    page.set_viewport_size(PHONE["viewport"])  # type: ignore[arg-type]

    # The file, opened from the intake: the report is linked to it.
    birth = birth_for_age(9)
    form = page.locator("#follow-file")
    assert form.locator("input[name=name]").input_value() == "小军"
    form.locator("input[name=name]").fill("刘小军")
    form.locator("input[name=id_number]").fill(id_number(birth, "971"))
    form.locator("input[name=birth_date]").fill(birth.isoformat())
    form.locator("select[name=gender]").select_option("male")
    form.locator("input[name=categories][value=left_behind]").check()
    form.locator("select[name=risk_level]").select_option("high")
    form.locator("input[name=guardian_name]").fill("刘建国")
    form.locator("input[name=guardian_relation]").fill("父亲")
    shot("file-form")
    form.locator("button:has-text('建立档案并关联报告')").click()
    page.wait_for_url(re.compile(r".*/admin/children/\d+\?done=created"))
    child_id = int(re.search(r"/admin/children/(\d+)", page.url).group(1))  # type: ignore[union-attr]

    # One timeline: the call, its triage, the report and the file's emergency need.
    timeline = page.inner_text("#timeline")
    for seen in ("12355热线来电", "来电研判：转为强制报告", "强制报告：独居无人照料", "紧急需求"):
        assert seen in timeline, seen
    assert "13712345678" not in timeline and "陈女士" not in timeline
    assert "12355青少年服务热线" in page.inner_text("#intakes")
    shot("child")
    assert {"/admin/intakes", f"/admin/intakes/{intake_id}", f"/admin/children/{child_id}"} <= checked
    phone.close()
    assert not errors, errors
    assert not found, f"{len(found)} accessibility violations:\n" + "\n".join(found)

    # The outcome, through the API.
    intake = api(base, "director", f"/api/v1/intakes/{intake_id}")
    assert intake["status"] == "triaged" and intake["outcome"] == "mandatory_report"
    assert intake["child_id"] == child_id
    assert [t["outcome"] for t in intake["triages"]] == ["mandatory_report", "new_file"]
    report = api(base, "director", f"/api/v1/mandatory-reports/{intake['report_id']}")
    assert report["child_id"] == child_id and report["need_id"] is not None and report["police_notified"] is True
    events = api(base, "director", f"/api/v1/children/{child_id}/timeline")["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("intake_received") < kinds.index("report") < kinds.index("need_opened")
