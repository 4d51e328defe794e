"""The procurement officer's day in a real browser, on a laptop (1366×900) and on a phone (360×740): from a budget
line a new procurement (the rules engine's answer shown as the amount is typed), three bids, the award and its
publicity countdown; the app's clock moves past the publicity, the contract is signed, the first milestone's
evidence uploaded (and downloaded back), the milestone accepted and paid. The outcome is checked through the API
(the contract's paid amount, the budget line's committed and paid) and every page is measured for sideways
scrolling."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.browser.conftest import served
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n% service ledger for the first milestone\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SHIFT_FILE = "clock-shift-days"


# ---------------------------------------------------------------- a server whose clock the test can move


def make() -> Any:
    """The browser tests' app, behind a wrapper that sets the app's clock from a file in the test's directory
    before each request (the test writes the number of days to move it forward)."""
    from tests.browser import app_factory

    inner = app_factory.make()
    shift = Path(os.environ["BROWSER_TEST_TMP"]) / SHIFT_FILE

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if shift.exists():
            days = int(shift.read_text().strip() or "0")
            clock.reset()
            if days:
                clock.set_offset(clock.now() + dt.timedelta(days=days))
        await inner(scope, receive, send)

    return app


@pytest.fixture
def clocked_server(database_url: str, world: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with served("tests.browser.test_procurement_journey:make", database_url, tmp_path, timeout=60) as base:
        yield base, tmp_path / SHIFT_FILE


LINES = [
    {"code": "purchase_services", "name": "购买服务", "appropriation_fen": 100_000_000},
    {"code": "training", "name": "培训", "appropriation_fen": 5_000_000},
]


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_procurement_from_budget_line_to_a_paid_first_milestone(
    clocked_server: tuple[str, Path], world: Any, shots: Path, tmp_path: Path, browser: Any, device: str
) -> None:
    base, shift_file = clocked_server
    phone = device == "phone"
    budget = api(
        base,
        "procurement",
        "/api/v1/budgets",
        {"name": "儿童关爱专项资金", "fiscal_year": clock.today().year, "total_fen": 105_000_000, "lines": LINES},
    )
    line = next(x["id"] for x in budget["lines"] if x["code"] == "purchase_services")
    context = browser.new_context(**(PHONE if phone else LAPTOP), accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())

    def shot(name: str) -> None:
        page.wait_for_load_state("networkidle")
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-procurement-{name}.png"), full_page=True)

    # The overview, then the budget with its lines.
    login(page, base, "procurement")
    go(page, phone, "预算与采购")
    page.wait_for_url("**/admin/procurement")
    shot("overview")
    page.click(f"a[href='/admin/procurement/budgets/{budget['id']}']")
    page.wait_for_url(f"**/admin/procurement/budgets/{budget['id']}")
    assert "¥1,000,000.00" in page.inner_text("#budget-lines")
    shot("budget")
    page.click(f"#line-{line} a:has-text('购买服务')")
    page.wait_for_url(f"**/admin/procurement/budgets/{budget['id']}/lines/{line}")
    shot("line-empty")
    page.go_back()
    page.wait_for_url(f"**/admin/procurement/budgets/{budget['id']}")

    # From the line, a new procurement: the rules answer follows the amount as it is typed.
    page.click(f"#line-{line} a:has-text('从此科目采购')")
    page.wait_for_url(f"**/admin/procurement/new?line={line}")
    page.fill("input[name=title]", "困境儿童心理关爱服务项目")
    page.check("input[name=service_categories][value=psych_counselling]")
    page.type("input[name=estimated]", "5000000", delay=20)
    page.locator("#rules", has_text="不足以容纳本项目").wait_for()
    assert "已达到" in page.inner_text("#rules") and "公开招标" in page.inner_text("#rules")
    shot("rules-too-much")
    page.fill("input[name=estimated]", "")
    page.type("input[name=estimated]", "300000", delay=20)
    page.locator("#rules [data-may-open=yes]").wait_for()
    assert "公示期至" in page.inner_text("#rules")
    shot("rules-ok")
    page.click("button:has-text('建立采购项目')")
    page.wait_for_url(re.compile(r".*/admin/procurement/\d+\?done=created"))
    pid = int(re.search(r"/admin/procurement/(\d+)", page.url).group(1))  # type: ignore[union-attr]

    # Three bids; the scoring table ranks them.
    bids = zip(world.suppliers, ("280000", "290000", "295000"), ("92", "80", "70"), strict=True)
    for n, (org, price, tech) in enumerate(bids):
        page.select_option("#bid-form select[name=organization_id]", str(org))
        page.fill("#bid-form input[name=price]", price)
        page.fill("#bid-form input[name=technical_score]", tech)
        page.click("#bid-form button:has-text('登记')")
        # Each bid reloads the page with one more row in the scoring table.
        page.locator("#bid-table tbody tr").nth(n).wait_for()
        page.wait_for_load_state("networkidle")
    assert page.locator("#bid-table tbody tr").count() == 3
    shot("bids")

    # Award today: the publicity countdown starts and signing waits for it.
    page.click("#award-form button:has-text('确定并公示')")
    page.wait_for_url(re.compile(r".*\?done=awarded"))
    assert "还剩" in page.inner_text("#publicity") and "公示期未满" in page.inner_text("#sign")
    assert page.locator("#sign-form button[type=submit]").is_disabled()
    shot("publicity")
    with page.expect_download() as got:
        page.click("a:has-text('下载 OCDS 记录包')")
    assert b'"records"' in Path(got.value.path()).read_bytes()

    # The app's clock moves to the day after the publicity; the session has expired meanwhile.
    ends = dt.date.fromisoformat(api(base, "procurement", f"/api/v1/procurements/{pid}")["publicity_ends_on"])
    shift_file.write_text(str((ends - clock.today()).days + 1))
    login(page, base, "procurement")
    page.goto(f"{base}/admin/procurement/{pid}")
    assert "届满" in page.inner_text("#publicity")
    shot("publicity-over")
    page.click("#sign-form button:has-text('签订合同')")
    page.wait_for_url(re.compile(r".*/admin/procurement/contracts/\d+\?done=signed"))
    cid = int(re.search(r"/contracts/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    shot("contract")

    # The first milestone: upload its evidence, download it back, accept it, pay it.
    first = page.locator(".milestone").first
    evidence = tmp_path / "首期服务台账.pdf"
    evidence.write_bytes(PDF)
    first.locator("input[type=file]").set_input_files(str(evidence))
    first.locator("button:has-text('上传')").click()
    page.wait_for_url(re.compile(r".*\?done=evidence.*"))
    first = page.locator(".milestone").first
    sha = hashlib.sha256(PDF).hexdigest()
    assert sha[:12] in first.inner_text()
    with page.expect_download() as got:
        first.locator("a:has-text('首期服务台账.pdf')").click()
    assert Path(got.value.path()).read_bytes() == PDF
    first.locator("input[name=note]").fill("服务台账与签到表齐全")
    first.locator("button:has-text('验收')").click()
    page.wait_for_url(re.compile(r".*\?done=accepted.*"))
    assert "已验收" in page.locator(".milestone").first.inner_text()
    shot("accepted")
    page.click("#pay-form button:has-text('登记支付')")
    page.wait_for_url(re.compile(r".*\?done=paid"))
    shot("paid")
    page.goto(f"{base}/admin/procurement/budgets/{budget['id']}/lines/{line}")
    assert "支付" in page.inner_text("#movements") and "承诺" in page.inner_text("#movements")
    shot("line")
    assert not errors, errors

    # The outcome through the API.
    contract = api(base, "procurement", f"/api/v1/contracts/{cid}")
    assert contract["amount_fen"] == 28_000_000 and contract["paid_fen"] == 11_200_000
    assert contract["milestones"][0]["status"] == "accepted"
    assert contract["milestones"][0]["evidence"][0]["sha256"] == sha
    lines = {x["id"]: x for x in api(base, "procurement", f"/api/v1/budgets/{budget['id']}")["lines"]}
    assert lines[line]["committed_fen"] == 28_000_000 and lines[line]["paid_fen"] == 11_200_000
    assert lines[line]["held_fen"] == 0
    context.close()
