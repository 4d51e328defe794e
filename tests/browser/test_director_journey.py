"""A child director's whole day in a real browser, on a phone (360×740) and on a laptop (1366×900): log in, open a
file (the identity number checked as it is typed, the guardian's consent recorded), record a visit with the risk
reassessed, add a need, read its matches and refer with the contact fields to share; the organization accepts in
its own browser and delivers and completes through the API; the director records the follow-up visit, confirms
the outcome and closes the loop. The state is then checked through the API, and every director page is measured
for sideways scrolling."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.browser.test_console import login, logout
from tests.cases.support import add_child, birth_for_age, id_number
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
LAPTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}
SCROLL = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def token(base: str, username: str) -> str:
    req = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return str(json.loads(r.read())["access_token"])


def api(base: str, username: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token(base, username)}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def no_sideways_scroll(page: Any, where: str) -> None:
    overflow = page.evaluate(SCROLL)
    assert overflow <= 1, f"{where} scrolls sideways by {overflow}px"


def go(page: Any, phone: bool, label: str) -> None:
    """A navigation item: on a phone it folds behind the 菜单 button."""
    if phone:
        page.click("label.nav-button")
    page.click(f"nav >> text={label}")


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_director_opens_a_file_refers_and_closes_the_loop(
    live_server: str, world: Any, shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    context = browser.new_context(**(PHONE if phone else LAPTOP))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    checked: set[str] = set()

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        checked.add(page.url.split("?")[0].removeprefix(base))
        page.screenshot(path=str(shots / f"{device}-director-{name}.png"), full_page=True)

    # Log in; my children (none yet) and the button that opens a file.
    login(page, base, "director")
    shot("dashboard")
    go(page, phone, "我的儿童")
    page.wait_for_url("**/admin/children")
    shot("children-empty")
    page.click("text=＋ 新建档案")
    page.wait_for_url("**/admin/children/new")

    # The identity number is checked as it is typed: a wrong check character first, then the right number.
    birth = birth_for_age(9)
    number = id_number(birth, "971")
    page.fill("input[name=name]", "陈小雨")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    page.fill("input[name=id_number]", wrong)
    page.locator("#id-check .id-problem", has_text="校验位不符").wait_for()
    page.fill("input[name=id_number]", number)
    page.locator("#id-check .id-ok").wait_for()
    page.fill("input[name=birth_date]", birth.isoformat())
    page.select_option("select[name=gender]", "male")
    page.locator("#id-check .id-ok", has_text=birth.isoformat()).wait_for()
    page.check("input[name=categories][value=left_behind]")
    page.select_option("select[name=risk_level]", "medium")
    page.fill("input[name=guardian_name]", "陈大山")
    page.fill("input[name=guardian_relation]", "祖父")
    page.fill("input[name=guardian_phone]", "13711112222")
    page.fill("input[name=address]", "福山社区福华路 8 号")
    page.check("input[name=consent_to_share]")
    shot("file-form")
    page.click("button:has-text('建立档案')")
    page.wait_for_url(re.compile(r".*/admin/children/\d+\?done=created"))
    child_id = int(re.search(r"/admin/children/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert "档案已建立" in page.content() and "已同意" in page.inner_text("#consent")
    shot("child-created")

    # The guardian's contact, revealed with a reason (audited).
    page.click("#reveal summary")
    page.fill("#reveal input[name=reason]", "明日入户走访需电话预约")
    page.click("#reveal button:has-text('查看')")
    page.locator("#contact-revealed", has_text="13711112222").wait_for()

    # A quick visit: findings and the risk reassessed; the next visit is computed by the service.
    page.click("#visit-form summary")
    page.fill("#visit-form textarea[name=findings]", "祖父年迈，孩子情绪低落")
    page.select_option("#visit-form select[name=risk_level]", "high")
    page.click("button:has-text('保存走访')")
    page.wait_for_url(re.compile(r".*\?done=visit"))
    assert "走访已记录" in page.content() and "祖父年迈" in page.inner_text("#visits")
    shot("visit-recorded")

    # A need, then its matches.
    page.click("#need-form summary")
    page.select_option("#need-form select[name=category]", "psych_counselling")
    page.select_option("#need-form select[name=urgency]", "3")
    page.fill("#need-form textarea[name=note]", "需要心理疏导")
    page.click("button:has-text('登记需求')")
    page.wait_for_url(re.compile(r".*\?done=need"))
    page.click("#needs a:has-text('匹配服务')")
    page.wait_for_url("**/admin/needs/*/matches")
    match = page.locator(f"#match-{world.services[0]}")
    assert "得分理由" in match.inner_text() and "五社联动方案" in match.inner_text()
    shot("matches")

    # Refer, sharing the guardian's name and phone (the consent was recorded with the file).
    match.locator("summary", has_text="转介到此服务").click()
    match.locator("input[name=share_contact][value=guardian_name]").check()
    match.locator("input[name=share_contact][value=guardian_phone]").check()
    match.locator("button", has_text="确认转介").click()
    page.wait_for_url(re.compile(r".*/admin/referrals/\d+/follow\?done=sent"))
    referral_id = int(re.search(r"/admin/referrals/(\d+)/follow", page.url).group(1))  # type: ignore[union-attr]
    assert "已转介" in page.inner_text("#referral-status")
    shot("referral-sent")
    logout(page)

    # The organization, in its own browser: accepts in its inbox, starts, logs the delivery and completes.
    org = browser.new_context(**(PHONE if phone else LAPTOP))
    org_page = org.new_page()
    login(org_page, base, "org")
    go(org_page, phone, "转介收件箱")
    card = org_page.locator(f"#inbox-card-{referral_id}")
    assert "陈小雨" not in card.inner_text()
    card.locator("button", has_text="接收").click()
    org_page.locator("#flash", has_text="已接收").wait_for()
    org_page.screenshot(path=str(shots / f"{device}-org-accepted.png"), full_page=True)
    org_page.locator(f"#inbox-card-{referral_id}").locator("button", has_text="开始服务").click()
    org_page.locator("#flash", has_text="已开始服务").wait_for()
    card = org_page.locator(f"#inbox-card-{referral_id}")
    card.locator("input[name=minutes]").fill("60")
    card.locator("textarea[name=note]").fill("首次心理疏导 60 分钟")
    card.locator("button", has_text="保存服务记录").click()
    org_page.locator("#flash", has_text="已记录服务").wait_for()
    card = org_page.locator(f"#inbox-card-{referral_id}")
    card.locator("select[name=outcome]").select_option("got_help")
    card.locator("input[name=note]").fill("情绪稳定")
    card.locator("button", has_text="确认服务完成").click()
    org_page.locator("#flash", has_text="已记录服务完成").wait_for()
    org_page.screenshot(path=str(shots / f"{device}-org-completed.png"), full_page=True)
    org.close()
    assert api(base, "org", f"/api/v1/referrals/{referral_id}")["status"] == "completed"
    today = clock.today().isoformat()

    # The director follows the referral, records the follow-up visit, confirms the outcome and closes the loop.
    login(page, base, "director")
    go(page, phone, "我的儿童")
    card = page.locator(f"#child-{child_id}")
    assert "待回访确认" in card.inner_text()
    shot("children")
    card.locator("a").click()
    page.wait_for_url(f"**/admin/children/{child_id}")
    page.click(f"#referral-{referral_id} a")
    page.wait_for_url(f"**/admin/referrals/{referral_id}/follow")
    assert "首次心理疏导" in page.inner_text("#logs") and "服务完成" in page.inner_text("#referral-status")
    shot("referral-completed")
    page.click("#close a:has-text('先记录回访')")
    page.wait_for_url(f"**/admin/children/{child_id}#visit-form")
    page.click("#visit-form summary")
    page.select_option("#visit-form select[name=kind]", "follow_up")
    page.fill("#visit-form textarea[name=findings]", "回访：情绪明显好转")
    page.click("button:has-text('保存走访')")
    page.wait_for_url(re.compile(r".*\?done=visit"))
    page.click(f"#referral-{referral_id} a")
    page.wait_for_url(f"**/admin/referrals/{referral_id}/follow")
    page.select_option("#close select[name=verdict]", "met")
    page.fill("#close textarea[name=note]", "回访确认需求已满足")
    page.click("button:has-text('确认并结案')")
    page.wait_for_url(re.compile(r".*\?done=closed"))
    assert "闭环完成" in page.content() and "需求已满足" in page.inner_text("#verdict")
    shot("loop-closed")

    # Every page of the director's navigation, and the mandatory report's form, fit the screen.
    for label, name in (("通知", "notifications"), ("⚠ 紧急上报", "report"), ("转介看板", "referrals")):
        go(page, phone, label)
        page.wait_for_load_state()
        shot(name)
    page.goto(f"{base}/admin/mandatory-reports")
    shot("mandatory-reports")
    page.goto(f"{base}/admin/children/{child_id}")
    for summary in page.locator("main details > summary").all():
        summary.click()  # every form open: still no sideways scrolling
    shot("child-forms-open")
    assert {"/admin/", "/admin/children", "/admin/children/new", "/admin/notifications", "/admin/report"} <= checked
    logout(page)
    assert not errors, errors
    context.close()

    # What the browser did is what the API reads.
    referral = api(base, "director", f"/api/v1/referrals/{referral_id}")
    assert referral["status"] == "closed" and referral["verdict"] == "met" and referral["need_status"] == "met"
    assert referral["shared_fields"] == ["guardian_name", "guardian_phone"]
    child = api(base, "director", f"/api/v1/children/{child_id}")
    assert child["name"] == "陈小雨" and child["risk_level"] == "high" and child["consent_to_share"] is True
    assert child["last_visit_on"] == today
    visits = api(base, "director", f"/api/v1/children/{child_id}/visits")
    assert visits["total"] == 2 and {v["kind"] for v in visits["items"]} == {"home", "follow_up"}
    timeline = api(base, "director", f"/api/v1/children/{child_id}/timeline")
    assert any(e["title"] == "回访后结案" for e in timeline["events"])


@pytest.fixture
async def filed_child(db: Any, world: Any, settings: Any) -> int:
    async with db.session() as s:
        child = await add_child(s, settings, world.communities[0], world.streets[0], name="林小草")
        return child.id


def test_a_mandatory_report_in_three_steps_from_any_page_on_a_phone(
    live_server: str, filed_child: int, shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "director")
    page.goto(f"{base}/admin/notifications")
    # Step one: the header's link, outside the folded menu.
    urgent = page.locator("header a.nav-urgent")
    assert urgent.is_visible() and not page.locator("nav.nav").is_visible()
    urgent.click()
    page.wait_for_url("**/admin/report")
    no_sideways_scroll(page, "report form")
    # Step two: the short form.
    page.select_option("select[name=child_id]", str(filed_child))
    page.select_option("select[name=kind]", "lives_alone")
    page.fill("textarea[name=description]", "父母外出，孩子独自在家三天")
    page.check("input[name=police_notified]")
    page.screenshot(path=str(shots / "phone-director-report-form.png"), full_page=True)
    # Step three: send.
    page.click("button:has-text('立即上报')")
    page.wait_for_url(f"**/admin/children/{filed_child}?done=report")
    assert "强制报告已提交" in page.content()
    no_sideways_scroll(page, "child after the report")
    page.screenshot(path=str(shots / "phone-director-report-sent.png"), full_page=True)
    logout(page)
    assert not errors, errors
    context.close()

    found = api(base, "director", "/api/v1/mandatory-reports")
    (report,) = found["items"]
    assert report["child_id"] == filed_child and report["kind"] == "lives_alone" and report["police_notified"]
    child = api(base, "director", f"/api/v1/children/{filed_child}")
    assert child["risk_level"] == "critical"
