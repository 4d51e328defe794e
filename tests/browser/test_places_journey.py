"""A child director on a phone (390×844) records an activity at their community's children's home: two of the
community's children chosen by tapping their names (one found through the search box), the others counted; a
title of blanks is refused in place first, with what was typed kept. The activity is then in the home's list. The
district opens the usage page and sees the street's numbers move. Every page is measured for sideways scrolling
(also at 360 px) and passes axe."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.places.models import Place
from tests.browser.test_accessibility import check
from tests.browser.test_console import login
from tests.browser.test_director_journey import api, go, no_sideways_scroll
from tests.browser.viewports import LAPTOP, PHONE
from tests.cases.support import add_child

pytestmark = pytest.mark.browser


@pytest.fixture
async def home(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """福山's children's home, and four children of 福山 on file."""
    c1, s1 = world.communities[0], world.streets[0]
    async with db.session() as s:
        kids = {}
        for name, seq, cats in (
            ("刘小雨", "961", ["left_behind"]),
            ("张小明", "963", ["orphan"]),
            ("陈思远", "965", ["left_behind"]),
            ("王欣怡", "967", ["disabled"]),
        ):
            kids[name] = (await add_child(s, settings, c1, s1, name=name, seq=seq, categories=cats)).id
        place = Place(
            kind="children_home",
            street_id=s1,
            community_id=c1,
            name="福山社区儿童之家",
            address="福田区福田街道福山路18号",
            opening_hours="周一至周五 16:00-20:00",
            facilities=["reading_corner", "activity_room"],
        )
        s.add(place)
        await s.flush()
        return {"home": place.id, **kids}


def test_director_records_an_activity_and_the_district_sees_the_usage(
    live_server: str, world: Any, home: dict[str, int], shots: Path, browser: Any
) -> None:
    base = live_server
    today = clock.today()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    before = api(base, "admin", f"/api/v1/places/usage?year={year}&quarter={quarter}")
    street = next(r for r in before["streets"] if r["street_id"] == world.streets[0])
    assert street["activities"] == 0

    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"phone-places-{name}.png"), full_page=True)

    login(page, base, "director")
    go(page, True, "儿童阵地")
    page.wait_for_url("**/admin/places")
    page.click("text=福山社区儿童之家")
    page.wait_for_url(re.compile(rf".*/admin/places/{home['home']}$"))
    shot("home")
    page.click("#record-activity")
    page.wait_for_url("**/activities/new")
    held = (today - dt.timedelta(days=1)).isoformat() if today.day > 1 else today.isoformat()
    page.fill("input[name=held_on]", held)
    page.select_option("select[name=kind]", "safety")
    page.fill("input[name=title]", "   ")  # passes the browser's "required", refused by the service
    page.fill("input[name=minutes]", "90")
    page.click("label.chip:has-text('刘小雨')")
    page.fill("#child-search", "张")
    assert not page.is_visible("label.chip:has-text('陈思远')")
    page.click("label.chip:has-text('张小明')")
    assert "已选 2 人" in page.inner_text("#picked-count")
    page.fill("input[name=other_children]", "6")
    page.fill("input[name=adults]", "3")
    page.fill("input[name=volunteers]", "2")
    shot("activity-form")
    page.click("button:has-text('保存活动')")
    page.locator("#form-error", has_text="活动名称").wait_for()
    assert page.input_value("input[name=held_on]") == held
    assert page.input_value("input[name=other_children]") == "6"
    assert page.is_checked(f"input[name=child_ids][value='{home['刘小雨']}']")
    assert page.is_checked(f"input[name=child_ids][value='{home['张小明']}']")
    assert page.get_attribute("input[name=title]", "aria-invalid") == "true"
    shot("activity-refused")
    page.fill("input[name=title]", "防溺水安全教育")
    page.click("button:has-text('保存活动')")
    page.wait_for_url(re.compile(r".*\?done=activity"))
    item = page.locator(".places-activities li", has_text="防溺水安全教育")
    text = item.inner_text()
    assert "儿童 8 人（建档 2）" in text and "刘小雨" in text and "张小明" in text and "志愿者 2" in text
    shot("activity-listed")
    assert errors == []
    context.close()

    # 360 px wide: the form does not scroll sideways either.
    narrow = browser.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = narrow.new_page()
    login(page, base, "director")
    page.goto(f"{base}/admin/places/{home['home']}/activities/new")
    no_sideways_scroll(page, "activity form at 360px")
    narrow.close()

    # The district's usage page: the street's numbers moved.
    context = browser.new_context(**LAPTOP)
    page = context.new_page()
    login(page, base, "admin")
    page.goto(f"{base}/admin/reports")
    page.click("text=各街道阵地使用情况")
    page.wait_for_url(re.compile(r".*/admin/places/usage.*"))
    row = page.locator(f"#usage-street-{world.streets[0]}")
    assert row.locator("[data-figure=activities]").inner_text() == "1"
    assert row.locator("[data-figure=on_file_times]").inner_text() == "2"
    assert "2 / 4" in row.inner_text()
    page.screenshot(path=str(shots / "laptop-places-usage.png"), full_page=True)
    context.close()

    # The pages pass axe (WCAG 2 A/AA).
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    login(page, base, "director")
    found: list[str] = []
    page.goto(f"{base}/admin/places")
    check(page, "director /admin/places", found, menu=True)
    page.goto(f"{base}/admin/places/{home['home']}")
    check(page, "director place page", found)
    page.goto(f"{base}/admin/places/{home['home']}/activities/new")
    check(page, "director activity form", found)
    context.close()
    context = browser.new_context(**LAPTOP, bypass_csp=True)
    page = context.new_page()
    login(page, base, "admin")
    page.goto(f"{base}/admin/places/usage")
    check(page, "district usage page", found)
    assert found == [], "\n".join(found)
    context.close()
