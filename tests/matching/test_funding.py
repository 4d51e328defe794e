"""The five-society plan's "charity resource that pays", end to end: contracts signed through procurement and
gifts recorded through the public-welfare fund decide what the match endpoint offers, and the choice travels
with the referral to the fund manager who pays against it.

Child A (福山社区, left-behind, 10) needs psychological counselling; service 0 of org 0 costs 500 yuan a case.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.errors import Conflict
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.procurement import contracts
from marketplace.procurement import service as procurement
from marketplace.procurement.schemas import (
    AwardIn,
    BidIn,
    BudgetIn,
    BudgetLineIn,
    ContractIn,
    MilestoneIn,
    ProcurementIn,
)
from marketplace.resources.models import ServiceCategory
from tests.cases.support import Cases
from tests.matching.test_api import service
from tests.support.world import World

TODAY = clock.today()
COST = 50_000  # service 0's cost per case
_budgets = itertools.count(1)


def officer(world: World) -> Principal:
    return Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")


def fund_manager(world: World) -> Principal:
    return Principal(user_id=world.users["fund"], username="fund", role="fund_manager")


async def sign_contract(
    db: Database, world: World, *, org_id: int, amount_fen: int, categories: list[str] | None = None
) -> int:
    """Budget → procurement → bid → award (past its publicity period) → contract, all through procurement."""
    who = officer(world)
    async with db.session() as s:
        budget = await procurement.create_budget(
            s,
            who,
            BudgetIn(
                name=f"未成年人保护专项{next(_budgets)}",
                fiscal_year=TODAY.year,
                total_fen=100_000_000,
                lines=[BudgetLineIn(code="purchase_services", name="购买服务", appropriation_fen=100_000_000)],
            ),
        )
        p = await procurement.create_procurement(
            s,
            who,
            ProcurementIn(
                budget_line_id=budget.lines[0].id,
                title="困境儿童心理服务项目",
                method="open_tender",
                estimated_fen=amount_fen,
                service_categories=categories or ["psych_counselling"],
            ),
        )
        await procurement.add_bid(s, who, p.id, BidIn(organization_id=org_id, price_fen=amount_fen, technical_score=90))
        # An open tender needs three bidders (政府采购法第三十六条): two more that ask more and score lower.
        for n, rival in enumerate(o for o in world.suppliers if o != org_id):
            await procurement.add_bid(
                s, who, p.id, BidIn(organization_id=rival, price_fen=amount_fen + 100_000 * (n + 1), technical_score=80)
            )
        await procurement.award(s, who, p.id, AwardIn(awarded_on=TODAY - dt.timedelta(days=40)))
        starts = TODAY - dt.timedelta(days=30)
        contract = await contracts.create_contract(
            s,
            who,
            ContractIn(
                procurement_id=p.id,
                organization_id=org_id,
                amount_fen=amount_fen,
                starts_on=starts,
                ends_on=starts + dt.timedelta(days=300),
                milestones=[
                    MilestoneIn(name="末期验收", due_on=starts + dt.timedelta(days=300), amount_fen=amount_fen)
                ],
                title="福田区困境儿童心理服务",
            ),
        )
        return contract.id


async def public_fund(db: Database) -> int:
    async with db.session() as s:
        fund = await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
        return fund.id


async def gift(
    db: Database,
    world: World,
    fund_id: int,
    amount_fen: int,
    category: str | None = None,
    child_category: str | None = None,
) -> None:
    async with db.session() as s:
        await gifts.record_offline(
            s,
            fund_manager(world),
            fund_id=fund_id,
            amount_fen=amount_fen,
            channel="cash",
            donor=gifts.DonorInput(name="爱心企业"),
            designation=gifts.Designation(category=category, child_category=child_category)
            if category or child_category
            else None,
            received_on=TODAY,
            reference=None,
        )


async def plan_funding(client: Any, auth: Any, need_id: int, service_id: int, who: str = "director") -> dict[str, Any]:
    r = await client.post(f"/api/v1/needs/{need_id}/matches", json={"limit": 20}, headers=await auth(who))
    assert r.status_code == 200, r.text
    found = {c["service_id"]: c for c in r.json()["candidates"]}
    assert service_id in found, found.keys()
    funding: dict[str, Any] = found[service_id]["plan"]["funding"]
    return funding


async def test_a_purchase_contract_for_the_category_pays(client, auth, cases: Cases, world: World, db) -> None:
    before = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert before["source"] == "unfunded" and before["covered_fen"] == 0
    # A contract with the provider for another category pays for nothing here; one for the category does.
    await sign_contract(db, world, org_id=world.orgs[0], amount_fen=3_000_000, categories=["legal_aid"])
    assert (await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"] == "unfunded"
    contract_id = await sign_contract(db, world, org_id=world.orgs[0], amount_fen=3_000_000)
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 200_000, "psych_counselling")  # a contract still comes first
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding["source"] == "contract"
    assert funding["contract_id"] == contract_id and funding["covered_fen"] == COST
    assert funding["label"] == "政府购买服务合同"


async def test_a_contract_that_cannot_pay_the_case_is_skipped(client, auth, cases: Cases, world: World, db) -> None:
    await sign_contract(db, world, org_id=world.orgs[0], amount_fen=COST - 1)
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding["source"] == "unfunded"  # 499.99 yuan left on the contract does not pay a 500 yuan case
    # With fund money, the fund pays instead of the exhausted contract.
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 80_000)
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding["source"] == "unrestricted_fund" and funding["fund_id"] == fund_id


async def test_restricted_gift_for_the_category_pays_when_no_contract(client, auth, cases: Cases, world, db) -> None:
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 300_000)  # unrestricted money too: the designated gift is spent first
    await gift(db, world, fund_id, 120_000, "psych_counselling")
    await gift(db, world, fund_id, 900_000, "legal_aid")  # designated to something else: never offered here
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding == {
        "source": "restricted_donation",
        "fund_id": fund_id,
        "purpose": "category:psych_counselling",
        "covered_fen": COST,
        "cost_fen": COST,
        "label": "定向捐赠",
        # The fund by kind and name, with what the purpose has (issue #21: the plan names its charity resource).
        "fund_kind": "public_welfare",
        "fund_kind_label": "公益基金",
        "fund_name": "福田区未成年人保护公益基金",
        "available_fen": 120_000,
        "fund_label": "福田区未成年人保护公益基金 可用 ¥1,200.00",
    }


async def test_money_for_the_childs_group_is_offered(client, auth, cases: Cases, world, db) -> None:
    # Child A is left-behind: money given for left-behind children pays A's referral; an orphans' gift does not.
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 90_000, child_category="orphan")
    assert (await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"] == "unfunded"
    await gift(db, world, fund_id, 90_000, child_category="left_behind")
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert (funding["source"], funding["purpose"], funding["covered_fen"]) == (
        "restricted_donation",
        "group:left_behind",
        COST,
    )


async def test_only_unrestricted_money_pays_from_the_general_fund(client, auth, cases: Cases, world, db) -> None:
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 70_000)
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding["source"] == "unrestricted_fund"
    assert (funding["fund_id"], funding["purpose"], funding["covered_fen"]) == (fund_id, "unrestricted", COST)


async def test_a_small_restricted_balance_never_covers_more_than_it_has(client, auth, cases: Cases, world, db) -> None:
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 20_000, "psych_counselling")
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    # Nothing covers the whole case: the designated 200 yuan is offered for what it is, not as the full 500.
    assert funding["source"] == "restricted_donation" and funding["covered_fen"] == 20_000
    assert funding["cost_fen"] == COST and "部分" in funding["label"]
    # The match score says the case is only partly paid for.
    r = await client.post(
        f"/api/v1/needs/{cases.needs['A']}/matches", json={"limit": 20}, headers=await auth("director")
    )
    cand = next(c for c in r.json()["candidates"] if c["service_id"] == world.services[0])
    assert cand["components"]["funding"] < 0.5
    # Once unrestricted money can pay it all, the whole case goes there rather than half of it to the gift.
    await gift(db, world, fund_id, 60_000)
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert (funding["source"], funding["covered_fen"]) == ("unrestricted_fund", COST)


async def test_a_free_service_needs_no_payer(client, auth, cases: Cases, world, db) -> None:
    async with db.session() as s:
        free = service(world.orgs[1], "免费心理热线", categories=[ServiceCategory(code="psych_counselling")])
        s.add(free)
        await s.flush()
        free_id = free.id
    await sign_contract(db, world, org_id=world.orgs[1], amount_fen=3_000_000)
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 100_000, "psych_counselling")
    funding = await plan_funding(client, auth, cases.needs["A"], free_id)
    assert funding == {"source": "free", "covered_fen": 0, "cost_fen": 0, "label": "免费"}


async def test_the_referral_carries_its_payer_and_the_fund_pays_against_it(
    client, auth, cases: Cases, world: World, db
) -> None:
    fund_id = await public_fund(db)
    await gift(db, world, fund_id, 120_000, "psych_counselling")
    need_b = cases.needs["B"]  # 李小红, an orphan in 岗厦社区: director2's child
    sent = await client.post(
        "/api/v1/referrals", json={"need_id": need_b, "service_id": world.services[0]}, headers=await auth("director2")
    )
    assert sent.status_code == 201, sent.text
    referral = sent.json()
    funding = referral["plan"]["funding"]
    assert funding["source"] == "restricted_donation"
    assert (funding["fund_id"], funding["purpose"], funding["covered_fen"]) == (
        fund_id,
        "category:psych_counselling",
        COST,
    )
    # The provider, accepting it, sees who pays.
    accepted = await client.post(f"/api/v1/referrals/{referral['id']}/accept", headers=await auth("org"))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["plan"]["funding"] == funding
    # The fund manager pays the case from the designated purpose, against the referral.
    async with db.session() as s:
        paid = await funds.disburse(
            s,
            fund_manager(world),
            funding["fund_id"],
            amount_fen=funding["covered_fen"],
            purpose=funding["purpose"],
            service_id=world.services[0],
            referral_id=referral["id"],
            memo=f"转介 {referral['id']} 个案服务费",
        )
        assert paid.referral_id == referral["id"]
    async with db.session(write=False) as s:
        assert await funds.purpose_available(s, fund_id, "category:psych_counselling") == 120_000 - COST
    # The designated money is spent only as given: it cannot pay the same case twice over its balance.
    async with db.session() as s:
        try:
            await funds.disburse(
                s, fund_manager(world), fund_id, amount_fen=80_000, purpose="category:psych_counselling"
            )
        except Conflict as exc:
            assert exc.extra["available_fen"] == 120_000 - COST
        else:  # pragma: no cover - the assertion above is the point
            raise AssertionError("overspent a restricted purpose")
