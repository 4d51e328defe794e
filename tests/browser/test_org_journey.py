"""An organization's day in a real browser, on a phone (360×740) and on a laptop (1366×900).

A staff member drafts a new service and submits it; the district admin approves it in their own browser; the pool
lists it. The staff edit their published service: the change goes to review while the pool keeps the live listing,
the district approves the revision in its own browser, and the API shows the new values. A referral arrives from a child director; the staff accept it in the inbox with the service's places left
in view, log a delivery and complete it. Each journey ends by checking the state through the API; no page of the
organization's console scrolls sideways on the phone."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases.models import Child, Need
from tests.browser.test_console import login, logout
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1366, "height": 900}
VIEWPORTS = {"phone": PHONE, "laptop": LAPTOP}


def call(base: str, username: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The API as ``username``: GET, or POST with a JSON body."""
    login_req = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login_req) as r:
        token = json.loads(r.read())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data, headers=headers)) as r:
        return json.loads(r.read())


def sideways(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def context_for(browser: Any, viewport: str) -> Any:
    if viewport == "phone":
        return browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    return browser.new_context(viewport=LAPTOP, locale="zh-CN")


def open_section(page: Any, label: str, viewport: str) -> None:
    """Through the navigation, as a person would: on a phone it sits behind the menu button."""
    if viewport == "phone":
        page.click("label.nav-button")
    page.click(f"nav.nav >> text={label}")
    page.wait_for_load_state()


@pytest.fixture
async def arriving(db, world) -> dict[str, int]:
    """A left-behind child of 福山社区 (the director's) with the guardian's consent and an open counselling need;
    the organization's staff member ``org`` is its admin."""
    async with db.session() as s:
        child = Child(
            community_id=world.communities[0],
            street_id=world.streets[0],
            name="刘小雨",
            gender="female",
            birth_date=dt.date(2015, 3, 1),
            id_number_enc="x",
            id_number_hmac="h-org-journey",
            categories=["left_behind"],
            guardianship="family",
            guardian_name="刘奶奶",
            guardian_relation="祖母",
            risk_level="medium",
            consent_to_share=True,
            consent_recorded_on=clock.today(),
            next_visit_due=clock.today() + dt.timedelta(days=30),
        )
        s.add(child)
        await s.flush()
        need = Need(
            child_id=child.id,
            street_id=child.street_id,
            community_id=child.community_id,
            category="psych_counselling",
            urgency=2,
            status="open",
        )
        s.add(need)
        user = await s.scalar(select(User).where(User.username == "org"))
        assert user is not None
        user.is_org_admin = True
        await s.flush()
        return {"need": need.id, "child": child.id}


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_org_drafts_a_service_and_the_district_approves_it(
    live_server: str, arriving: dict[str, int], shots: Path, browser: Any, viewport: str
) -> None:
    base = live_server
    title = f"留守儿童周末陪伴计划（{viewport}）"
    context = context_for(browser, viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    login(page, base, "org")
    open_section(page, "本机构服务", viewport)
    assert sideways(page) <= 1
    page.click("text=新增服务项目")
    page.wait_for_url(f"{base}/admin/services/new")
    assert sideways(page) <= 1
    # First without a category: the form answers in place, nothing saved.
    page.fill("input[name=title]", title)
    page.fill("input[name=capacity_per_month]", "6")
    page.click("button:has-text('保存为草稿')")
    page.locator("#service-form .msg-error", has_text="请至少选择一个服务类别").wait_for()
    assert page.url == f"{base}/admin/services/new" and page.input_value("input[name=title]") == title
    page.check("input[name=categories][value=emotional_support]")
    page.check("input[name=categories][value=safety_education]")
    page.check("input[name=child_categories][value=left_behind]")
    page.fill("input[name=cost_per_case]", "150")
    page.fill("textarea[name=description]", "每周末由社工和志愿者陪伴留守儿童，开展安全教育")
    page.fill("input[name=schedule]", "每周六上午")
    page.screenshot(path=str(shots / f"{viewport}-org-service-new.png"), full_page=True)
    page.click("button:has-text('保存为草稿')")
    page.wait_for_url("**/admin/services/*?saved=1")
    service_id = int(page.url.split("/")[-1].split("?")[0])
    assert "草稿尚未提交" in page.inner_text("#review-status")
    assert sideways(page) <= 1
    page.click("button:has-text('提交审核')")
    page.wait_for_url(f"{base}/admin/services/{service_id}?done=submit")
    assert "等待区民政审核" in page.inner_text("#review-status")
    page.screenshot(path=str(shots / f"{viewport}-org-service-submitted.png"), full_page=True)
    page.goto(f"{base}/admin/services")
    assert title in page.inner_text("#group-pending_review + .table-wrap")
    assert sideways(page) <= 1

    # The district admin, in their own browser: the pool's review queue, approve.
    admin_context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    admin = admin_context.new_page()
    login(admin, base, "admin")
    admin.goto(f"{base}/admin/pool")
    row = admin.locator(f"#service-{service_id}")
    assert title in row.inner_text()
    row.locator("button", has_text="通过").click()
    admin.locator("#flash", has_text="已通过").wait_for()
    admin.screenshot(path=str(shots / f"{viewport}-admin-approves-org-service.png"), full_page=True)
    logout(admin)
    admin_context.close()

    # Back on the organization's page: published.
    page.goto(f"{base}/admin/services/{service_id}")
    assert "服务已发布" in page.inner_text("#review-status")
    page.screenshot(path=str(shots / f"{viewport}-org-service-published.png"), full_page=True)
    logout(page)
    assert not errors, errors
    context.close()

    # The pool lists it, as anyone searching it reads it.
    listed = call(base, "director", "/api/v1/services?category=emotional_support&limit=100")
    found = [s for s in listed["items"] if s["id"] == service_id]
    assert found and found[0]["status"] == "published" and found[0]["title"] == title
    assert found[0]["capacity_per_month"] == 6 and found[0]["cost_per_case_fen"] == 15_000


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_org_edits_its_published_service_and_the_district_approves_the_revision(
    live_server: str, world: Any, shots: Path, browser: Any, viewport: str
) -> None:
    base = live_server
    service_id = world.services[0]
    new_title = f"困境儿童心理疏导服务（{viewport}周末班）"
    context = context_for(browser, viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    login(page, base, "org")
    open_section(page, "本机构服务", viewport)
    page.click(f"#org-service-{service_id} >> text=编辑")
    page.wait_for_url(f"{base}/admin/services/{service_id}")
    assert "修改需经区民政审核" in page.inner_text("#review-status")
    page.fill("input[name=title]", new_title)
    page.fill("input[name=capacity_per_month]", "14")
    page.fill("input[name=schedule]", "每周六、周日上午")
    page.click("button:has-text('保存修改申请（需审核）')")
    page.wait_for_url(f"**/admin/services/{service_id}?saved=1")
    diff = page.locator(".revision-diff")
    assert new_title in diff.inner_text() and "困境儿童心理疏导服务" in diff.inner_text()
    assert sideways(page) <= 1
    page.click("button:has-text('提交修改审核')")
    page.wait_for_url(f"{base}/admin/services/{service_id}?done=revision_submit")
    assert page.inner_text("#revision-status") == "待审核"
    page.screenshot(path=str(shots / f"{viewport}-org-revision-submitted.png"), full_page=True)
    page.goto(f"{base}/admin/services")
    assert "修改待审核" in page.inner_text(f"#org-service-{service_id}")
    assert sideways(page) <= 1
    # While the revision waits, the pool reads the live listing.
    assert call(base, "director", f"/api/v1/services/{service_id}")["title"] == "困境儿童心理疏导服务"

    # The district admin, in their own browser (same viewport): the 服务修改 tab, approve.
    admin_context = context_for(browser, viewport)
    admin = admin_context.new_page()
    admin.on("pageerror", lambda e: errors.append(str(e)))
    login(admin, base, "admin")
    admin.goto(f"{base}/admin/pool")
    admin.click("nav.tabs >> text=服务修改")
    admin.wait_for_url(f"{base}/admin/pool?tab=revisions")
    card = admin.locator(".revision-card", has_text=new_title)
    assert "14" in card.locator("tr[data-field=capacity_per_month]").inner_text()
    # Returning needs a reason: the card says so in place.
    card.locator("button", has_text="退回修改").click()
    admin.locator(".revision-card .msg-error", has_text="请填写退回原因").wait_for()
    assert sideways(admin) <= 1
    admin.screenshot(path=str(shots / f"{viewport}-admin-revision-review.png"), full_page=True)
    admin.locator(".revision-card", has_text=new_title).locator("button", has_text="通过并生效").click()
    admin.locator("#flash", has_text="已通过").wait_for()
    logout(admin)
    admin_context.close()

    page.goto(f"{base}/admin/services/{service_id}")
    assert "修改记录" in page.inner_text("main") and page.locator("#revision-status").count() == 0
    assert sideways(page) <= 1
    logout(page)
    assert not errors, errors
    context.close()

    # What the browsers did is what the API reads.
    got = call(base, "director", f"/api/v1/services/{service_id}")
    assert got["title"] == new_title and got["capacity_per_month"] == 14 and got["schedule"] == "每周六、周日上午"
    assert got["status"] == "published"
    history = call(base, "org", f"/api/v1/services/{service_id}/revisions")
    assert history["items"][0]["status"] == "approved"


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_a_referral_arrives_and_the_org_accepts_serves_and_completes_it(
    live_server: str, arriving: dict[str, int], world: Any, shots: Path, browser: Any, viewport: str
) -> None:
    base = live_server
    service_id = world.services[0]
    # The child's director refers the need to 启航's counselling service, sharing the guardian's name.
    sent = call(
        base,
        "director",
        "/api/v1/referrals",
        {"need_id": arriving["need"], "service_id": service_id, "share_contact": ["guardian_name"]},
    )
    referral_id = sent["id"]
    assert sent["status"] == "sent"

    context = context_for(browser, viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "org")
    open_section(page, "转介收件箱", viewport)
    card = page.locator(f"#inbox-card-{referral_id}")
    text = card.inner_text()
    assert "刘*" in text and "刘小雨" not in page.content()
    assert "剩余 10 / 10" in text  # the places this acceptance would take from
    assert sideways(page) <= 1
    page.screenshot(path=str(shots / f"{viewport}-org-inbox-new.png"), full_page=True)

    card.locator("button", has_text="接收").click()
    page.locator("#flash", has_text="已接收").wait_for()
    card = page.locator(f"#inbox-card-{referral_id}")
    assert "剩余 9 / 10" in card.inner_text() and "刘奶奶" in card.inner_text()
    card.locator("button", has_text="开始服务").click()
    page.locator("#flash", has_text="已开始服务").wait_for()
    card = page.locator(f"#inbox-card-{referral_id}")
    card.locator("input[name=minutes]").fill("90")
    card.locator("textarea[name=note]").fill("首次家访，与祖母沟通，孩子情绪稳定")
    card.locator("button", has_text="保存服务记录").click()
    page.locator("#flash", has_text="已记录服务").wait_for()
    card = page.locator(f"#inbox-card-{referral_id}")
    assert "首次家访" in card.inner_text() and "共 1 次" in card.inner_text()
    assert sideways(page) <= 1
    page.screenshot(path=str(shots / f"{viewport}-org-inbox-logged.png"), full_page=True)
    card.locator("select[name=outcome]").select_option("got_help")
    card.locator("input[name=note]").fill("三次陪伴后情绪好转")
    card.locator("button", has_text="确认服务完成").click()
    page.locator("#flash", has_text="已记录服务完成").wait_for()
    done = page.locator(f"#inbox-completed #inbox-card-{referral_id}")
    assert "已获得帮助" in done.inner_text()
    page.screenshot(path=str(shots / f"{viewport}-org-inbox-completed.png"), full_page=True)
    page.reload()
    assert page.locator(f"#inbox-completed #inbox-card-{referral_id}").count() == 1
    logout(page)
    assert not errors, errors
    context.close()

    # What the browser did is what the API reads.
    referral = call(base, "org", f"/api/v1/referrals/{referral_id}")
    assert referral["status"] == "completed" and referral["outcome"] == "got_help"
    assert referral["outcome_note"] == "三次陪伴后情绪好转"
    logs = call(base, "org", f"/api/v1/referrals/{referral_id}/logs")
    assert logs["total"] == 1 and logs["items"][0]["minutes"] == 90
    assert call(base, "org", f"/api/v1/services/{service_id}")["capacity_left"] == 9


def test_no_org_page_scrolls_sideways_on_a_phone(
    live_server: str, arriving: dict[str, int], world: Any, shots: Path, browser: Any
) -> None:
    base = live_server
    sent = call(base, "director", "/api/v1/referrals", {"need_id": arriving["need"], "service_id": world.services[0]})
    context = context_for(browser, "phone")
    page = context.new_page()
    login(page, base, "org")
    links = page.eval_on_selector_all("nav.nav a", "els => els.map(e => e.getAttribute('href'))")
    # Every section of the organization's console, and the pages behind them.
    assert {"/admin/referrals/inbox", "/admin/services", "/admin/org", "/admin/org/people", "/admin/staff"} <= set(
        links
    )
    pages = [
        *links,
        "/admin/services/new",
        f"/admin/services/{world.services[0]}",
        f"/admin/services/{world.services[2]}",
        "/admin/pool?tab=draft",
    ]
    for path in pages:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        assert sideways(page) <= 1, path
        page.screenshot(path=str(shots / f"phone-org{path.replace('/', '-').replace('?', '-')}.png"), full_page=True)
    page.goto(f"{base}/admin/referrals/inbox")
    assert page.locator(f"#inbox-card-{sent['id']}").count() == 1
    context.close()
