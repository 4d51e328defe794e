"""The fund manager on a phone: imports a GBK bank statement after previewing it, runs the bank reconciliation,
resolves the bank fee with a posted correction, re-runs and sees no difference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.admin.money import fund_with_gifts
from tests.admin.test_funds import gbk_statement
from tests.browser.test_accounts import PHONE, fits_the_screen
from tests.browser.test_console import login

pytestmark = pytest.mark.browser


@pytest.fixture
async def statement_file(client, auth, db, world, tmp_path: Path) -> Path:
    await fund_with_gifts(client, auth, db, world)
    path = tmp_path / "农商银行对账单.csv"
    path.write_bytes(gbk_statement(clock.today()))
    return path


def test_fund_manager_reconciles_to_zero_on_a_phone(
    live_server: str, statement_file: Path, shots: Path, browser: Any
) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    today = clock.today().isoformat()

    login(page, live_server, "fund")
    page.goto(f"{live_server}/admin/funds/statements")
    # Import with a preview first.
    importer = page.locator("form.statement")
    importer.locator("input[name=file]").set_input_files(str(statement_file))
    importer.locator("button", has_text="预览").click()
    preview = page.locator("#statement-preview")
    preview.locator("text=确认导入").wait_for()
    assert "编码 gbk" in preview.inner_text() and "李女士" in preview.inner_text()
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "fund-statement-preview-phone.png"), full_page=True)
    preview.locator("button", has_text="确认导入").click()
    page.locator("#statement-preview", has_text="已导入 1 笔来款").wait_for()

    # Run the bank reconciliation for today.
    page.goto(f"{live_server}/admin/funds/reconciliations")
    runner = page.locator("form.reconcile")
    runner.locator("select[name=source]").select_option("bank")
    runner.locator("input[name=since]").fill(today)
    runner.locator("input[name=until]").fill(today)
    runner.locator("input[name=file]").set_input_files(str(statement_file))
    runner.locator("button", has_text="开始对账").click()
    page.locator("#flash", has_text="发现 1 条差异").wait_for()
    row = page.locator("tr", has_text="FEE-1")
    kinds = row.locator("select[name=kind]")
    assert "借 手续费 10.00 元 / 贷 银行存款" in row.inner_text()
    kinds.select_option("bank_fee")
    row.locator("input[name=note]").fill("账户管理费")
    page.screenshot(path=str(shots / "fund-difference-kind-phone.png"), full_page=True)
    row.locator("button", has_text="记账并处理").click()
    page.locator("#flash", has_text="已处理").wait_for()
    assert "账户管理费" in page.locator("tr", has_text="FEE-1").inner_text()

    # The re-run finds the books equal to the bank.
    runner.locator("input[name=file]").set_input_files(str(statement_file))
    runner.locator("button", has_text="开始对账").click()
    page.locator("#flash", has_text="没有差异").wait_for()
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "fund-reconciled-to-zero-phone.png"), full_page=True)
    assert not errors, errors
    context.close()
