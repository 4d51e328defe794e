"""A 春节 festival run in a real browser, on a laptop (1366×900) and on a phone (360×740): the procurement officer
prepares it from the allowances page (its list prepared in the background, the progress shown until it links to the
run), the district admin signs it off and downloads the bank file (the API's bytes), the officer records it paid, and
the quarter's report page shows it under 节日慰问金, its XLSX the API's bytes. The API then shows the run paid and
the report counting it. Every page is measured for sideways scrolling and photographed."""

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
from tests.procurement.allowance_helpers import same_download
from tests.procurement.helpers import LINES

pytestmark = pytest.mark.browser
__all__ = ["orphan"]


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_the_officer_prepares_a_spring_festival_run_that_is_signed_paid_and_reported(
    live_server: str, world: Any, settings: Any, orphan: int, shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    month = eligibility.first_payable_month(settings, clock.today())
    year, quarter = int(month[:4]), (int(month[5:7]) - 1) // 3 + 1
    title = f"{year}年春节慰问"
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
    line = next(x for x in budget["lines"] if x["code"] == "living_allowance")

    context = browser.new_context(**(PHONE if phone else LAPTOP), accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-festival-{name}.png"), full_page=True)

    # The officer fills in the 节日/专项发放 form: a typed title, the payment date, the line, 800 yuan for orphans.
    login(page, base, "procurement")
    go(page, phone, "补贴发放")
    page.wait_for_url("**/admin/allowances")
    page.select_option("#oo-kind", "festival")
    page.fill("#oo-title", title)
    page.fill("#oo-date", f"{month}-05")
    page.select_option("#oo-line", str(line["id"]))
    page.fill("#oo-cat-orphan", "800")
    shot("form")
    page.click("button:has-text('编制发放名册')")
    page.wait_for_url(re.compile(r".*/admin/allowances/runs/\d+\?done=queued"))
    run_url = page.url.split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    progress = page.locator(f"#progress-{run_id}")
    progress.wait_for()
    page.locator(f"#progress-done-{run_id}").wait_for(timeout=30_000)
    assert "编制完成" in progress.inner_text()
    assert "节日慰问" in page.inner_text("#run-kind") and title in page.inner_text("h1")
    assert "节日慰问金" in page.inner_text("#run-totals")
    shot("prepared")
    page.goto(f"{base}/admin/allowances")
    assert title in page.inner_text(f"#run-{run_id}")
    shot("runs")
    logout(page)

    # The district admin signs it off and downloads the bank file.
    login(page, base, "admin")
    page.goto(run_url)
    assert "周小禾" in page.inner_text("#run-payments") and "6222021234567890123" not in page.content()
    page.fill("#sign-note", "春节慰问名册核对无误")
    page.click("button:has-text('签批发放名册')")
    page.wait_for_url(re.compile(rf".*/admin/allowances/runs/{run_id}\?done=signed"))
    shot("signed")
    with page.expect_download() as info:
        page.click("#bank-file")
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded == raw(base, "admin", f"/api/v1/allowances/runs/{run_id}/bank-file")
    assert title.encode(settings.allowances.bank_file_encoding) in downloaded
    logout(page)

    # The officer records it paid.
    login(page, base, "procurement")
    page.goto(run_url)
    page.click("button:has-text('登记已发放')")
    page.wait_for_url(re.compile(rf".*/admin/allowances/runs/{run_id}\?done=paid"))
    logout(page)

    # The quarter report page shows it by kind; its XLSX is the API's.
    login(page, base, "admin")
    page.goto(f"{base}/admin/allowances/quarter?year={year}&quarter={quarter}")
    row = page.inner_text("#quarter-kind-festival")
    assert "节日慰问金" in row and "800.00" in row
    shot("quarter")
    with page.expect_download() as info:
        page.click("#quarter-xlsx")
    xlsx = Path(info.value.path()).read_bytes()
    path = f"/api/v1/reports/allowances?year={year}&quarter={quarter}&format=xlsx"
    assert xlsx[:2] == b"PK" and same_download(xlsx, raw(base, "admin", path))

    # The API agrees.
    assert api(base, "admin", f"/api/v1/allowances/runs/{run_id}")["status"] == "paid"
    report = api(base, "admin", f"/api/v1/reports/allowances?year={year}&quarter={quarter}")
    festival = next(x for x in report["totals"] if x["kind"] == "festival")
    assert festival["payments"] == 1 and festival["total_fen"] == 80_000
    assert not errors, errors
    context.close()
