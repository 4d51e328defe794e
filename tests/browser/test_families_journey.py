"""A child director on a phone (390×844) keeps left-behind children in touch with their parents: the alert list
shows a child whose father stopped calling; one tap on the child's page records today's call and the child leaves
the list; a mother working in Nanning is recorded for another child (a bad phone number first, refused in place)
and a video call with her is recorded. Every page is measured for sideways scrolling."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.families import service
from marketplace.families.models import ParentAway
from tests.browser.test_accessibility import check
from tests.browser.test_console import login
from tests.browser.test_director_journey import api, go, no_sideways_scroll
from tests.browser.viewports import PHONE
from tests.cases.support import add_child

pytestmark = pytest.mark.browser


@pytest.fixture
async def families(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """In 福山: 刘小雨, whose father in 东莞 has not called for 25 days (alerted), and 张小明, nobody recorded yet."""
    async with db.session() as s:
        alerted = await add_child(s, settings, world.communities[0], world.streets[0], name="刘小雨", seq="961")
        fresh = await add_child(s, settings, world.communities[0], world.streets[0], name="张小明", seq="963")
        father = ParentAway(
            child_id=alerted.id,
            version=1,
            relation="father",
            name="刘志强",
            work_province="广东省",
            work_city="东莞市",
            employer="某电子厂",
            job="普工",
            phone="13812345678",
            frequency="weekly",
            tracked_from=clock.today() - dt.timedelta(days=25),
        )
        s.add(father)
        await s.flush()
        father.lineage_id = father.id
        done = await service.check_contact(s)
        assert done["opened"] == 1
        return {"alerted": alerted.id, "fresh": fresh.id, "father": father.id}


def test_director_records_contacts_on_a_phone(
    live_server: str, world: Any, families: dict[str, int], shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"phone-families-{name}.png"), full_page=True)

    login(page, base, "director")
    go(page, True, "亲情联系")
    page.wait_for_url("**/admin/families")
    alert = page.locator(".families-alerts li", has_text="刘小雨")
    assert "已升级至街道督导员" not in alert.inner_text() and "东莞市" in alert.inner_text()
    shot("alerts")

    # The child's page: the father with the alert, and one tap records today's call.
    alert.locator("a").click()
    page.wait_for_url(re.compile(rf".*/admin/children/{families['alerted']}"))
    father = page.locator(f"#parent-{families['father']}")
    assert "联系中断" in father.inner_text() and "13812345678" in father.inner_text()
    shot("child-alerted")
    father.locator("button", has_text="电话").click()
    page.wait_for_url(re.compile(r".*\?families=contact"))
    father = page.locator(f"#parent-{families['father']}")
    assert "联系中断" not in father.inner_text() and "0 天前" in father.inner_text()
    assert "已登记联系" in page.inner_text("#families")
    timeline = page.inner_text("#timeline")
    assert "父亲联系中断" in timeline and "父亲恢复联系" in timeline
    shot("child-contacted")

    # The child left the alert list.
    go(page, True, "亲情联系")
    page.wait_for_url("**/admin/families")
    assert "刘小雨" not in page.content() and "暂无联系中断的儿童" in page.content()

    # Another child: the mother working in Nanning, a bad phone number refused in place first.
    page.goto(f"{base}/admin/children/{families['fresh']}#families")
    page.click("#families a:has-text('登记外出务工的父母')")
    page.wait_for_url("**/parents/new")
    page.select_option("select[name=relation]", "mother")
    page.fill("input[name=name]", "李秀英")
    page.fill("input[name=work_province]", "广西壮族自治区")
    page.fill("input[name=work_city]", "南宁市")
    page.fill("input[name=job]", "钢筋工")
    page.fill("input[name=phone]", "请打微信")
    page.select_option("select[name=frequency]", "biweekly")
    shot("parent-form")
    page.click("button:has-text('保存')")
    page.locator("#form-error", has_text="手机号").wait_for()
    assert page.input_value("input[name=work_city]") == "南宁市"
    assert page.get_attribute("input[name=phone]", "aria-invalid") == "true"
    shot("parent-form-refused")
    page.fill("input[name=phone]", "13977778888")
    page.click("button:has-text('保存')")
    page.wait_for_url(re.compile(r".*\?families=parent"))
    mother = page.locator(".families-parents li", has_text="李秀英")
    assert "南宁市" in mother.inner_text() and "每两周" in mother.inner_text()
    mother.locator("button", has_text="视频").click()
    page.wait_for_url(re.compile(r".*\?families=contact"))
    assert (
        "上次联系 " + clock.today().isoformat() in page.locator(".families-parents li", has_text="李秀英").inner_text()
    )
    shot("mother-contacted")

    # Through the API: the alert resolved, the contacts logged.
    alerts = api(base, "director", "/api/v1/families/alerts?status=resolved")
    assert [a["child_id"] for a in alerts["items"]] == [families["alerted"]]
    log = api(base, "director", f"/api/v1/children/{families['fresh']}/parents/contacts")
    assert [c["channel"] for c in log["items"]] == ["video"]
    assert errors == []
    context.close()

    # The pages pass axe (WCAG 2 A/AA) at each width, a refused form included (axe is injected: CSP bypassed).
    context = browser.new_context(**PHONE, bypass_csp=True)
    page = context.new_page()
    login(page, base, "director")
    found: list[str] = []
    page.goto(f"{base}/admin/families?status=resolved")
    check(page, "director /admin/families", found, menu=True)
    page.goto(f"{base}/admin/children/{families['alerted']}")
    check(page, "director child page (parents)", found)
    page.goto(f"{base}/admin/families/parents/{families['father']}")
    page.click("#visit-home-form summary")
    page.fill("#visit-home-form input[name=from_date]", clock.today().isoformat())
    page.fill("#visit-home-form input[name=to_date]", "2020-01-01")
    page.click("button:has-text('保存回家探望')")
    page.locator("#form-error", has_text="离家日期").wait_for()
    check(page, "director parent page (refused)", found)
    assert found == [], "\n".join(found)
    context.close()
