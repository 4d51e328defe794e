"""A street supervisor's day in a real browser, on a phone (360×740) and on a laptop (1366×900): log in, see on the
street's board the mandatory report the escalation ladder brought up, sign it there; remind the director of the
child's overdue visit from its escalation (issue #15), and the director, in their own browser, sees the reminder
with its unread count beside 通知 and reads it; open the approvals waiting, read a director's allowance proposal with
its evidence and pass it on to the district. The state is then checked through the API, and every supervisor page is
measured for sideways scrolling."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.service import principal_of
from marketplace.cases import escalation, reports
from marketplace.cases.jobs import overdue_from, visit_entity
from marketplace.cases.models import Escalation
from marketplace.cases.report_schemas import ReportIn
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll
from tests.cases.support import add_child

pytestmark = pytest.mark.browser

GRANT = {"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf", "父母死亡证明.pdf"]}


@pytest.fixture
async def escalated(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """A child of 福山 whose visit is overdue, with a mandatory report the ladder took to the street's supervisor."""
    async with db.session() as s:
        child = await add_child(
            s, settings, world.communities[0], world.streets[0], name="周小禾", seq="981", categories=["orphan"]
        )
        child.next_visit_due = clock.today() - dt.timedelta(days=3)
        director = await s.get(User, world.users["director"])
        assert director is not None
        report, _ = await reports.create_for_child(
            s, principal_of(director), settings, child.id, ReportInKind("lives_alone", "独自在家三天")
        )
        assert await escalation.climb(
            s,
            entity="mandatory_report",
            entity_id=report.id,
            kind="report_ack",
            level=2,
            due=clock.now(),
            community_id=child.community_id,
            street_id=child.street_id,
            child_id=child.id,
            body="强制报告超时未签收",
        )
        # The overdue visit went up the ladder to the street's supervisor too (the visit alerts' step).
        due = child.next_visit_due
        visit = Escalation(
            entity=visit_entity(due),
            entity_id=child.id,
            kind="visit",
            level=2,
            due_at=overdue_from(due, 2),
            child_id=child.id,
            recipients=[world.users["supervisor"]],
        )
        s.add(visit)
        await s.flush()
        return {"child": child.id, "report": report.id, "visit": visit.id}


def ReportInKind(kind: str, description: str) -> ReportIn:
    return ReportIn(kind=kind, description=description)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_supervisor_acts_on_an_escalation_and_reviews_an_allowance_proposal(
    live_server: str, world: Any, escalated: dict[str, int], shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    child, report, visit = escalated["child"], escalated["report"], escalated["visit"]
    decision = api(base, "director", f"/api/v1/children/{child}/allowance-decisions", GRANT)["id"]
    context = browser.new_context(**(PHONE if phone else LAPTOP))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    checked: set[str] = set()

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        checked.add(page.url.split("?")[0].removeprefix(base))
        page.screenshot(path=str(shots / f"{device}-supervisor-{name}.png"), full_page=True)

    login(page, base, "supervisor")
    shot("dashboard")
    go(page, phone, "街道看板")
    page.wait_for_url("**/admin/street")
    esc = page.locator("#escalations .sup-item", has_text="强制报告超时未签收")
    assert "周小禾" in esc.inner_text() and "已升级至街道督导员" in esc.inner_text()
    assert "周小禾" in page.inner_text("#overdue-visits") and "福山社区" in page.inner_text("#workload")
    shot("board")
    esc.locator("button", has_text="签收").click()
    page.wait_for_url(re.compile(r".*/admin/street\?done=acknowledged"))
    assert "已签收强制报告" in page.content()
    assert page.locator("#escalations button", has_text="签收").count() == 0
    shot("acknowledged")

    # The overdue visit's step: the supervisor reminds the child's director, with a word of what is expected.
    step = page.locator(f"#escalation-{visit}")
    assert "走访逾期" in step.inner_text() and step.locator(f'a[href="/admin/children/{child}"]').count() == 1
    step.locator("summary", has_text="处理此事项").click()
    step.get_by_label("督办提醒").fill("请明天上午上门走访并记录")
    shot("escalation-open")
    step.locator("button", has_text="发出提醒").click()
    page.wait_for_url(re.compile(r".*/admin/street\?done=reminded"))
    assert "已发出督办提醒" in page.content()
    assert "已督促" in page.locator(f"#escalation-{visit}").inner_text()
    shot("reminded")

    # The director, in their own browser: the count beside 通知, the reminder; reading it clears it.
    unread = api(base, "director", "/api/v1/notifications?unread=true")["unread"]
    assert unread >= 1
    director = browser.new_context(**(PHONE if phone else LAPTOP))
    dpage = director.new_page()
    dpage.on("pageerror", lambda e: errors.append(str(e)))
    login(dpage, base, "director")
    count = dpage.locator('nav.nav a[href="/admin/notifications"] .nav-count')
    assert count.text_content() == f"{unread} 条未读"  # the number, and for a screen reader what it counts
    if phone:  # the menu is folded: its button carries the count
        assert dpage.locator("label.nav-button .nav-count").text_content() == f"{unread} 条未读通知"
    go(dpage, phone, "通知")
    dpage.wait_for_url("**/admin/notifications")
    note = dpage.locator(".note", has_text="督办提醒：周小禾走访逾期")
    assert "请明天上午上门走访并记录" in note.inner_text()
    no_sideways_scroll(dpage, "director notifications")
    dpage.screenshot(path=str(shots / f"{device}-director-reminded.png"), full_page=True)
    note.locator("button").click()
    dpage.wait_for_url(f"**/admin/children/{child}")
    if unread == 1:
        assert dpage.locator("nav.nav .nav-count").count() == 0
    else:
        assert dpage.locator("nav.nav .nav-count").text_content() == f"{unread - 1} 条未读"
    dpage.screenshot(path=str(shots / f"{device}-director-reminder-read.png"), full_page=True)
    director.close()

    go(page, phone, "待我审批")
    page.wait_for_url("**/admin/street/approvals")
    item = page.locator(f"#decision-{decision}")
    assert "周小禾" in item.inner_text() and "孤儿证明.pdf" in item.inner_text()
    shot("approvals")
    # Returning without a reason is refused in place, changing nothing.
    item.locator("button", has_text="退回").click()
    page.locator(".msg, .problem, [role=alert]", has_text="退回时请写明原因").first.wait_for()
    item.locator("textarea[name=note]").fill("证明材料齐全，同意上报")
    item.locator("button", has_text="审核通过").click()
    page.wait_for_url(re.compile(r".*/admin/street/approvals\?done=reviewed"))
    assert "已审核通过" in page.content() and page.locator(f"#decision-{decision}").count() == 0
    shot("reviewed")

    # Through the API: the report carries the supervisor's signature, the decision waits for the district.
    out = api(base, "supervisor", f"/api/v1/mandatory-reports/{report}")
    (ack,) = [a for a in out["acknowledgements"] if a["level"] == "supervisor"]
    assert ack["at"] is not None and ack["by"] == world.users["supervisor"]
    d = api(base, "admin", f"/api/v1/allowance-decisions/{decision}")
    assert d["status"] == "reviewed" and d["review_note"] == "证明材料齐全，同意上报"
    # The visit's step: still open (no visit yet), the supervisor's reminder on it; the director read it.
    step_out = api(base, "supervisor", f"/api/v1/escalations/{visit}")
    assert step_out["open"] is True and [a["action"] for a in step_out["actions"]] == ["remind"]
    assert step_out["actions"][0]["note"] == "请明天上午上门走访并记录"
    mine = api(base, "director", "/api/v1/notifications")["items"]
    (reminder,) = [n for n in mine if n["title"] == "督办提醒：周小禾走访逾期"]
    assert reminder["read_at"] is not None

    # Every page of the supervisor's navigation fits the screen.
    for href in (
        "/admin/",
        "/admin/street",
        "/admin/street/approvals",
        "/admin/cases",
        "/admin/referrals",
        "/admin/mandatory-reports",
        "/admin/reports",
    ):
        page.goto(base + href)
        no_sideways_scroll(page, href)
        checked.add(href)
    assert {"/admin/street", "/admin/street/approvals"} <= checked
    assert not errors, errors
    context.close()
