"""The fund page's donation filters, and a reconciliation run started from the console."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.funds.models import Donation, JournalEntry, Reconciliation
from tests.admin.console import console_login, htmx
from tests.admin.money import fund_with_gifts


def donation_rows(html: str) -> str:
    return html[html.index("捐赠记录") :]


async def test_donations_filter_by_status_and_channel(client, auth, world, db) -> None:
    await fund_with_gifts(client, auth, db, world)
    await console_login(client, "auditor")
    everything = donation_rows((await client.get("/admin/funds")).text)
    assert "深圳市某某科技有限公司" in everything and "王先生" in everything
    cash = donation_rows((await client.get("/admin/funds?channel=cash")).text)
    assert "王先生" in cash and "深圳市某某科技有限公司" not in cash
    assert '<option value="cash" selected>' in cash
    bank = donation_rows((await client.get("/admin/funds?channel=bank_transfer&status=succeeded")).text)
    assert "深圳市某某科技有限公司" in bank and "王先生" not in bank and "已到账" in bank
    none = donation_rows((await client.get("/admin/funds?status=refunded")).text)
    assert "没有符合条件的捐赠" in none and "清除筛选" in none
    for url in ("/admin/funds?status=nope", "/admin/funds?channel=paypal"):
        r = await client.get(url)
        assert r.status_code == 422 and "text/html" in r.headers["content-type"], url


def statement(day: dt.date) -> bytes:
    # BANK-0001 matches the 1,000-yuan gift; BANK-0999 is money the bank has and the books do not.
    return f"date,amount,reference,payer\n{day},1000.00,BANK-0001,某某科技\n{day},88.00,BANK-0999,不明来款\n".encode()


async def test_fund_manager_runs_a_bank_reconciliation_and_sees_its_differences(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    today = clock.today()
    form = {"fund_id": str(fund_id), "source": "bank", "since": str(today), "until": str(today)}
    files = {"file": ("statement.csv", statement(today), "text/csv")}
    csrf = await console_login(client, "fund")
    page = await client.get("/admin/funds/reconciliations")
    assert "发起对账" in page.text and 'enctype="multipart/form-data"' in page.text
    # No CSRF token, no run.
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers={"HX-Request": "true"})
    assert r.status_code == 403
    # A bank run needs its statement; dates must be dates.
    r = await client.post("/admin/funds/reconciliations", data=form, headers=htmx(csrf))
    assert r.status_code == 422 and "对账单" in r.text
    r = await client.post(
        "/admin/funds/reconciliations", data={**form, "since": "yesterday"}, files=files, headers=htmx(csrf)
    )
    assert r.status_code == 422
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Reconciliation)) == 0
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "匹配 1 笔" in r.text and "发现 1 条差异" in r.text and "平台无记录" in r.text and "BANK-0999" in r.text
    assert "¥88.00" in r.text and "/differences/1/resolve" in r.text
    # The run is stored and listed on the page, its difference open.
    page = await client.get("/admin/funds/reconciliations")
    assert "银行对账单" in page.text and "BANK-0999" in page.text
    async with db.session() as s:
        recon = await s.scalar(select(Reconciliation))
        assert recon is not None and recon.created_by == world.users["fund"] and recon.matched == 1


async def test_plain_form_reconciliation_and_readers_cannot_start_one(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    today = clock.today()
    form: dict[str, Any] = {"fund_id": str(fund_id), "source": "bank", "since": str(today), "until": str(today)}
    files = {"file": ("statement.csv", statement(today), "text/csv")}
    for user in ("admin", "auditor"):
        csrf = await console_login(client, user)
        assert "发起对账" not in (await client.get("/admin/funds/reconciliations")).text
        r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
        assert r.status_code == 403, user
    csrf = await console_login(client, "fund")
    r = await client.post(
        "/admin/funds/reconciliations", data={**form, "_csrf_token": csrf}, files=files, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/funds/reconciliations/")


async def test_a_stripe_run_with_nothing_to_report(client, auth, world, db, monkeypatch) -> None:
    from marketplace.funds import channels
    from tests.funds.support import FakeChannel

    fake = FakeChannel()
    monkeypatch.setitem(channels.ONLINE_CHANNELS, "stripe", lambda settings: fake)
    fund_id = await fund_with_gifts(client, auth, db, world)
    day = clock.today() - dt.timedelta(days=1)
    csrf = await console_login(client, "fund")
    form = {"fund_id": str(fund_id), "source": "stripe", "since": str(day), "until": str(day)}
    r = await client.post("/admin/funds/reconciliations", data=form, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "没有差异" in r.text and "账实相符" in r.text and "Stripe 余额流水" in r.text
    # Stripe is read directly: a file sent with it is refused by the fund's service.
    files = {"file": ("statement.csv", statement(day), "text/csv")}
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
    assert r.status_code == 422 and "Stripe" in r.text


def gbk_statement(day: dt.date) -> bytes:
    # As a Chinese bank exports it: GBK, Chinese headers, income/expense columns, a fee of 10 yuan.
    return (
        "交易日期,收入,支出,对方户名,摘要,流水号\n"
        f"{day},1000.00,,某某科技,捐赠,BANK-0001\n"
        f"{day},66.00,,李女士,捐赠,BANK-0066\n"
        f"{day},,10.00,,账户管理费,FEE-1\n"
    ).encode("gbk")


async def test_fund_manager_previews_a_gbk_statement_then_resolves_a_fee_with_a_posted_correction(
    client, auth, world, db
) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    today = clock.today()
    files = {"file": ("对账单.csv", gbk_statement(today), "text/csv")}
    csrf = await console_login(client, "fund")
    assert "导入银行来款" in (await client.get("/admin/funds/statements")).text
    r = await client.post(
        "/admin/funds/statements/preview", data={"fund_id": str(fund_id)}, files=files, headers=htmx(csrf)
    )
    assert r.status_code == 200, r.text
    assert "编码 gbk" in r.text and "李女士" in r.text and "将登记为捐赠" in r.text and "已登记" in r.text
    assert "支出，不作捐赠" in r.text and "确认导入" in r.text
    file_b64 = r.text.split('name="file_b64" value="')[1].split('"')[0]
    async with db.session() as s:
        before = await s.scalar(select(func.count()).select_from(Donation))
    # A bad file shows its problems by row and column, and offers no import.
    bad = {"file": ("bad.csv", "交易日期,交易金额,流水号\n2026-01-01,abc,Z\n".encode("gbk"), "text/csv")}
    r = await client.post(
        "/admin/funds/statements/preview", data={"fund_id": str(fund_id)}, files=bad, headers=htmx(csrf)
    )
    assert r.status_code == 200 and "第 2 行「交易金额」列" in r.text and "确认导入" not in r.text
    r = await client.post(
        "/admin/funds/statements/import", data={"fund_id": str(fund_id), "file_b64": file_b64}, headers=htmx(csrf)
    )
    assert r.status_code == 200 and "已导入 1 笔来款" in r.text, r.text
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Donation)) == before + 1

    form = {"fund_id": str(fund_id), "source": "bank", "since": str(today), "until": str(today)}
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "发现 1 条差异" in r.text and "FEE-1" in r.text
    # The resolve form offers the kinds that fit, each saying what it will post.
    assert 'value="bank_fee"' in r.text and "借 手续费 10.00 元 / 贷 银行存款" in r.text
    assert 'value="missing_gift"' not in r.text
    recon_id = int(r.text.split('id="recon-')[1].split('"')[0])
    url = f"/admin/funds/reconciliations/{recon_id}/differences/1/resolve"
    r = await client.post(url, data={"kind": "bank_fee", "note": "账户管理费"}, headers=htmx(csrf))
    assert r.status_code == 200 and "已处理" in r.text, r.text
    async with db.session() as s:
        fee = await s.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == f"reconciliation:{recon_id}:1"))
        assert fee is not None and fee.source == "reconciliation"
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
    assert r.status_code == 200 and "没有差异" in r.text and "账实相符" in r.text


async def test_fund_manager_saves_a_banks_layout_and_reads_its_statement(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    layout = {
        "bank_code": "pab",
        "name": "平安银行",
        "encoding": "gbk",
        "date_format": "%Y%m%d",
        "skip_rows": "1",
        "col_date": "记账时间",
        "col_amount": "发生额",
        "col_payer": "对方账户名",
        "col_reference": "业务编号",
    }
    r = await client.post("/admin/funds/statement-mappings", data={**layout, "col_date": ""}, headers=htmx(csrf))
    assert r.status_code == 422
    r = await client.post("/admin/funds/statement-mappings", data=layout, headers=htmx(csrf))
    assert r.status_code == 200 and "已保存对账单格式：平安银行" in r.text, r.text
    page = (await client.get("/admin/funds/statements")).text
    mapping_id = page.split('name="mapping_id"><option value="">自动识别</option><option value="')[1].split('"')[0]
    text = f"平安银行对账单\n记账时间,发生额,对方账户名,业务编号\n{clock.today():%Y%m%d},66.00,赵六,P-1\n"
    files = {"file": ("pab.csv", text.encode("gbk"), "text/csv")}
    r = await client.post(
        "/admin/funds/statements/preview",
        data={"fund_id": str(fund_id), "mapping_id": mapping_id},
        files=files,
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and "赵六" in r.text and "¥66.00" in r.text and "确认导入" in r.text, r.text
    # The same bank code again updates the layout instead of adding one.
    r = await client.post(
        "/admin/funds/statement-mappings", data={**layout, "name": "平安银行企业网银"}, headers=htmx(csrf)
    )
    assert r.status_code == 200
    listed = (await client.get("/api/v1/statement-mappings", headers=await auth("fund"))).json()
    assert [m["name"] for m in listed["items"]] == ["平安银行企业网银"]
    await console_login(client, "auditor")
    assert "保存某银行的对账单格式" not in (await client.get("/admin/funds/statements")).text
