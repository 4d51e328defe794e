"""The fund and procurement sections in a real browser: each officer does their job through the forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.admin.test_sections import a_contract, open_difference
from tests.browser.test_console import login, logout

pytestmark = pytest.mark.browser


@pytest.fixture
async def prepared(client, auth, db, world) -> dict[str, Any]:
    recon_id = await open_difference(db)
    contract = await a_contract(client, auth, world)
    return {"recon_id": recon_id, "contract": contract}


def test_officers_resolve_and_accept(live_server: str, prepared: dict[str, Any], shots: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server

    login(page, base, "fund")
    page.click("nav >> text=公益基金")
    page.goto(f"{base}/admin/funds/reconciliations/{prepared['recon_id']}")
    row = page.locator("tr", has_text="BANK-77")
    row.locator("select[name=kind]").select_option("timing")
    row.locator("input[name=note]").fill("银行退汇，已与出纳核实")
    row.locator("button", has_text="处理").click()
    page.locator("#flash", has_text="已处理").wait_for()
    assert "银行退汇，已与出纳核实" in page.locator("tr", has_text="BANK-77").inner_text()
    page.screenshot(path=str(shots / "fund-difference-resolved.png"), full_page=True)
    logout(page)

    login(page, base, "procurement")
    page.click("nav >> text=预算与采购")
    row = page.locator("tr", has_text="首期服务交付")
    assert "逾期" in row.inner_text()
    row.locator("input[name=evidence]").fill("服务台账.pdf")
    row.locator("button", has_text="验收").click()
    page.locator("#flash", has_text="已验收").wait_for()
    assert "已验收" in page.locator("tr", has_text="首期服务交付").inner_text()
    page.screenshot(path=str(shots / "procurement-milestone-accepted.png"), full_page=True)
    # A reload shows the stored state, not only the swapped fragment.
    page.reload()
    assert "已验收" in page.locator("tr", has_text="首期服务交付").inner_text()
    logout(page)
    assert not errors, errors
    context.close()
