"""A festival plan in a real browser, on a laptop (1366×900) and on a phone (360×740): the district admin opens
节日慰问, creates the 中秋 plan with an amount for orphans, prepares its run (编制发放名册), signs it off on the run's
page and downloads the bank file (the API's bytes); back on the festival page the line's figures have moved (committed
800 yuan) and the run shows 已签批待发放. Every page is measured for sideways scrolling and photographed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.cases import eligibility
from tests.browser.test_allowance_journey import GRANT, PAYEE, orphan, raw
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll

pytestmark = pytest.mark.browser
__all__ = ["orphan"]

LINES = [
    {"code": "festival_condolence", "name": "节日慰问", "appropriation_fen": 1_000_000},
    {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 20_000_000},
]


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_the_district_plans_a_festival_prepares_signs_and_downloads_the_bank_file(
    live_server: str, world: Any, settings: Any, orphan: int, shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    month = eligibility.first_payable_month(settings, clock.today())
    year = int(month[:4])
    decision = api(base, "director", f"/api/v1/children/{orphan}/allowance-decisions", GRANT)["id"]
    api(base, "director", f"/api/v1/children/{orphan}/allowance-payee", PAYEE)
    api(base, "supervisor", f"/api/v1/allowance-decisions/{decision}/review", {"approve": True})
    api(base, "admin", f"/api/v1/allowance-decisions/{decision}/decide", {"approve": True, "effective_month": month})
    total = sum(x["appropriation_fen"] for x in LINES)
    budget = api(
        base,
        "procurement",
        "/api/v1/budgets",
        {"name": "专项资金", "fiscal_year": year, "total_fen": total, "lines": LINES},
    )
    line = next(x for x in budget["lines"] if x["code"] == "festival_condolence")

    context = browser.new_context(**(PHONE if phone else LAPTOP), accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-festival-plan-{name}.png"), full_page=True)

    login(page, base, "admin")
    go(page, phone, "节日慰问")
    page.wait_for_url("**/admin/allowances/festivals")
    # The page opens on this year; the first payable month may be next year's (its budget's lines).
    if year != clock.today().year:
        page.click(f"a[href='/admin/allowances/festivals?year={year}']")
    page.wait_for_url(re.compile(r".*/admin/allowances/festivals(\?year=\d+)?$"))
    shot("empty")
    # The plan: 中秋, paid on the 5th of the month, the 节日慰问 line, 800 yuan for orphans.
    page.select_option("#n-festival", "mid_autumn")
    page.fill("#n-date", f"{month}-05")
    page.select_option("#n-line", str(line["id"]))
    page.fill("#n-cat-orphan", "800")
    shot("form")
    page.click("button:has-text('新建计划')")
    page.wait_for_url(re.compile(r".*/admin/allowances/festivals\?year=\d+&done=created.*"))
    title = f"{year}年中秋节慰问"
    assert title in page.inner_text("h2 >> nth=1") or title in page.content()
    plan = api(base, "admin", f"/api/v1/allowances/festival-plans?year={year}")[0]
    assert plan["amounts"] == [{"category": "orphan", "label": "孤儿", "amount_fen": 80_000}]
    assert "¥10,000.00" in page.inner_text("#line-figures")

    # 编制发放名册: the run's page, where the district signs it off and downloads the bank file.
    page.click(f"#plan-{plan['id']} button:has-text('编制发放名册')")
    page.wait_for_url(re.compile(r".*/admin/allowances/runs/\d+\?done=prepared.*"))
    run_url = page.url.split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    assert "周小禾" in page.inner_text("#run-payments") and title in page.inner_text("h1")
    shot("prepared")
    page.fill("#sign-note", "中秋慰问名册核对无误")
    page.click("button:has-text('签批发放名册')")
    page.wait_for_url(re.compile(rf".*/admin/allowances/runs/{run_id}\?done=signed"))
    shot("signed")
    with page.expect_download() as info:
        page.click("#bank-file")
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded == raw(base, "admin", f"/api/v1/allowances/runs/{run_id}/bank-file")
    assert title.encode(settings.allowances.bank_file_encoding) in downloaded

    # The festival page: the line's figures moved, the run signed off.
    page.goto(f"{base}/admin/allowances/festivals?year={year}")
    figures = page.inner_text(f"#line-{line['id']}")
    assert "¥800.00" in figures and "¥9,200.00" in figures
    assert "已签批待发放" in page.inner_text(f"#fest-run-{run_id}")
    shot("after")
    logout(page)
    after = api(base, "admin", f"/api/v1/allowances/festival-plans/{plan['id']}")
    assert (after["line"]["committed_fen"], after["line"]["available_fen"], after["editable"]) == (
        80_000,
        920_000,
        False,
    )
    assert not errors, errors
    context.close()
