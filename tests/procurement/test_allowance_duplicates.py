"""The duplicate-aid check (marketplace.reports.duplicate_aid): the living allowance and the fund's living aid to
the same child in the same month, and two allowance grants of one kind from two sources, are flagged."""

from __future__ import annotations

import datetime as dt

from marketplace.cases.models import Child, Need
from marketplace.funds.models import Disbursement, Fund
from marketplace.referrals.models import Referral
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, add_children, grant
from tests.procurement.helpers import make_budget


async def _fund_aid(db, world, child_id: int, *, purpose: str, paid_on: dt.date, amount_fen: int = 80_000) -> int:
    async with db.session() as session:
        fund = await session.get(Fund, 1)
        if fund is None:
            fund = Fund(code="gongyi", name="未成年人保护公益基金")
            session.add(fund)
            await session.flush()
        child = await session.get(Child, child_id)
        assert child is not None
        need = Need(
            child_id=child_id,
            street_id=child.street_id,
            community_id=child.community_id,
            category="psych_counselling",
            urgency=2,
        )
        session.add(need)
        await session.flush()
        referral = Referral(
            need_id=need.id,
            child_id=child_id,
            service_id=world.services[0],
            organization_id=world.orgs[0],
            street_id=child.street_id,
            community_id=child.community_id,
        )
        session.add(referral)
        await session.flush()
        d = Disbursement(
            fund_id=fund.id, amount_fen=amount_fen, purpose=purpose, referral_id=referral.id, paid_on=paid_on
        )
        session.add(d)
        await session.flush()
        return d.id


async def test_allowance_and_fund_living_aid_in_one_month_are_flagged(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    ids = await add_children(
        db,
        world,
        [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID), ("丙", ["orphan"], "active", KID)],
    )
    await grant(db, settings, ids)
    r = await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)
    assert r.status_code == 201, r.text
    same = await _fund_aid(db, world, ids[0], purpose="category:material_aid", paid_on=dt.date(YEAR, 3, 18))
    await _fund_aid(db, world, ids[1], purpose="category:education_aid", paid_on=dt.date(YEAR, 3, 18))  # another kind
    await _fund_aid(db, world, ids[2], purpose="category:material_aid", paid_on=dt.date(YEAR, 4, 2))  # another month
    # Another source's grant of the same allowance for 乙 from April.
    await grant(db, settings, [ids[1]], source="city_civil_affairs", month=f"{YEAR}-04", payee=False)

    march = (await client.get(f"/api/v1/reports/duplicate-aid?month={YEAR}-03", headers=await auth("admin"))).json()
    assert march["count"] == 1
    (flag,) = march["flags"]
    assert (flag["kind"], flag["child_id"], flag["child_name"]) == ("allowance_and_fund", ids[0], "甲")
    assert (flag["allowance_fen"], flag["fund_fen"], flag["disbursement_ids"]) == (245_400, 80_000, [same])
    assert flag["label"] == "生活补贴与公益基金生活救助同月重复"
    # The fund's and procurement's staff read no child's file: the flag without the name (masking policy).
    for role in ("fund", "procurement"):
        seen = (await client.get(f"/api/v1/reports/duplicate-aid?month={YEAR}-03", headers=await auth(role))).json()
        assert [(f["child_id"], f["child_name"]) for f in seen["flags"]] == [(ids[0], "")]
    april = (await client.get(f"/api/v1/reports/duplicate-aid?month={YEAR}-04", headers=await auth("auditor"))).json()
    assert [(f["kind"], f["child_id"], f["sources"]) for f in april["flags"]] == [
        ("two_allowance_sources", ids[1], ["city_civil_affairs", "district_budget"])
    ]
    assert_problem(
        await client.get(f"/api/v1/reports/duplicate-aid?month={YEAR}-04", headers=await auth("director")), 403
    )
    assert_problem(await client.get(f"/api/v1/reports/duplicate-aid?month={YEAR}-13", headers=await auth("admin")), 400)
