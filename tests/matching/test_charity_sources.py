"""The plan's charity resource drawn from the street's own money (issue #21): for a child of street X the match
offers the public-welfare fund plus street X's foundation and X's micro-projects buying the need's category, never
another street's money and never more than a fund has; the choice prefers a covering purchase contract, then the
street's micro-project, then the street's foundation, then the public-welfare fund.

Child A (福山社区, 福田街道 = world street 0) needs psychological counselling; service 0 costs 500 yuan a case.
"""

from __future__ import annotations

from typing import Any

from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds import sources
from tests.cases.support import Cases
from tests.matching.test_funding import COST, TODAY, fund_manager, gift, plan_funding, public_fund, sign_contract
from tests.support import figures
from tests.support.world import World

SUITE = "Charity sources (matching)"


def admin(world: World) -> Principal:
    return Principal(user_id=world.users["admin"], username="admin", role="district_admin")


async def foundation(db: Database, world: World, street: int, amount_fen: int, name: str) -> int:
    async with db.session() as s:
        fund = await sources.create_source(
            s,
            admin(world),
            code=f"foundation_{street}",
            name=name,
            kind="street_foundation",
            street_id=world.streets[street],
            year=None,
        )
        if amount_fen:
            await gifts.record_offline(
                s,
                fund_manager(world),
                fund_id=fund.id,
                amount_fen=amount_fen,
                channel="bank_transfer",
                donor=gifts.DonorInput(name="街道爱心企业", kind="enterprise"),
                designation=None,
                received_on=TODAY,
                reference=f"FD-{street}-{amount_fen}",
            )
        return fund.id


async def micro_project(
    db: Database, world: World, street: int, allocated_fen: int, approved_fen: int, category: str = "psych_counselling"
) -> tuple[int, int]:
    """A street's micro-project fund with an allocation and one approved project buying ``category``."""
    async with db.session() as s:
        fund = await sources.create_source(
            s,
            admin(world),
            code=f"micro_{street}_{category}",
            name=f"{'福田' if street == 0 else '园岭'}街道民生微实事2026",
            kind="micro_project",
            street_id=world.streets[street],
            year=2026 if category == "psych_counselling" else 2027,
        )
        await sources.allocate(s, admin(world), fund.id, amount_fen=allocated_fen, key=f"alloc-{street}-{category}")
        project = await sources.create_project(
            s, admin(world), fund.id, title="儿童心理关爱微项目", category=category, requested_fen=approved_fen
        )
        await sources.approve_project(s, admin(world), project.id)
        return fund.id, project.id


async def test_only_the_childs_street_money_is_offered(client, auth, cases: Cases, world: World, db) -> None:
    ours = await foundation(db, world, 0, 1_230_000, "福田街道慈善基金会")
    theirs = await foundation(db, world, 1, 9_000_000, "园岭街道慈善基金会")
    await micro_project(db, world, 1, 20_000_000, 5_000_000)  # 园岭's project for the same category
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert (funding["source"], funding["fund_id"], funding["covered_fen"]) == ("street_foundation", ours, COST)
    assert funding["fund_name"] == "福田街道慈善基金会" and funding["fund_kind_label"] == "街道基金会"
    assert funding["fund_label"] == "福田街道慈善基金会 可用 ¥12,300.00"
    # What the port offers for a child of 福田街道, and for one of 园岭街道: never the other street's money.
    async with db.session() as s:
        here = await funds.funding_available(
            s, category="psych_counselling", street_id=world.streets[0], service_id=None
        )
        there = await funds.funding_available(
            s, category="psych_counselling", street_id=world.streets[1], service_id=None
        )
        nowhere = await funds.funding_available(s, category="psych_counselling", street_id=None, service_id=None)
    assert {o.fund_id for o in here} == {ours}
    assert theirs in {o.fund_id for o in there} and ours not in {o.fund_id for o in there}
    assert {o.fund_kind for o in there} == {"street_foundation", "micro_project"}
    assert nowhere == []
    crossed = sum(1 for o in here if o.street_id not in (None, world.streets[0])) + sum(
        1 for o in there if o.street_id not in (None, world.streets[1])
    )
    figures.record(SUITE, "offers read", len(here) + len(there))
    figures.record(SUITE, "offers of another street's money", crossed)
    assert crossed == 0


async def test_the_preference_order(client, auth, cases: Cases, world: World, db) -> None:
    public = await public_fund(db)
    await gift(db, world, public, 900_000)
    seen = [(await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"]]
    fd = await foundation(db, world, 0, 800_000, "福田街道慈善基金会")
    seen.append((await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"])
    fund_id, project_id = await micro_project(db, world, 0, 20_000_000, 300_000)
    chosen = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    seen.append(chosen["source"])
    assert (chosen["fund_id"], chosen["purpose"], chosen["covered_fen"]) == (fund_id, f"project:{project_id}", COST)
    assert chosen["label"] == "民生微实事项目“儿童心理关爱微项目”"
    assert chosen["fund_label"] == "福田街道民生微实事2026 可用 ¥3,000.00"
    await sign_contract(db, world, org_id=world.orgs[0], amount_fen=3_000_000)
    seen.append((await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"])
    assert seen == ["unrestricted_fund", "street_foundation", "micro_project", "contract"]
    assert fd != fund_id


async def test_a_project_of_another_category_or_paid_is_not_offered(
    client, auth, cases: Cases, world: World, db
) -> None:
    public = await public_fund(db)
    await gift(db, world, public, 900_000)
    await micro_project(db, world, 0, 20_000_000, 5_000_000, category="legal_aid")
    assert (await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"] == "unrestricted_fund"
    _, project_id = await micro_project(db, world, 0, 20_000_000, 400_000)
    assert (await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"] == "micro_project"
    async with db.session() as s:
        await sources.complete_project(s, admin(world), project_id)
    # Paid on acceptance: nothing held any more, so nothing offered from it.
    assert (await plan_funding(client, auth, cases.needs["A"], world.services[0]))["source"] == "unrestricted_fund"


async def test_never_more_than_a_fund_has(client, auth, cases: Cases, world: World, db) -> None:
    # Only 200 yuan held by the street's project, 120 yuan in its foundation: nothing covers the 500 yuan case.
    await micro_project(db, world, 0, 20_000_000, 20_000)
    await foundation(db, world, 0, 12_000, "福田街道慈善基金会")
    funding: dict[str, Any] = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert funding["source"] == "micro_project" and funding["covered_fen"] == 20_000
    assert funding["available_fen"] == 20_000 and "部分" in funding["label"]
    # A public-welfare fund that pays it all wins over the part-payers (a part-paid case still needs a payer).
    public = await public_fund(db)
    await gift(db, world, public, COST)
    funding = await plan_funding(client, auth, cases.needs["A"], world.services[0])
    assert (funding["source"], funding["covered_fen"]) == ("unrestricted_fund", COST)
    figures.record(SUITE, "offers above the available balance", int(funding["covered_fen"] > funding["available_fen"]))
