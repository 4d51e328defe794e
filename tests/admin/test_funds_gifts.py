"""The fund manager's gifts in the console: an offline gift with its donor found or created, its receipt (original,
then copies), refund and purpose change previewed before they post, the donor list, and a disbursement within a
purpose's balance. Every refused form answers in place with the API's message and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.funds.models import (
    Disbursement,
    Donation,
    DonationRefund,
    Donor,
    JournalEntry,
    PurposeChange,
)
from marketplace.funds.reconciliation_models import ReceiptPrint, StatementImport
from tests.admin.console import console_login, htmx
from tests.admin.money import fund_with_gifts
from tests.admin.test_funds import gbk_statement


async def counts(db: Any) -> tuple[int, ...]:
    async with db.session() as s:
        return tuple(
            [
                await s.scalar(select(func.count()).select_from(model)) or 0
                for model in (Donation, Donor, JournalEntry, DonationRefund, PurposeChange, Disbursement)
            ]
        )


def gift_form(fund_id: int, **changes: str) -> dict[str, str]:
    form = {
        "fund_id": str(fund_id),
        "donor_name": "深圳市爱心餐饮有限公司",
        "donor_kind": "enterprise",
        "donor_phone": "0755-88886666",
        "consent": "named",
        "channel": "bank_transfer",
        "amount": "12,000",
        "received_on": clock.today().isoformat(),
        "reference": "BANK-7001",
        "purpose": "category:psych_counselling",
        "note": "",
    }
    return {**form, **changes}


async def test_recording_an_offline_gift_refuses_bad_input_in_place_and_changes_nothing(
    client, auth, world, db
) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    page = await client.get("/admin/funds/donations/new")
    assert page.status_code == 200
    assert "登记线下捐赠" in page.text and 'name="amount"' in page.text and "定向：心理疏导" in page.text
    # Purposes are offered by name, never as a bare id.
    assert "服务项目 #" not in page.text
    before = await counts(db)
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    bad = [
        ({"amount": "12k"}, "请填写金额（元）"),
        ({"amount": "0"}, "金额须大于 0"),
        ({"reference": ""}, "银行转账须填写银行流水号"),
        ({"received_on": tomorrow}, "到账日期不能晚于今天"),
        ({"consent": ""}, "是否同意公开署名"),
        ({"donor_name": " "}, "请填写捐赠人"),
        ({"donor_phone": "电话"}, "请检查“电话”的填写"),
        ({"reference": "BANK-0001"}, "流水号 BANK-0001 已登记为捐赠"),
        ({"purpose": "street:999999"}, "街道 999999 不存在"),
        ({"purpose": "nonsense"}, "用途 &#39;nonsense&#39; 无效"),
        ({"donor_id": "99999"}, "捐赠人 99999 不存在"),
        ({"fund_id": "999"}, "基金 999 不存在"),
        ({"received_on": "明天"}, "到账日期"),
    ]
    for change, message in bad:
        r = await client.post("/admin/funds/donations/new", data={**gift_form(fund_id), **change}, headers=htmx(csrf))
        assert r.status_code in (404, 409, 422), (change, r.status_code)
        assert message in r.text, (change, r.text[:400])
        # Drawn again in place with what was typed.
        assert 'id="gift-form"' in r.text
        assert 'value="BANK-7001"' in r.text or "reference" in change
        assert "深圳市爱心餐饮有限公司" in r.text or "donor_name" in change
    assert await counts(db) == before
    # A plain (non-htmx) post answers with the whole page, also in place.
    r = await client.post("/admin/funds/donations/new", data={**gift_form(fund_id, amount="x"), "_csrf_token": csrf})
    assert r.status_code == 422 and "<h1>登记线下捐赠</h1>" in r.text and 'value="x"' in r.text
    assert await counts(db) == before

    r = await client.post("/admin/funds/donations/new", data=gift_form(fund_id), headers=htmx(csrf))
    assert r.status_code == 200, r.text
    location = r.headers["hx-redirect"]
    assert location.startswith("/admin/funds/donations/") and location.endswith("?done=recorded")
    donation_id = int(location.split("/")[-1].split("?")[0])
    api = (await client.get(f"/api/v1/donations/{donation_id}", headers=await auth("fund"))).json()
    assert api["amount_fen"] == 1_200_000 and api["status"] == "succeeded" and api["receipt_no"]
    assert api["channel"] == "bank_transfer" and api["purpose"] == "category:psych_counselling"
    async with db.session() as s:
        donor = await s.get(Donor, api["donor_id"])
        assert donor is not None and donor.consent_to_name and donor.phone == "0755-88886666"
    page = await client.get(location)
    assert "捐赠已登记" in page.text and api["receipt_no"] in page.text and "¥12,000.00" in page.text

    # The donor is found as the name (or phone) is typed; choosing them adds no donor.
    r = await client.get("/admin/funds/donors/search", params={"donor_name": "爱心餐饮"})
    assert f'name="donor_id" value="{api["donor_id"]}"' in r.text and "同意署名" in r.text
    r = await client.get("/admin/funds/donors/search", params={"q": "88886666"})
    assert "深圳市爱心餐饮有限公司" in r.text
    listed = (await client.get("/api/v1/donors", params={"q": "88886666"}, headers=await auth("fund"))).json()
    assert [d["name"] for d in listed["items"]] == ["深圳市爱心餐饮有限公司"]
    donors_before = (await counts(db))[1]
    form = gift_form(
        fund_id,
        donor_id=str(api["donor_id"]),
        channel="cash",
        reference="",
        amount="500.5",
        consent="anonymous",
        purpose="unrestricted",
    )
    r = await client.post("/admin/funds/donations/new", data=form, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert (await counts(db))[1] == donors_before
    second = int(r.headers["hx-redirect"].split("/")[-1].split("?")[0])
    async with db.session() as s:
        gift = await s.get(Donation, second)
        assert gift is not None and gift.donor_id == api["donor_id"] and gift.amount_fen == 50_050
        donor = await s.get(Donor, api["donor_id"])
        assert donor is not None and not donor.consent_to_name  # the latest word on being named counts

    # Outside the fund's readers, no donor is found (nor is there a section to look in).
    await console_login(client, "procurement")
    assert (await client.get("/admin/funds/donors/search", params={"q": ""})).status_code == 403
    assert (await client.get("/admin/funds/donors")).status_code == 403
    assert (await client.get(f"/admin/funds/donations/{second}/receipt")).status_code == 403
    # Readers see gifts but get no form.
    await console_login(client, "auditor")
    assert (await client.get("/admin/funds/donations/new")).status_code == 403
    assert (await client.get(f"/admin/funds/donations/{second}")).status_code == 200


async def test_the_receipt_prints_once_as_the_original_then_as_copies(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    fm = await auth("fund")
    gifts = (await client.get("/api/v1/donations", headers=fm)).json()["items"]
    company = next(g for g in gifts if g["donor_name"] == "深圳市某某科技有限公司")
    await console_login(client, "fund")
    first = await client.get(f"/admin/funds/donations/{company['id']}/receipt")
    assert first.status_code == 200
    text = first.text
    assert company["receipt_no"] in text and "人民币壹仟元整" in text and "¥1,000.00" in text
    assert "（原件）" in text and "receipt-mark" not in text and "福田区关爱儿童公益基金" in text
    assert "盖章处" in text and "深圳市某某科技有限公司" in text
    again = await client.get(f"/admin/funds/donations/{company['id']}/receipt")
    assert 'class="receipt-mark"' in again.text and "副本" in again.text and "第 2 次打印" in again.text
    page = await client.get(f"/admin/funds/donations/{company['id']}")
    assert "已打印 2 次" in page.text and "打印收据（副本）" in page.text
    # An auditor may look: always a copy, and no print is recorded.
    await console_login(client, "auditor")
    look = await client.get(f"/admin/funds/donations/{company['id']}/receipt")
    assert look.status_code == 200 and 'class="receipt-mark"' in look.text
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ReceiptPrint)) == 2
    # No receipt before the money is in.
    async with db.session() as s:
        pending = Donation(
            fund_id=fund_id, donor_id=company["donor_id"], amount_fen=100, channel="stripe", status="pending"
        )
        s.add(pending)
        await s.flush()
        pending_id = pending.id
    await console_login(client, "fund")
    r = await client.get(f"/admin/funds/donations/{pending_id}/receipt")
    assert r.status_code == 409 and "到账后才有收据" in r.text


async def test_refund_and_purpose_change_are_previewed_then_posted(client, auth, world, db) -> None:
    await fund_with_gifts(client, auth, db, world)
    fm = await auth("fund")
    gifts = (await client.get("/api/v1/donations", headers=fm)).json()["items"]
    cash = next(g for g in gifts if g["donor_name"] == "王先生")
    csrf = await console_login(client, "fund")
    page = await client.get(f"/admin/funds/donations/{cash['id']}")
    assert "登记退款" in page.text and "变更用途（须捐赠人同意）" in page.text
    before = await counts(db)
    url = f"/admin/funds/donations/{cash['id']}"
    # Too much: the API's 409 in place, values kept.
    r = await client.post(
        f"{url}/refund/preview", data={"amount": "300", "reference": "RF-1", "reason": "捐错了"}, headers=htmx(csrf)
    )
    assert r.status_code == 409 and "超过可退金额" in r.text and 'value="RF-1"' in r.text
    r = await client.post(f"{url}/refund/preview", data={"amount": "50", "reference": "RF-1"}, headers=htmx(csrf))
    assert r.status_code == 422 and "退款原因" in r.text
    # The preview shows the entry and keeps nothing.
    form = {"amount": "50", "reference": "RF-1", "reason": "捐赠人要求部分退回"}
    r = await client.post(f"{url}/refund/preview", data=form, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "预览" in r.text and "借 捐赠收入（非定向） ¥50.00" in r.text.replace('<span class="num">', "").replace(
        "</span>", ""
    )
    assert "贷 银行存款" in r.text and "确认退款" in r.text
    assert await counts(db) == before
    r = await client.post(f"{url}/refund", data=form, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["hx-redirect"].endswith("?done=refunded"), r.text
    after = (await client.get(f"/api/v1/donations/{cash['id']}", headers=fm)).json()
    assert after["refunded_fen"] == 5_000 and after["status"] == "partially_refunded"
    assert after["receipt_no"] and after["receipt_no"] != cash["receipt_no"]
    # The reissued receipt prints as an original again.
    assert "（原件）" in (await client.get(f"{url}/receipt")).text

    # A purpose change needs the donor's consent recorded.
    before = await counts(db)
    change = {"purpose": "category:psych_counselling", "consent_note": "", "consent_reference": "同意书 2026-07"}
    r = await client.post(f"{url}/purpose/preview", data=change, headers=htmx(csrf))
    assert r.status_code == 422 and "捐赠人同意的内容" in r.text and "同意书 2026-07" in r.text
    r = await client.post(f"{url}/purpose", data=change, headers=htmx(csrf))
    assert r.status_code == 422
    assert await counts(db) == before
    change["consent_note"] = "王先生电话同意改为心理服务"
    r = await client.post(f"{url}/purpose/preview", data=change, headers=htmx(csrf))
    assert r.status_code == 200 and "确认变更用途" in r.text and "捐赠收入（定向：心理疏导" in r.text, r.text
    assert await counts(db) == before
    r = await client.post(f"{url}/purpose", data=change, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["hx-redirect"].endswith("?done=changed")
    after = (await client.get(f"/api/v1/donations/{cash['id']}", headers=fm)).json()
    assert after["purpose"] == "category:psych_counselling"
    page = await client.get(f"{url}?done=changed")
    assert "用途已变更" in page.text and "王先生电话同意改为心理服务" in page.text


async def test_donor_list_and_a_disbursement_within_the_purposes_balance(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    page = await client.get("/admin/funds/donors")
    assert page.status_code == 200 and "深圳市某某科技有限公司" in page.text and "王先生" in page.text
    assert "¥1,000.00（1 笔）" in page.text and "不署名" in page.text
    found = await client.get("/admin/funds/donors", params={"q": "王"})
    assert "王先生" in found.text and "深圳市某某科技有限公司" not in found.text

    svc = world.services[0]
    form = await client.get("/admin/funds/disbursements/new")
    assert form.status_code == 200 and "结余 ¥400.00" in form.text and "非定向：结余 ¥200.00" in form.text
    before = await counts(db)
    base = {"fund_id": str(fund_id), "purpose": f"service:{svc}", "service_id": str(svc), "memo": "个案辅导"}
    r = await client.post("/admin/funds/disbursements/preview", data={**base, "amount": "500"}, headers=htmx(csrf))
    assert r.status_code == 409 and "不足支付" in r.text and 'value="500"' in r.text
    r = await client.post("/admin/funds/disbursements", data={**base, "amount": "500"}, headers=htmx(csrf))
    assert r.status_code == 409
    r = await client.post(
        "/admin/funds/disbursements/preview", data={**base, "amount": "1", "referral_id": "x"}, headers=htmx(csrf)
    )
    assert r.status_code == 422 and "转介编号应为编号数字" in r.text
    r = await client.post("/admin/funds/disbursements/preview", data={**base, "amount": "300"}, headers=htmx(csrf))
    assert r.status_code == 200 and "确认拨付" in r.text and "公益支出" in r.text, r.text
    assert await counts(db) == before
    r = await client.post("/admin/funds/disbursements", data={**base, "amount": "300"}, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["hx-redirect"].startswith("/admin/funds?done=disbursed")
    listed = (await client.get(f"/api/v1/funds/{fund_id}/disbursements", headers=await auth("fund"))).json()
    assert [d["amount_fen"] for d in listed["items"]][:1] == [30_000] and listed["total"] == 2
    overview = await client.get("/admin/funds?done=disbursed")
    assert "拨付已入账" in overview.text and f"/admin/public/funds/{fund_id}" in overview.text


async def test_a_statement_import_is_kept_and_listed(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    files = {"file": ("农商银行.csv", gbk_statement(clock.today()), "text/csv")}
    r = await client.post(
        "/admin/funds/statements/preview", data={"fund_id": str(fund_id)}, files=files, headers=htmx(csrf)
    )
    file_b64 = r.text.split('name="file_b64" value="')[1].split('"')[0]
    assert 'name="filename" value="农商银行.csv"' in r.text
    r = await client.post(
        "/admin/funds/statements/import",
        data={"fund_id": str(fund_id), "file_b64": file_b64, "filename": "农商银行.csv"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and "查看导入结果" in r.text
    async with db.session() as s:
        kept = await s.scalar(select(StatementImport))
        assert kept is not None and kept.created_count == 1 and kept.created_fen == 6_600
        assert kept.outcome["already_recorded"] == ["BANK-0001"] and kept.outcome["not_gifts"] == ["FEE-1"]
    page = await client.get("/admin/funds/statements")
    assert f"/admin/funds/statements/imports/{kept.id}" in page.text and "农商银行.csv" in page.text
    result = await client.get(f"/admin/funds/statements/imports/{kept.id}")
    assert "已导入 1 笔来款" in result.text and "BANK-0066" in result.text and "FEE-1" in result.text
    assert (await client.get("/admin/funds/statements/imports/999999")).status_code == 404
    disclosures = await client.get("/admin/funds/disclosures")
    assert disclosures.status_code == 200 and "信息公开日历" in disclosures.text and "登记信息公开" in disclosures.text


async def test_a_differences_correcting_entry_is_previewed_before_it_posts(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    today = clock.today()
    form = {"fund_id": str(fund_id), "source": "bank", "since": str(today), "until": str(today)}
    files = {"file": ("对账单.csv", gbk_statement(today), "text/csv")}
    r = await client.post("/admin/funds/reconciliations", data=form, files=files, headers=htmx(csrf))
    recon_id = int(r.text.split('id="recon-')[1].split('"')[0])
    # The fee and the unrecorded 66 yuan: which is which depends on the statement's order.
    run = await client.get(f"/admin/funds/reconciliations/{recon_id}")
    assert run.status_code == 200 and "FEE-1" in run.text and f'id="diff-preview-{recon_id}-' in run.text
    fee = next(
        d
        for d in (await client.get(f"/api/v1/reconciliations/{recon_id}", headers=await auth("fund"))).json()[
            "differences"
        ]
        if d["external_id"] == "FEE-1"
    )
    url = f"/admin/funds/reconciliations/{recon_id}/differences/{fee['n']}/preview"
    before = await counts(db)
    r = await client.post(url, data={"kind": "bank_fee"}, headers=htmx(csrf))
    assert r.status_code == 200 and "预览（尚未入账）" in r.text and "记手续费 10.00 元" in r.text, r.text
    assert "借 手续费" in r.text and "贷 银行存款" in r.text and "¥10.00" in r.text
    r = await client.post(url, data={"kind": "missing_gift"}, headers=htmx(csrf))
    assert r.status_code == 422 and "只有银行对账单上有、账上没有的来款" in r.text
    r = await client.post(url, data={"kind": ""}, headers=htmx(csrf))
    assert r.status_code == 200 and "预览" not in r.text
    assert await counts(db) == before
    await console_login(client, "auditor")
    assert (await client.get(f"/admin/funds/reconciliations/{recon_id}")).status_code == 200
