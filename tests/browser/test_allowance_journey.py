"""The month's allowances in a real browser, on a laptop (1366×900) and on a phone (360×740): the district admin
approves the allowance decision the street reviewed; the procurement officer (who the service lets prepare and pay a
run) prepares the month; the district admin previews the list (payees and amounts, no account number), signs it off
and downloads the bank file, whose bytes are the API's download; the officer records it paid; the API then shows
the run paid. Every page is measured for sideways scrolling and photographed."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.cases import eligibility
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll, token
from tests.cases.support import add_child
from tests.procurement.helpers import LINES

pytestmark = pytest.mark.browser

GRANT = {"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf"]}
PAYEE = {
    "kind": "guardian",
    "name": "周秀兰",
    "bank_name": "中国工商银行深圳福田支行",
    "account": "6222021234567890123",
}


@pytest.fixture
async def orphan(db: Any, world: Any, settings: Any) -> int:
    async with db.session() as s:
        child = await add_child(
            s, settings, world.communities[0], world.streets[0], name="周小禾", seq="983", categories=["orphan"]
        )
        return child.id


def raw(base: str, username: str, path: str) -> bytes:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token(base, username)}"})
    with urllib.request.urlopen(req) as r:
        return bytes(r.read())


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_the_district_approves_signs_off_and_the_month_is_paid(
    live_server: str, world: Any, settings: Any, orphan: int, shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    month = eligibility.first_payable_month(settings, clock.today())
    decision = api(base, "director", f"/api/v1/children/{orphan}/allowance-decisions", GRANT)["id"]
    api(base, "director", f"/api/v1/children/{orphan}/allowance-payee", PAYEE)
    api(base, "supervisor", f"/api/v1/allowance-decisions/{decision}/review", {"approve": True, "note": "材料齐全"})
    budget = {
        "name": "专项资金",
        "fiscal_year": int(month[:4]),
        "total_fen": sum(x["appropriation_fen"] for x in LINES),
    }
    api(base, "procurement", "/api/v1/budgets", {**budget, "lines": LINES})

    context = browser.new_context(**(PHONE if phone else LAPTOP), accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-allowances-{name}.png"), full_page=True)

    # The district admin approves the reviewed decision from the section's page.
    login(page, base, "admin")
    go(page, phone, "补贴发放")
    page.wait_for_url("**/admin/allowances")
    item = page.locator(f"#decision-{decision}")
    assert "周小禾" in item.inner_text() and "孤儿证明.pdf" in item.inner_text()
    item.get_by_label("审批意见（不予批准时必填）").fill("同意，按月发放")
    shot("waiting")
    item.locator("button", has_text="批准").first.click()
    page.wait_for_url(re.compile(r".*/admin/allowances\?done=approved"))
    assert "已批准补贴认定" in page.content() and page.locator(f"#decision-{decision}").count() == 0
    shot("approved")
    assert api(base, "admin", f"/api/v1/allowance-decisions/{decision}")["status"] == "approved"
    logout(page)

    # The procurement officer prepares the month (the month picker defaults to the district's current month).
    login(page, base, "procurement")
    go(page, phone, "补贴发放")
    page.wait_for_url("**/admin/allowances")
    assert page.input_value("#prepare-month") == clock.month_key()
    page.fill("#prepare-month", month)
    page.click("button:has-text('编制本月名册')")
    page.wait_for_url(re.compile(r".*/admin/allowances/runs/\d+\?done=prepared.*"))
    run_url = page.url.split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    assert "已编制发放名册" in page.content()
    shot("prepared")
    logout(page)

    # The district admin previews it, signs it off and downloads the bank file.
    login(page, base, "admin")
    go(page, phone, "补贴发放")
    page.click(f"#run-{run_id} a")
    page.wait_for_url(f"**/admin/allowances/runs/{run_id}")
    listing = page.inner_text("#run-payments")
    assert "周小禾" in listing and "监护人 · 周秀兰" in listing and "¥" in listing
    assert "6222021234567890123" not in page.content()
    assert "困境儿童基本生活补贴" in page.inner_text("#run-totals")
    shot("preview")
    page.fill("#sign-note", "名册核对无误")
    page.click("button:has-text('签批发放名册')")
    page.wait_for_url(re.compile(rf".*/admin/allowances/runs/{run_id}\?done=signed"))
    detail = api(base, "admin", f"/api/v1/allowances/runs/{run_id}")
    assert detail["status"] == "signed_off"
    assert page.inner_text("#file-sha") == detail["sign_off"]["file_sha256"]
    shot("signed")
    with page.expect_download() as info:
        page.click("#bank-file")
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded == raw(base, "admin", f"/api/v1/allowances/runs/{run_id}/bank-file")
    assert b"6222021234567890123" in downloaded
    logout(page)

    # The officer records it paid; the API shows it paid.
    login(page, base, "procurement")
    page.goto(run_url)
    page.click("button:has-text('登记已发放')")
    page.wait_for_url(re.compile(rf".*/admin/allowances/runs/{run_id}\?done=paid"))
    assert "已登记发放" in page.content() and "已发放" in page.inner_text("h1")
    shot("paid")
    assert api(base, "admin", f"/api/v1/allowances/runs/{run_id}")["status"] == "paid"
    page.goto(f"{base}/admin/allowances")
    assert "已发放" in page.inner_text(f"#run-{run_id}")
    shot("runs")
    assert not errors, errors
    context.close()
