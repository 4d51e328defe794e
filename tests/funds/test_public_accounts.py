"""The fund's public accounts as a donor reads them (issue #14): purposes by name, every disbursement and every gift
listed (donors as they chose), and the disclosure calendar of what the Charity Law asks the fund to publish."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from marketplace import clock
from tests.admin.console import console_login
from tests.cases.support import Cases
from tests.conftest import Auth, assert_problem
from tests.support.world import World

CHINESE = re.compile(r"[\u4e00-\u9fff]")


async def gift(
    client: Any, fm: dict[str, str], fund_id: int, ref: str, fen: int, donor: dict[str, Any], **designation: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": fen,
            "channel": "bank_transfer",
            "reference": ref,
            "received_on": clock.today().isoformat(),
            "donor": donor,
            "designation": designation or None,
        },
        headers=fm,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def spend(client: Any, fm: dict[str, str], fund_id: int, fen: int, purpose: str, **target: int) -> int:
    r = await client.post(
        f"/api/v1/funds/{fund_id}/disbursements",
        json={"amount_fen": fen, "purpose": purpose, **target},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_public_accounts_name_every_purpose_and_list_every_payment(
    client: Any, auth: Auth, fund_id: int, world: World, cases: Cases
) -> None:
    fm = await auth("fund")
    s1 = world.streets[0]
    svc0, svc1 = world.services[0], world.services[1]
    await gift(
        client,
        fm,
        fund_id,
        "G-1",
        300_000,
        {"name": "深圳市某某科技有限公司", "kind": "enterprise", "anonymous": False},
    )
    await gift(client, fm, fund_id, "G-2", 100_000, {"name": "王先生"}, street_id=s1)
    await gift(client, fm, fund_id, "G-3", 100_000, {"name": "李女士", "anonymous": True}, service_id=svc0)
    await gift(client, fm, fund_id, "G-4", 100_000, {"name": "赵女士", "anonymous": False}, category="education_aid")
    await gift(client, fm, fund_id, "G-5", 50_000, {"name": "陈先生"}, child_category="economic_hardship")
    await spend(client, fm, fund_id, 40_000, f"street:{s1}", service_id=svc0)
    await spend(client, fm, fund_id, 30_000, f"service:{svc0}", service_id=svc0)
    await spend(client, fm, fund_id, 20_000, "category:education_aid", referral_id=cases.referrals["C"])
    await spend(client, fm, fund_id, 10_000, "group:economic_hardship", service_id=svc1)
    mistaken = await spend(client, fm, fund_id, 5_000, "unrestricted", service_id=svc1)
    r = await client.post(
        f"/api/v1/funds/{fund_id}/disbursements/{mistaken}/reverse", json={"reason": "重复拨付"}, headers=fm
    )
    assert r.status_code == 200, r.text

    public = (await client.get(f"/api/v1/public/funds/{fund_id}")).json()
    labels = {p["purpose"]: p["label"] for p in public["income_by_purpose"]}
    assert labels == {
        "unrestricted": "非定向",
        f"street:{s1}": "定向：福田街道",
        f"service:{svc0}": "定向：困境儿童心理疏导服务",
        "category:education_aid": "定向：助学",
        "group:economic_hardship": "定向：家庭经济困难",
    }
    assert not any("#" in p["label"] for p in public["income_by_purpose"] + public["spending_by_purpose"])
    # The fund manager's own views name them the same way.
    staff = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert {p["purpose"]: p["label"] for p in staff["purposes"]} == labels
    listed = (await client.get(f"/api/v1/funds/{fund_id}/disbursements", headers=fm)).json()["items"]
    assert {d["purpose_label"] for d in listed} >= {"定向：福田街道", "定向：困境儿童心理疏导服务"}

    # Every disbursement in force, newest first, by name; the reversed one is a correction, not spending.
    spent = (await client.get(f"/api/v1/public/funds/{fund_id}/disbursements?limit=50")).json()
    assert spent["total"] == 4 and sum(d["amount_fen"] for d in spent["items"]) == public["spent_fen"] == 100_000
    rows = {(d["service_name"], d["organization_name"], d["amount_fen"], d["purpose_label"]) for d in spent["items"]}
    assert rows == {
        ("困境儿童心理疏导服务", "深圳市福田区启航社会工作服务中心", 40_000, "定向：福田街道"),
        ("困境儿童心理疏导服务", "深圳市福田区启航社会工作服务中心", 30_000, "定向：困境儿童心理疏导服务"),
        ("困境儿童助学金计划", "深圳市福田区阳光公益服务中心", 20_000, "定向：助学"),
        ("困境儿童助学金计划", "深圳市福田区阳光公益服务中心", 10_000, "定向：家庭经济困难"),
    }
    assert [d["through_referral"] for d in spent["items"] if d["amount_fen"] == 20_000] == [True]
    assert all(d["paid_on"] == clock.today().isoformat() for d in spent["items"])
    page = (await client.get(f"/api/v1/public/funds/{fund_id}/disbursements?limit=2&offset=1")).json()
    assert page["items"] == spent["items"][1:3] and page["total"] == 4

    # Every gift; a donor is named only if they said so (anonymous: false), never otherwise.
    gifts = (await client.get(f"/api/v1/public/funds/{fund_id}/donations?limit=50")).json()
    assert gifts["total"] == 5
    shown = {g["amount_fen"]: (g["donor_name"], g["anonymous"]) for g in gifts["items"] if g["amount_fen"] != 100_000}
    assert shown == {300_000: ("深圳市某某科技有限公司", False), 50_000: ("爱心人士（匿名）", True)}
    by_purpose = {g["purpose_label"]: g["donor_name"] for g in gifts["items"] if g["amount_fen"] == 100_000}
    assert by_purpose == {
        "定向：福田街道": "爱心人士（匿名）",
        "定向：困境儿童心理疏导服务": "爱心人士（匿名）",
        "定向：助学": "赵女士",
    }
    text = str(gifts)
    assert "王先生" not in text and "李女士" not in text and "陈先生" not in text
    # The honour roll agrees on who consented.
    roll = (await client.get(f"/api/v1/public/funds/{fund_id}/donors")).json()
    assert {e["name"] for e in roll["items"]} == {"深圳市某某科技有限公司", "赵女士"}


async def test_a_private_fund_has_no_public_pages(client: Any, auth: Auth) -> None:
    fm = await auth("fund")
    r = await client.post(
        "/api/v1/funds/", json={"code": "internal_pot", "name": "内部资金", "public": False}, headers=fm
    )
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    for tail in ("", "/disbursements", "/donations", "/disclosures"):
        assert CHINESE.search(assert_problem(await client.get(f"/api/v1/public/funds/{fid}{tail}"), 404)["detail"])


async def test_the_disclosure_calendar_shows_what_is_due_published_and_overdue(
    client: Any, auth: Auth, fund_id: int, frozen_clock: Any
) -> None:
    fm = await auth("fund")
    # The fund's first gift came in November 2025; on 15 July 2026 (district time) it owes, for each quarter since,
    # its fundraising and its projects, and its 2025 annual report.
    frozen_clock(dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC))
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": 10_000,
            "channel": "bank_transfer",
            "reference": "D-1",
            "received_on": "2025-11-20",
            "donor": {"name": "x"},
        },
        headers=fm,
    )
    assert r.status_code == 201, r.text
    cal = (await client.get(f"/api/v1/public/funds/{fund_id}/disclosures")).json()
    due = {(i["kind"], i["period"]): (i["due_on"], i["status"]) for i in cal["items"]}
    assert due == {
        ("fundraising", "2025-Q4"): ("2026-01-31", "overdue"),
        ("projects", "2025-Q4"): ("2026-01-31", "overdue"),
        ("fundraising", "2026-Q1"): ("2026-04-30", "overdue"),
        ("projects", "2026-Q1"): ("2026-04-30", "overdue"),
        ("fundraising", "2026-Q2"): ("2026-07-31", "due"),
        ("projects", "2026-Q2"): ("2026-07-31", "due"),
        ("annual_report", "2025"): ("2026-05-31", "overdue"),
    }
    assert cal["overdue"] == 5 and cal["as_of"] == "2026-07-15"
    assert all(CHINESE.search(i["kind_label"]) and "慈善" in i["source"] for i in cal["items"])
    assert [i["due_on"] for i in cal["items"]] == sorted((i["due_on"] for i in cal["items"]), reverse=True)

    record = {
        "kind": "fundraising",
        "period": "2026-Q2",
        "published_on": "2026-07-10",
        "channel": "慈善中国",
        "title": "2026年第二季度募捐情况",
        "url": "https://cishan.chinanpo.gov.cn/",
    }
    r = await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=record, headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["publisher_name"] == "fund" and r.json()["period_end"] == "2026-06-30"
    late = {
        **record,
        "kind": "annual_report",
        "period": "2025",
        "published_on": "2026-06-20",
        "title": "2025年度工作报告",
    }
    assert (await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=late, headers=fm)).status_code == 201

    # Once per duty and period; after the period ended; not in the future; periods written as the duty counts them.
    assert (
        "已登记"
        in assert_problem(await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=record, headers=fm), 409)[
            "detail"
        ]
    )
    for bad, field in (
        ({**record, "period": "2026-Q3", "published_on": "2026-07-14"}, "published_on"),
        ({**record, "period": "2026-Q1", "published_on": "2026-07-16"}, "published_on"),
        ({**record, "period": "2026"}, "period"),
        ({**record, "kind": "annual_report", "period": "2026-Q1"}, "period"),
    ):
        body = assert_problem(await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=bad, headers=fm), 422)
        assert CHINESE.search(body["detail"]) and body["errors"][0]["field"] == field, body
    assert_problem(
        await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=record, headers=await auth("admin")), 403
    )

    cal = (await client.get(f"/api/v1/public/funds/{fund_id}/disclosures")).json()
    by = {(i["kind"], i["period"]): i for i in cal["items"]}
    q2 = by[("fundraising", "2026-Q2")]
    assert (q2["status"], q2["late"], q2["publication"]["channel"]) == ("published", False, "慈善中国")
    annual = by[("annual_report", "2025")]
    assert (annual["status"], annual["late"]) == ("published", True)  # after 31 May: published, but late
    assert by[("projects", "2026-Q2")]["status"] == "due" and cal["overdue"] == 4

    # A fortnight later the unpublished second quarter of projects is overdue.
    frozen_clock(dt.datetime(2026, 8, 1, 2, 0, tzinfo=dt.UTC))
    cal = (await client.get(f"/api/v1/public/funds/{fund_id}/disclosures")).json()
    assert {(i["kind"], i["period"]) for i in cal["items"] if i["status"] == "overdue"} == {
        ("fundraising", "2025-Q4"),
        ("projects", "2025-Q4"),
        ("fundraising", "2026-Q1"),
        ("projects", "2026-Q1"),
        ("projects", "2026-Q2"),
    }


@pytest.mark.parametrize("period", ["2026-Q0", "2026-Q5", "26-Q1", "1999-Q1"])
async def test_a_malformed_period_is_refused(client: Any, auth: Auth, fund_id: int, period: str) -> None:
    body = {"kind": "projects", "period": period, "published_on": "2026-01-01", "channel": "慈善中国", "title": "x"}
    r = await client.post(f"/api/v1/funds/{fund_id}/disclosures", json=body, headers=await auth("fund"))
    assert CHINESE.search(assert_problem(r, 422)["detail"])


async def test_the_fund_manager_records_a_publication_in_the_console(
    client: Any, auth: Auth, fund_id: int, frozen_clock: Any
) -> None:
    frozen_clock(dt.datetime(2026, 4, 10, 2, 0, tzinfo=dt.UTC))
    csrf = await console_login(client, "fund")
    page = (await client.get("/admin/funds/disclosures")).text
    assert "登记信息公开" in page and f'href="/admin/public/funds/{fund_id}"' in page
    form = {
        "_csrf_token": csrf,
        "fund_id": str(fund_id),
        "kind": "fundraising",
        "period": "2026-Q1",
        "published_on": "2026-04-08",
        "channel": "慈善中国",
        "title": "2026年第一季度募捐情况",
        "url": "",
    }
    r = await client.post("/admin/funds/disclosures", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/public/funds/{fund_id}#disclosures", r.text
    # The public page (no login needed) shows it in the calendar.
    client.cookies.clear()
    public = (await client.get(f"/admin/public/funds/{fund_id}")).text
    row = public[public.index('data-status="published"') :]
    assert "2026-Q1" in row[:600] and "慈善中国" in row[:600] and "2026年第一季度募捐情况" in row[:600]
    # A second record of the same period is refused, in Chinese, on the console's error page.
    csrf = await console_login(client, "fund")
    again = await client.post("/admin/funds/disclosures", data={**form, "_csrf_token": csrf})
    assert again.status_code == 409 and "已登记公开" in again.text
    # An auditor reads the fund page but gets no form.
    await console_login(client, "auditor")
    assert "登记信息公开" not in (await client.get("/admin/funds/disclosures")).text
