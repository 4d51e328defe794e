"""A child director on a phone (390×844) registers a volunteer (a mistyped identity number caught as it is typed),
adds her to the street's team, logs 2 h at this week's activity of the community's children's home, issues the
certificate of hours, and the public verification page (no login) shows it valid with the name masked. Every page is
measured for sideways scrolling and passes axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.browser.test_accessibility import check
from tests.browser.test_console import login
from tests.browser.test_director_journey import api, go, no_sideways_scroll
from tests.browser.viewports import PHONE
from tests.volunteers.support import add_activity, id_of_age
from tests.volunteers.test_api import add_team

pytestmark = pytest.mark.browser


@pytest.fixture
async def places(db: Any, world: Any) -> dict[str, int]:
    team = await add_team(db, world.streets[0], "福田街道巾帼志愿服务队")
    activity = await add_activity(db, world.streets[0], world.communities[0], clock.today(), title="周末绘本共读")
    return {"team": team, "activity": activity}


def test_director_registers_a_volunteer_logs_hours_and_certifies(
    live_server: str, world: Any, places: dict[str, int], shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"phone-volunteers-{name}.png"), full_page=True)

    login(page, base, "director")
    go(page, True, "志愿者")
    page.wait_for_url("**/admin/volunteers")
    shot("list-empty")
    page.click("#volunteer-new")
    page.wait_for_url("**/admin/volunteers/new")
    number = id_of_age(34, "521")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    page.fill("input[name=name]", "周晓敏")
    page.fill("input[name=id_number]", wrong)
    page.locator("#id-check .id-problem", has_text="校验位不符").wait_for()
    shot("id-wrong")
    page.fill("input[name=id_number]", number)
    page.locator("#id-check .id-ok", has_text="34岁").wait_for()
    page.fill("input[name=phone]", "13700001111")
    page.check("input[name=skills][value=reading]")
    page.fill("input[name=availability]", "周六上午")
    shot("form")
    page.click("button:has-text('登记')")
    page.wait_for_url(re.compile(r".*/admin/volunteers/\d+\?done=registered"))
    volunteer_id = int(re.search(r"/admin/volunteers/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert "周晓敏" in page.inner_text("h1") and "137****1111" in page.content() and number not in page.content()

    page.select_option("#join-form select[name=team_id]", str(places["team"]))
    page.click("#join-form button:has-text('加入')")
    page.wait_for_url(re.compile(r".*done=joined"))
    assert "福田街道巾帼志愿服务队" in page.inner_text("#teams + ul")

    page.select_option("#hours-form select[name=activity_id]", str(places["activity"]))
    page.fill("#hours-form input[name=hours]", "2")
    page.fill("#hours-form input[name=task]", "带读绘本")
    shot("hours-form")
    page.click("#hours-form button:has-text('登记时长')")
    page.wait_for_url(re.compile(r".*done=hours"))
    assert "周末绘本共读" in page.inner_text("#hours-list") and "合计 2.0 小时" in page.inner_text("#hours")
    shot("person")

    page.click("#certificate-form button:has-text('出具证明')")
    page.wait_for_url(re.compile(r".*/admin/volunteers/certificates/\d+"))
    assert "2.0 小时" in page.inner_text("#certificate-hours")
    link = page.get_attribute("#verify-link", "href")
    assert link and link.startswith("/admin/public/volunteer-certificates/")
    shot("certificate")
    context.close()

    # Anyone with the code: no login.
    public = browser.new_context(**PHONE)
    page = public.new_page()
    page.goto(base + link)
    result = page.inner_text("#verify-result")
    assert "有效" in result and "无效" not in result
    assert page.inner_text("#verify-name") == "周**" and "2.0 小时" in page.inner_text("#verify-hours")
    assert "13700001111" not in page.content() and number not in page.content()
    no_sideways_scroll(page, page.url)
    page.screenshot(path=str(shots / "phone-volunteers-verified.png"), full_page=True)
    public.close()

    hours = api(base, "director", f"/api/v1/volunteers/{volunteer_id}/hours")
    assert [h["minutes"] for h in hours["items"]] == [120]
    assert errors == []

    # The pages pass axe (WCAG 2 A/AA) at each width (axe is injected: CSP bypassed).
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    login(page, base, "director")
    found: list[str] = []
    page.goto(f"{base}/admin/volunteers")
    check(page, "director /admin/volunteers", found, menu=True)
    page.goto(f"{base}/admin/volunteers/{volunteer_id}")
    check(page, "director volunteer page", found)
    page.goto(f"{base}/admin/volunteers/new")
    page.fill("input[name=name]", "李明")
    page.fill("input[name=id_number]", id_of_age(15, "523"))
    page.click("button:has-text('登记')")
    page.locator("#form-error", has_text="16").wait_for()
    check(page, "director volunteer form (refused)", found)
    page.goto(base + link)
    check(page, "public certificate verification", found)
    assert found == [], "\n".join(found)
    context.close()
