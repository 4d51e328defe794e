"""The fund manager's day in a real browser on a laptop (1366×900): log in, record an offline bank transfer from a
new donor found-or-created as the name is typed, print its receipt (then again: a copy, 副本), save a bank's
column layout once, upload that bank's GBK statement, preview and import it, run the bank reconciliation, resolve
the bank fee with its correction previewed and re-run to zero differences. The outcome is checked through the API;
then the fund pages are measured on a phone (360×740) for sideways scrolling. Screenshots are saved."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from tests.admin.money import fund_with_gifts
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, PHONE, api, no_sideways_scroll

pytestmark = pytest.mark.browser

DONOR = "深圳市新星科技有限公司"


def rural_bank_statement(day: dt.date) -> bytes:
    """A statement as the district's rural commercial bank exports it: GBK, a title line above its own headers
    (which no standard layout knows), dates as 20261202, money in and out in two columns."""
    d = day.strftime("%Y%m%d")
    return (
        "福田农商银行 账户交易明细\n"
        "记账时间,来账金额,往账金额,付款人名称,附言,业务编号\n"
        f"{d},1000.00,,深圳市某某科技有限公司,捐赠,BANK-0001\n"
        f"{d},12000.00,,{DONOR},捐赠,NS-8001\n"
        f"{d},66.00,,李女士,捐赠,NS-0066\n"
        f"{d},,10.00,,账户管理费,FEE-1\n"
    ).encode("gbk")


@pytest.fixture
async def statement_file(client: Any, auth: Any, db: Any, world: Any, tmp_path: Path) -> Path:
    await fund_with_gifts(client, auth, db, world)
    path = tmp_path / "福田农商银行对账单.csv"
    path.write_bytes(rural_bank_statement(clock.today()))
    return path


def test_fund_manager_records_a_gift_prints_its_receipt_imports_and_reconciles_to_zero(
    live_server: str, statement_file: Path, shots: Path, browser: Any
) -> None:
    base = live_server
    today = clock.today().isoformat()
    context = browser.new_context(**LAPTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"laptop-fund-{name}.png"), full_page=True)

    login(page, base, "fund")
    page.click("nav >> text=公益基金")
    page.wait_for_url(f"{base}/admin/funds")
    shot("overview")

    # An offline gift: the donor is looked up as the name is typed; none is found, so one is created.
    page.click(".funds-nav >> text=登记捐赠")
    page.wait_for_url(f"{base}/admin/funds/donations/new")
    form = page.locator("form.gift")
    form.locator("input[name=donor_name]").type("深圳市新星", delay=30)
    page.locator("#donor-matches", has_text="新建捐赠人").wait_for()
    form.locator("input[name=donor_name]").fill(DONOR)
    form.locator("select[name=donor_kind]").select_option("enterprise")
    form.locator("input[name=donor_phone]").fill("0755-26660000")
    form.locator("input[name=consent][value=named]").check()
    form.locator("select[name=channel]").select_option("bank_transfer")
    # A bad amount first: answered in place, the values kept.
    form.locator("input[name=amount]").fill("一万二")
    form.locator("input[name=reference]").fill("NS-8001")
    form.locator("select[name=purpose]").select_option(label="定向：心理疏导")
    form.locator("button[type=submit]").click()
    page.locator("#gift-error", has_text="请填写金额（元）").wait_for()
    assert page.locator("form.gift input[name=reference]").input_value() == "NS-8001"
    shot("gift-bad-amount")
    page.locator("form.gift input[name=amount]").fill("12000")
    page.locator("form.gift button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/admin/funds/donations/\d+\?done=recorded$"))
    assert "捐赠已登记" in page.inner_text("main") and DONOR in page.inner_text("main")
    donation_id = int(page.url.split("/")[-1].split("?")[0])
    shot("gift-recorded")

    # The receipt: the first print is the original, the next a copy.
    page.goto(f"{base}/admin/funds/donations/{donation_id}/receipt")
    receipt = page.locator("article.receipt")
    assert "人民币壹万贰仟元整" in receipt.inner_text() and "（原件）" in receipt.inner_text()
    assert page.locator(".receipt-mark").count() == 0
    shot("receipt-original")
    page.emulate_media(media="print")
    page.screenshot(path=str(shots / "laptop-fund-receipt-print.png"), full_page=True)
    page.emulate_media(media="screen")
    page.goto(f"{base}/admin/funds/donations/{donation_id}/receipt")
    assert page.locator(".receipt-mark").inner_text() == "副本"
    shot("receipt-copy")

    # The bank's layout, saved once; then its GBK statement previewed and imported.
    page.goto(f"{base}/admin/funds/statements")
    page.click("summary >> text=保存某银行的对账单格式")
    mapping = page.locator("form.statement-mapping")
    for name, value in {
        "bank_code": "ftrcb",
        "name": "福田农商银行",
        "date_format": "%Y%m%d",
        "skip_rows": "1",
        "col_date": "记账时间",
        "col_credit": "来账金额",
        "col_debit": "往账金额",
        "col_payer": "付款人名称",
        "col_memo": "附言",
        "col_reference": "业务编号",
    }.items():
        mapping.locator(f"input[name={name}]").fill(value)
    mapping.locator("select[name=encoding]").select_option("gbk")
    mapping.locator("button[type=submit]").click()
    page.locator("#statement-preview", has_text="已保存对账单格式").wait_for()
    page.reload()
    importer = page.locator("form.statement")
    importer.locator("input[name=file]").set_input_files(str(statement_file))
    importer.locator("select[name=mapping_id]").select_option(label="福田农商银行")
    importer.locator("button", has_text="预览").click()
    preview = page.locator("#statement-preview")
    preview.locator("text=确认导入").wait_for()
    text = preview.inner_text()
    assert "编码 gbk" in text and "李女士" in text and "将登记为捐赠" in text
    shot("statement-preview")
    preview.locator("button", has_text="确认导入").click()
    page.locator("#statement-preview", has_text="已导入 1 笔来款").wait_for()
    page.click("#statement-preview >> text=查看导入结果")
    page.wait_for_url(re.compile(r".*/admin/funds/statements/imports/\d+$"))
    assert "NS-0066" in page.inner_text("main") and "FEE-1" in page.inner_text("main")
    shot("statement-imported")

    # The bank reconciliation: one difference (the fee), resolved by kind, then a re-run finds none.
    page.click(".funds-nav >> text=对账")
    page.wait_for_url(re.compile(r".*/admin/funds/reconciliations(\?.*)?$"))
    page.wait_for_load_state()  # htmx (a deferred script) binds the forms before they are used
    runner = page.locator("form.reconcile")
    runner.locator("select[name=source]").select_option("bank")
    runner.locator("input[name=since]").fill(today)
    runner.locator("input[name=until]").fill(today)
    runner.locator("input[name=file]").set_input_files(str(statement_file))
    runner.locator("select[name=mapping_id]").select_option(label="福田农商银行")
    runner.locator("button", has_text="开始对账").click()
    page.locator("#flash", has_text="发现 1 条差异").wait_for()
    page.wait_for_load_state()
    row = page.locator("tr", has_text="FEE-1")
    assert "借 手续费 10.00 元 / 贷 银行存款" in row.inner_text()
    row.locator("select[name=kind]").select_option("bank_fee")
    # The correcting entry is shown before it posts.
    row.locator(".diff-preview", has_text="记手续费 10.00 元").wait_for()
    assert "借 手续费" in row.locator(".diff-preview").inner_text()
    row.locator("input[name=note]").fill("账户管理费")
    shot("difference")
    row.locator("button", has_text="记账并处理").click()
    page.locator("#flash", has_text="已处理").wait_for()
    runner.locator("input[name=file]").set_input_files(str(statement_file))
    runner.locator("button", has_text="开始对账").click()
    page.locator("#flash", has_text="没有差异").wait_for()
    shot("reconciled")
    assert not errors, errors
    context.close()

    # The outcome, through the API.
    gift = api(base, "fund", f"/api/v1/donations/{donation_id}")
    assert gift["amount_fen"] == 1_200_000 and gift["status"] == "succeeded" and gift["receipt_no"]
    assert gift["purpose"] == "category:psych_counselling" and gift["external_id"] == "NS-8001"
    donors = api(base, "fund", "/api/v1/donors?q=0755-26660000")["items"]
    assert [d["name"] for d in donors] == [DONOR] and donors[0]["consent_to_name"] is True
    runs = api(base, "fund", "/api/v1/reconciliations")["items"]
    latest, first = runs[0], runs[-1]
    assert latest["differences"] == [] and latest["matched"] == 4  # three gifts and the fee, now on the books
    assert all(d["resolved_at"] for d in first["differences"])
    imported = api(base, "fund", "/api/v1/donations?channel=bank_transfer")["items"]
    assert any(d["external_id"] == "NS-0066" and d["donor_name"] == "李女士" for d in imported)

    # The same pages on a phone: nothing scrolls sideways.
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    login(page, base, "fund")
    for path in (
        "/admin/funds",
        "/admin/funds/donations/new",
        f"/admin/funds/donations/{donation_id}",
        "/admin/funds/donors",
        "/admin/funds/statements",
        "/admin/funds/reconciliations",
        "/admin/funds/disbursements/new",
        "/admin/funds/disclosures",
    ):
        page.goto(base + path)
        no_sideways_scroll(page, path)
    page.goto(f"{base}/admin/funds/donations/{donation_id}/receipt")
    no_sideways_scroll(page, "receipt")
    page.screenshot(path=str(shots / "phone-fund-receipt-copy.png"), full_page=True)
    page.goto(f"{base}/admin/funds/donations/new")
    page.screenshot(path=str(shots / "phone-fund-gift-form.png"), full_page=True)
    phone.close()
