"""The closed loop in a real browser, on a phone: the street's supervisor acknowledges a mandatory report that is
late; the child's director confirms a completed referral's outcome with a verdict after the follow-up visit, and finds
both on the child's closed-loop timeline. Each step is then checked through the API."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.cases.models import Need, Visit
from marketplace.referrals.models import Referral
from tests.admin.test_mandatory_reports import seed as seed_reports
from tests.admin.test_referrals import board
from tests.browser.test_console import login, logout
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def prepared(db, world, settings) -> dict[str, int]:
    """A referral the provider completed ("got help") yesterday, with today's follow-up visit, and the reports."""
    ids = await board(db, world)
    reports = await seed_reports(db, world, settings)
    now, today = clock.now(), clock.today()
    async with db.session() as s:
        done = await s.get(Referral, ids["sent"])
        assert done is not None
        need = await s.get(Need, done.need_id)
        assert need is not None
        done.status, done.outcome = "completed", "got_help"
        done.accepted_at = done.started_at = now - dt.timedelta(days=4)
        done.completed_at = now - dt.timedelta(days=1)
        need.status = "in_service"
        s.add(Visit(child_id=done.child_id, visited_on=today, kind="follow_up", next_visit_due=today))
        child_id = done.child_id
    return {"referral": ids["sent"], "child": child_id, "late_report": reports["late"]}


def api(base: str, username: str, path: str) -> Any:
    login_req = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login_req) as r:
        token = json.loads(r.read())["access_token"]
    with urllib.request.urlopen(urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})) as r:
        return json.loads(r.read())


def test_supervisor_acknowledges_and_director_closes_the_loop_on_a_phone(
    live_server: str, prepared: dict[str, int], shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The supervisor: the late report is highlighted; one tap acknowledges it, marked late.
    login(page, base, "supervisor")
    page.goto(f"{base}/admin/mandatory-reports")
    late = page.locator(f"#mandatory-report-{prepared['late_report']}")
    assert "超时未签收" in late.inner_text()
    page.screenshot(path=str(shots / "phone-supervisor-reports.png"), full_page=True)
    late.locator("button", has_text="签收").click()
    page.wait_for_url(f"{base}/admin/mandatory-reports")
    late = page.locator(f"#mandatory-report-{prepared['late_report']}")
    assert "超时签收" in late.inner_text() and late.locator("button", has_text="签收").count() == 0
    logout(page)

    # The director: the provider's outcome waits for the verdict; the director gives it after the visit.
    login(page, base, "director")
    page.goto(f"{base}/admin/referrals")
    row = page.locator(f"#referral-all-{prepared['referral']}")
    assert "待回访确认" in row.inner_text()
    row.locator("select[name=verdict]").select_option("partly_met")
    row.locator("input[name=note]").fill("情绪好转，仍需学业帮扶")
    row.locator("button", has_text="结案").click()
    closed = page.locator(f"#referral-all-{prepared['referral']}", has_text="已结案")
    closed.wait_for()
    assert "需求部分满足" in closed.inner_text() and closed.locator("select[name=verdict]").count() == 0
    page.screenshot(path=str(shots / "phone-director-verdict.png"), full_page=True)

    # The child's entry tells the loop, the verdict on its timeline.
    page.goto(f"{base}/admin/cases?child={prepared['child']}")
    assert "闭环时间线" in page.content() and "回访后结案" in page.content()
    page.screenshot(path=str(shots / "phone-director-timeline.png"), full_page=True)
    logout(page)
    assert not errors, errors
    context.close()

    # What the browser did is what the API reads.
    referral = api(base, "director", f"/api/v1/referrals/{prepared['referral']}")
    assert referral["verdict"] == "partly_met" and referral["need_status"] == "partly_met"
    assert referral["verdict_note"] == "情绪好转，仍需学业帮扶"
    report = api(base, "admin", f"/api/v1/mandatory-reports/{prepared['late_report']}")
    assert report["acknowledgements"][0]["at"] is not None and report["acknowledgements"][0]["late"] is True
    timeline = api(base, "director", f"/api/v1/children/{prepared['child']}/timeline")
    assert any(e["title"] == "回访后结案" for e in timeline["events"])
