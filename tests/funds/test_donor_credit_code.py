"""A donor's unified social credit code (统一社会信用代码) through the API: checked, stored, and the donor found by it."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace import clock
from marketplace.funds.models import Donation, Donor
from marketplace.resources import credit_code
from tests.conftest import Auth, assert_problem

COMPANY = credit_code.make("9", "1", "440300", "MA5G1234")
SOCIETY = credit_code.make("5", "2", "440304", "MJ000012")


def gift(fund_id: int, ref: str | None, donor: dict, fen: int = 50_000) -> dict:
    body = {
        "fund_id": fund_id,
        "amount_fen": fen,
        "channel": "bank_transfer" if ref else "cash",
        "received_on": clock.today().isoformat(),
        "donor": donor,
    }
    if ref:
        body["reference"] = ref
    return body


async def _counts(db) -> tuple[int, int]:
    async with db.session() as s:
        return (
            await s.scalar(select(func.count()).select_from(Donor)) or 0,
            await s.scalar(select(func.count()).select_from(Donation)) or 0,
        )


async def test_credit_code_is_checked_stored_upper_case_and_finds_the_donor(
    client, auth: Auth, fund_id: int, db
) -> None:
    fm = await auth("fund")
    donor = {"name": "深圳市爱心科技有限公司", "kind": "enterprise", "credit_code": f" {COMPANY.lower()} "}
    r = await client.post("/api/v1/donations/offline", json=gift(fund_id, "CC-1", donor), headers=fm)
    assert r.status_code == 201, r.text
    donor_id = r.json()["donor_id"]
    listed = (await client.get("/api/v1/donors", params={"q": COMPANY[-6:]}, headers=fm)).json()["items"]
    assert [(d["id"], d["credit_code"]) for d in listed] == [(donor_id, COMPANY)]
    # The same code under another name (and no e-mail) is the same donor: no second row.
    before = await _counts(db)
    again = {"name": "爱心科技", "kind": "enterprise", "credit_code": COMPANY}
    r = await client.post("/api/v1/donations/offline", json=gift(fund_id, "CC-2", again), headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["donor_id"] == donor_id
    assert await _counts(db) == (before[0], before[1] + 1)
    # A social organization donor gets its own.
    society = {"name": "福田区某某社会工作服务中心", "kind": "organization", "credit_code": SOCIETY}
    r = await client.post("/api/v1/donations/offline", json=gift(fund_id, "CC-3", society), headers=fm)
    assert r.status_code == 201 and r.json()["donor_id"] != donor_id


async def test_a_wrong_credit_code_is_refused_and_changes_nothing(client, auth: Auth, fund_id: int, db) -> None:
    fm = await auth("fund")
    r = await client.post(
        "/api/v1/donations/offline",
        json=gift(
            fund_id, None, {"name": "某公司", "kind": "enterprise", "email": "a@example.org", "credit_code": COMPANY}
        ),
        headers=fm,
    )
    assert r.status_code == 201, r.text
    before = await _counts(db)
    wrong_check = COMPANY[:-1] + ("0" if COMPANY[-1] != "0" else "1")
    bad = [
        ({"name": "甲", "kind": "enterprise", "credit_code": wrong_check}, 422, "校验位错误"),
        ({"name": "甲", "kind": "enterprise", "credit_code": "91440300MA5G1234"}, 422, "长度应为 18 位"),
        ({"name": "甲", "kind": "organization", "credit_code": "91440300MA5G1234OE"}, 422, "非法字符"),
        ({"name": "张三", "kind": "individual", "credit_code": COMPANY}, 422, "个人捐赠人无需填写"),
        ({"name": "甲", "kind": "enterprise", "credit_code": "x" * 41}, 400, ""),
        # The e-mail names a donor whose code on file differs.
        ({"name": "某公司", "kind": "enterprise", "email": "a@example.org", "credit_code": SOCIETY}, 422, "不一致"),
    ]
    for n, (donor, status, message) in enumerate(bad):
        body = assert_problem(
            await client.post("/api/v1/donations/offline", json=gift(fund_id, f"BAD-{n}", donor), headers=fm), status
        )
        assert message in body["detail"], (donor, body)
        if status == 422:
            assert body["errors"][0]["field"] == "donor.credit_code"
    assert await _counts(db) == before
