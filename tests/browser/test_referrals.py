"""The referral board and the money pages in a real browser: a supervisor sees what is late, a provider accepts,
the fund manager reconciles a bank statement, the money charts draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from marketplace import clock
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child
from tests.admin.money import budget_with_contract, fund_with_gifts
from tests.admin.test_referrals import board
from tests.browser.test_console import charts_drawn, login, logout
from tests.cases.support import id_number

pytestmark = pytest.mark.browser


@pytest.fixture
async def prepared(client, auth, db, world, settings) -> dict[str, Any]:
    ids = await board(db, world)
    # The board's children carry placeholder ciphertexts; the supervisor opens a child's file here, so theirs are
    # real (the file page decrypts the masked identity number).
    cipher = field_cipher(settings)
    async with db.session() as s:
        for i, child in enumerate((await s.scalars(select(Child).where(Child.id_number_enc == "x"))).all()):
            number = id_number(child.birth_date, f"{970 + i:03d}")
            child.id_number_enc = cipher.encrypt(number, "children.id_number")
            child.id_number_hmac = cipher.lookup_hash(number)
    await budget_with_contract(client, auth, world)
    fund_id = await fund_with_gifts(client, auth, db, world)
    return {"ids": ids, "fund_id": fund_id}


def background(locator: Any) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).backgroundColor"))


def test_supervisor_sees_overdue_and_provider_accepts(
    live_server: str, prepared: dict[str, Any], shots: Path, browser: Any
) -> None:
    ids = prepared["ids"]
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server

    # The supervisor: the late referral is in the "needs chasing" list, highlighted, and links to the child.
    login(page, base, "supervisor")
    page.click("nav >> text=转介看板")
    late = page.locator(f"#referral-attention-{ids['sent']}")
    assert "超时未答复" in late.inner_text()
    assert background(late) == "rgb(254, 243, 199)"  # the console's warning yellow
    assert background(page.locator(f"#referral-all-{ids['active']}")) != "rgb(254, 243, 199)"
    assert "已升级督办" in page.locator(f"#referral-attention-{ids['escalated']}").inner_text()
    assert "20 天无服务记录" in page.locator(f"#referral-attention-{ids['stale']}").inner_text()
    page.screenshot(path=str(shots / "supervisor-referrals.png"), full_page=True)
    late.locator("a", has_text="张小明1").click()
    page.wait_for_url("**/admin/children/*")
    assert "张小明1 · 儿童档案" in page.title()
    page.screenshot(path=str(shots / "supervisor-child-entry.png"), full_page=True)
    logout(page)

    # The provider: sees the minimal child only, accepts in place, and the stored state survives a reload.
    login(page, base, "org")
    page.click("nav >> text=收到的转介")
    assert "张小明" not in page.content() and "张*" in page.content()
    page.screenshot(path=str(shots / "org-referrals.png"), full_page=True)
    row = page.locator(f"#referral-all-{ids['sent']}")
    row.locator("button", has_text="接收").click()
    page.locator("#flash", has_text="已接收").wait_for()
    assert "已接收" in page.locator(f"#referral-all-{ids['sent']}").inner_text()
    assert page.locator(f"#referral-all-{ids['sent']} button").count() == 0
    # Answered, it leaves the "needs chasing" list at once.
    assert page.locator(f"#referral-attention-{ids['sent']}").count() == 0
    page.screenshot(path=str(shots / "org-referral-accepted.png"), full_page=True)
    page.reload()
    assert "已接收" in page.locator(f"#referral-all-{ids['sent']}").inner_text()
    # Accepted, the referral is no longer late for an answer.
    assert page.locator(f"#referral-attention-{ids['sent']}").count() == 0
    logout(page)
    assert not errors, errors
    context.close()


def test_money_charts_and_a_bank_reconciliation(
    live_server: str, prepared: dict[str, Any], shots: Path, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server

    login(page, base, "fund")
    assert charts_drawn(page) == 3  # budget execution, fund income, fund spending
    page.screenshot(path=str(shots / "fund-dashboard-charts.png"), full_page=True)
    page.click("nav >> text=公益基金")
    page.click(".funds-nav >> text=对账")
    page.wait_for_url("**/admin/funds/reconciliations")
    today = clock.today()
    csv = tmp_path / "statement.csv"
    csv.write_text(
        f"date,amount,reference,payer\n{today},1000.00,BANK-0001,某某科技\n{today},88.00,BANK-0999,不明来款\n"
    )
    page.select_option("select[name=source]", "bank")
    page.fill("input[name=since]", str(today))
    page.fill("input[name=until]", str(today))
    page.set_input_files("input[name=file]", str(csv))
    page.click("text=开始对账")
    page.locator("#flash", has_text="发现 1 条差异").wait_for()
    assert "BANK-0999" in page.locator("#runs").inner_text()
    page.screenshot(path=str(shots / "fund-reconciliation-run.png"), full_page=True)
    page.goto(f"{base}/admin/funds?channel=cash")
    assert "王先生" in page.content() and "深圳市某某科技有限公司" not in page.content()
    logout(page)

    login(page, base, "admin")
    assert charts_drawn(page) >= 6
    page.screenshot(path=str(shots / "admin-dashboard-money.png"), full_page=True)
    logout(page)
    assert not errors, errors
    context.close()


def test_referral_board_on_a_phone(live_server: str, prepared: dict[str, Any], shots: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    login(page, live_server, "org")
    page.goto(f"{live_server}/admin/referrals")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(shots / "phone-org-referrals.png"), full_page=True)
    context.close()
