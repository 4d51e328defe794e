"""A donor reads the fund's public accounts without logging in, on a desktop and on a phone: purposes by name,
every disbursement with its date, project, amount and purpose, gifts shown as their donors chose, and the disclosure
calendar with the quarter the fund manager published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marketplace import clock
from marketplace.funds import service as funds
from tests.browser.test_accounts import PHONE, fits_the_screen
from tests.cases.support import (
    Cases,
    cases,  # noqa: F401 - the referral the fund pays
)

pytestmark = pytest.mark.browser


@pytest.fixture
async def accounts(client: Any, auth: Any, db: Any, world: Any, cases: Cases) -> dict[str, Any]:  # noqa: F811
    async with db.session() as s:
        fund_id = (await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")).id
    fm = await auth("fund")
    s1 = world.streets[0]
    today = clock.today()
    for ref, fen, donor, designation in (
        ("B-1", 200_000, {"name": "深圳市某某科技有限公司", "kind": "enterprise", "anonymous": False}, None),
        ("B-2", 100_000, {"name": "王先生"}, {"street_id": s1}),
        ("B-3", 80_000, {"name": "赵女士", "anonymous": False}, {"category": "education_aid"}),
    ):
        r = await client.post(
            "/api/v1/donations/offline",
            json={
                "fund_id": fund_id,
                "amount_fen": fen,
                "channel": "bank_transfer",
                "reference": ref,
                "received_on": today.isoformat(),
                "donor": donor,
                "designation": designation,
            },
            headers=fm,
        )
        assert r.status_code == 201, r.text
    for body in (
        {"amount_fen": 40_000, "purpose": f"street:{s1}", "service_id": world.services[0]},
        {"amount_fen": 25_000, "purpose": "category:education_aid", "referral_id": cases.referrals["C"]},
    ):
        r = await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=body, headers=fm)
        assert r.status_code == 201, r.text
    # The last ended quarter's fundraising, published today on 慈善中国.
    quarter = (today.month - 1) // 3
    period = f"{today.year}-Q{quarter}" if quarter else f"{today.year - 1}-Q4"
    r = await client.post(
        f"/api/v1/funds/{fund_id}/disclosures",
        json={
            "kind": "fundraising",
            "period": period,
            "published_on": today.isoformat(),
            "channel": "慈善中国",
            "title": "季度募捐情况",
        },
        headers=fm,
    )
    assert r.status_code == 201, r.text
    # What the API says the donor should see.
    public = (await client.get(f"/api/v1/public/funds/{fund_id}")).json()
    return {"fund_id": fund_id, "period": period, "spent_fen": public["spent_fen"], "today": today.isoformat()}


def _read(page: Any, accounts: dict[str, Any]) -> None:
    spending = page.locator("#disbursements")
    rows = spending.locator("tbody tr")
    assert rows.count() == 2
    texts = [rows.nth(i).inner_text() for i in range(2)]
    street = next(t for t in texts if "¥400.00" in t)
    assert "困境儿童心理疏导服务" in street and "定向：福田街道" in street and accounts["today"] in street
    assert "深圳市福田区启航社会工作服务中心" in street
    aid = next(t for t in texts if "¥250.00" in t)
    assert "困境儿童助学金计划" in aid and "定向：助学" in aid and "个案转介" in aid
    assert page.locator("[data-spent]").inner_text().startswith("¥650.00") and accounts["spent_fen"] == 65_000
    purposes = page.locator("#purposes").inner_text()
    assert "定向：福田街道" in purposes and "定向：助学" in purposes and "非定向" in purposes and "#" not in purposes
    gifts = page.locator("#donations").inner_text()
    assert "深圳市某某科技有限公司" in gifts and "赵女士" in gifts and "爱心人士（匿名）" in gifts
    assert "王先生" not in page.content()
    calendar = page.locator("#disclosures")
    published = calendar.locator("tr[data-status=published]")
    assert published.count() == 1
    assert accounts["period"] in published.inner_text() and "慈善中国" in published.inner_text()
    assert "已公开" in published.inner_text()


def test_a_donor_reads_the_public_accounts(
    live_server: str, accounts: dict[str, Any], shots: Path, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/admin/public/funds/{accounts['fund_id']}")
    assert "/admin/login" not in page.url
    page.locator("h1", has_text="公开账目").wait_for()
    _read(page, accounts)
    page.screenshot(path=str(shots / "public-accounts-desktop.png"), full_page=True)
    assert not errors, errors
    context.close()


def test_a_donor_reads_the_public_accounts_on_a_phone(
    live_server: str, accounts: dict[str, Any], shots: Path, browser: Any
) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/admin/public/funds/{accounts['fund_id']}")
    page.locator("h1", has_text="公开账目").wait_for()
    _read(page, accounts)
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "public-accounts-phone.png"), full_page=True)
    assert not errors, errors
    context.close()
