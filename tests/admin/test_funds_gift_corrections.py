"""The gift's page lists the reconciliation corrections that touched it; the offline gift form takes the donor's
unified social credit code, checked in place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.auth.models import User
from marketplace.funds.models import Donation, Donor
from marketplace.funds.reconciliation_models import ReconciliationCorrection
from marketplace.resources import credit_code
from tests.admin.console import console_login, htmx
from tests.admin.money import fund_with_gifts
from tests.admin.test_funds_gifts import gift_form

COMPANY = credit_code.make("9", "1", "440300", "MA5G1234")


async def _counts(db: Any) -> tuple[int, int]:
    async with db.session() as s:
        return (
            await s.scalar(select(func.count()).select_from(Donor)) or 0,
            await s.scalar(select(func.count()).select_from(Donation)) or 0,
        )


async def test_the_gift_form_takes_a_checked_credit_code(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    page = await client.get("/admin/funds/donations/new")
    assert "统一社会信用代码" in page.text and 'name="donor_credit_code"' in page.text
    before = await _counts(db)
    wrong = COMPANY[:-1] + ("0" if COMPANY[-1] != "0" else "1")
    for change, message in (
        ({"donor_credit_code": wrong}, "校验位错误"),
        ({"donor_credit_code": "12345"}, "长度应为 18 位"),
        ({"donor_credit_code": COMPANY, "donor_kind": "individual"}, "个人捐赠人无需填写"),
    ):
        r = await client.post("/admin/funds/donations/new", data=gift_form(fund_id, **change), headers=htmx(csrf))
        assert r.status_code == 422, (change, r.text[:300])
        assert message in r.text and 'id="gift-form"' in r.text
        # Drawn again with what was typed, the code's field marked.
        assert f'value="{change["donor_credit_code"]}"' in r.text
        assert 'name="donor_credit_code"' in r.text and 'aria-invalid="true"' in r.text
    assert await _counts(db) == before

    r = await client.post(
        "/admin/funds/donations/new",
        data=gift_form(fund_id, donor_credit_code=COMPANY.lower(), reference="BANK-CC1"),
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    async with db.session() as s:
        donor = await s.scalar(select(Donor).where(Donor.credit_code == COMPANY))
        assert donor is not None and donor.name == "深圳市爱心餐饮有限公司"
    # Typing the code finds the donor; the next gift under another name is theirs.
    assert COMPANY in (await client.get("/admin/funds/donors")).text
    found = await client.get("/admin/funds/donors/search", params={"q": COMPANY[-8:]})
    assert f'value="{donor.id}"' in found.text and COMPANY in found.text
    r = await client.post(
        "/admin/funds/donations/new",
        data=gift_form(fund_id, donor_name="爱心餐饮", donor_credit_code=COMPANY, reference="BANK-CC2"),
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    second = int(r.headers["hx-redirect"].split("/")[-1].split("?")[0])
    async with db.session() as s:
        gift = await s.get(Donation, second)
        assert gift is not None and gift.donor_id == donor.id


async def test_the_gift_page_lists_the_reconciliation_corrections_that_touched_it(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=2)
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": 10_000,
            "channel": "bank_transfer",
            "reference": "G-1",
            "received_on": day.isoformat(),
            "donor": {"name": "单位G-1", "kind": "enterprise"},
        },
        headers=fm,
    )
    assert r.status_code == 201, r.text
    gift_id = r.json()["id"]
    statement = f"date,amount,reference,payer\n{day},90.00,G-1,单位G-1\n{day},-30.00,R-1,单位G-1\n"
    payload = {
        "fund_id": fund_id,
        "source": "bank",
        "since": day.isoformat(),
        "until": day.isoformat(),
        "file": statement,
    }
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert r.status_code == 201, r.text
    recon = r.json()
    by_ref = {d["external_id"]: d["n"] for d in recon["differences"]}
    base = f"/api/v1/reconciliations/{recon['id']}/differences"
    for ref, body in (("G-1", {"kind": "bank_fee"}), ("R-1", {"kind": "refund", "donation_id": gift_id})):
        r = await client.post(f"{base}/{by_ref[ref]}/resolve", json=body, headers=fm)
        assert r.status_code == 200, (ref, r.text)

    await console_login(client, "fund")
    page = await client.get(f"/admin/funds/donations/{gift_id}")
    assert page.status_code == 200
    section = page.text.split('id="gift-corrections"')[1].split("</section>")[0]
    async with db.session() as s:
        rows = (
            await s.scalars(
                select(ReconciliationCorrection).where(ReconciliationCorrection.reconciliation_id == recon["id"])
            )
        ).all()
        who = await s.get(User, rows[0].created_by)
    assert len(rows) == 2 and who is not None
    assert "银行手续费" in section and "退款（补记退款）" in section
    assert "-¥10.00" in section and "-¥30.00" in section
    assert who.display_name in section
    for c in rows:
        assert f'href="/admin/funds/reconciliations/{recon["id"]}#diff-{recon["id"]}-{c.n}"' in section
    # Another gift, untouched by the reconciliation, says so; an auditor reads the same list.
    other = (await client.get("/api/v1/donations", headers=fm)).json()["items"]
    untouched = next(g for g in other if g["id"] != gift_id)
    page = await client.get(f"/admin/funds/donations/{untouched['id']}")
    assert "没有涉及本笔捐赠的对账更正" in page.text
    await console_login(client, "auditor")
    page = await client.get(f"/admin/funds/donations/{gift_id}")
    assert page.status_code == 200 and "银行手续费" in page.text
