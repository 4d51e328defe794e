"""Charity resources beyond the public-welfare fund (issue #21): street foundations (街道基金会) and micro-project funds
(民生微实事) as funds of their street, the district's allocation as idempotent income, micro-projects 申报 → 立项 →
实施 → 验收 with their amount held on the fund (never more than it has, even two approvals at once), and the public
list of every fund with its kind and street (totals only)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.errors import Conflict
from marketplace.funds import ledger, sources
from marketplace.funds.models import Fund
from tests.conftest import Auth, assert_problem
from tests.support import figures
from tests.support.world import World

SUITE = "Charity sources (funds)"


async def make_fund(client: Any, auth: Auth, who: str = "admin", **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/funds", json=body, headers=await auth(who))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def micro_fund(client: Any, auth: Auth, world: World, street: int = 0, year: int = 2026) -> dict[str, Any]:
    return await make_fund(
        client,
        auth,
        code=f"micro_{street}_{year}",
        name=f"街道{street}民生微实事{year}",
        kind="micro_project",
        street_id=world.streets[street],
        year=year,
    )


async def allocate(client: Any, auth: Auth, fund_id: int, amount: int, key: str) -> Any:
    return await client.post(
        f"/api/v1/funds/{fund_id}/allocations",
        json={"amount_fen": amount, "key": key, "memo": "儿童类项目"},
        headers=await auth("fund"),
    )


async def declare(client: Any, auth: Auth, fund_id: int, amount: int, **extra: Any) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/funds/{fund_id}/projects",
        json={"title": "四点半课堂", "category": "education_aid", "requested_fen": amount, **extra},
        headers=await auth("fund"),
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_kinds_and_streets(client, auth: Auth, world: World) -> None:
    foundation = await make_fund(
        client,
        auth,
        code="futian_foundation",
        name="福田街道慈善基金会",
        kind="street_foundation",
        street_id=world.streets[0],
    )
    assert (foundation["kind"], foundation["kind_label"], foundation["street_name"]) == (
        "street_foundation",
        "街道基金会",
        "福田街道",
    )
    micro = await micro_fund(client, auth, world)
    other = await micro_fund(client, auth, world, street=1)
    assert (micro["kind_label"], micro["year"], micro["street_id"]) == ("民生微实事", 2026, world.streets[0])
    tried = 0
    # A street kind needs its street, a micro-project fund its year; a district-wide fund has neither.
    for body, field in [
        ({"code": "m1", "name": "x", "kind": "micro_project", "year": 2026}, "street_id"),
        ({"code": "m2", "name": "x", "kind": "micro_project", "street_id": world.streets[1]}, "year"),
        ({"code": "m3", "name": "x", "kind": "public_welfare", "street_id": world.streets[1]}, "street_id"),
        ({"code": "m4", "name": "x", "kind": "street_foundation", "street_id": world.streets[0], "year": 2026}, "year"),
        ({"code": "m5", "name": "x", "kind": "street_foundation", "street_id": 999_999}, "street_id"),
    ]:
        tried += 1
        problem = assert_problem(await client.post("/api/v1/funds", json=body, headers=await auth("admin")), 422)
        assert problem["errors"][0]["field"] == field, problem
    # One micro-project fund per street and year.
    r = await client.post(
        "/api/v1/funds",
        json={"code": "dup", "name": "重复", "kind": "micro_project", "street_id": world.streets[0], "year": 2026},
        headers=await auth("fund"),
    )
    assert_problem(r, 409)
    # Only the fund manager and the district set funds up.
    for who in ("director", "supervisor", "auditor", "org"):
        tried += 1
        r = await client.post(
            "/api/v1/funds",
            json={"code": f"x_{who}", "name": "x", "kind": "street_foundation", "street_id": world.streets[0]},
            headers=await auth(who),
        )
        assert_problem(r, 403)
    figures.record(SUITE, "refused fund set-ups", tried)

    def ids(r: Any) -> set[int]:
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["items"]}

    fm = await auth("fund")
    assert ids(await client.get("/api/v1/funds?kind=micro_project", headers=fm)) == {micro["id"], other["id"]}
    assert ids(await client.get(f"/api/v1/funds?street={world.streets[0]}", headers=fm)) == {
        micro["id"],
        foundation["id"],
    }
    assert_problem(await client.get("/api/v1/funds?kind=lottery", headers=fm), 422)
    # A supervisor reads the own street's funds' balances, never another street's.
    sup = await auth("supervisor")
    assert ids(await client.get("/api/v1/funds", headers=sup)) == {micro["id"], foundation["id"]}
    assert ids(await client.get(f"/api/v1/funds?street={world.streets[1]}", headers=sup)) == set()
    assert (await client.get(f"/api/v1/funds/{micro['id']}", headers=sup)).status_code == 200
    assert_problem(await client.get(f"/api/v1/funds/{other['id']}", headers=sup), 404)
    assert ids(await client.get("/api/v1/funds", headers=await auth("supervisor2"))) == {other["id"]}
    assert_problem(await client.get("/api/v1/funds", headers=await auth("director")), 403)


async def test_allocation_is_income_once_per_key_and_balances(client, auth: Auth, world: World, db: Database) -> None:
    micro = await micro_fund(client, auth, world)
    first = await allocate(client, auth, micro["id"], 30_000_000, "福民〔2026〕12号")
    assert first.status_code == 201, first.text
    again = await allocate(client, auth, micro["id"], 30_000_000, "福民〔2026〕12号")
    assert again.status_code == 201 and again.json()["entry_id"] == first.json()["entry_id"]
    # The same document for another amount is not the same allocation.
    assert_problem(await allocate(client, auth, micro["id"], 31_000_000, "福民〔2026〕12号"), 409)
    second = await allocate(client, auth, micro["id"], 5_000_000, "福民〔2026〕30号")
    assert second.status_code == 201
    fm = await auth("fund")
    listed = (await client.get(f"/api/v1/funds/{micro['id']}/allocations", headers=fm)).json()
    assert listed["total"] == 2 and listed["allocated_fen"] == 35_000_000
    fund = (await client.get(f"/api/v1/funds/{micro['id']}", headers=fm)).json()
    assert (fund["cash_fen"], fund["unrestricted_balance_fen"], fund["held_fen"]) == (35_000_000, 35_000_000, 0)
    async with db.session() as s:
        assert await ledger.trial_balance(s) == 0
    # Only a micro-project fund takes allocations; bad amounts and roles are refused.
    foundation = await make_fund(
        client, auth, code="fd", name="福田街道慈善基金会", kind="street_foundation", street_id=world.streets[0]
    )
    assert_problem(await allocate(client, auth, foundation["id"], 100, "k"), 422)
    assert_problem(await allocate(client, auth, micro["id"], 0, "k"), 400)
    r = await client.post(
        f"/api/v1/funds/{micro['id']}/allocations",
        json={"amount_fen": 100, "key": "k"},
        headers=await auth("supervisor"),
    )
    assert_problem(r, 403)
    figures.record(SUITE, "allocations repeated", 1)
    figures.record(SUITE, "allocations counted twice", int(listed["allocated_fen"] != 35_000_000))


async def test_a_project_holds_then_pays_and_returns_what_it_did_not_spend(client, auth: Auth, world: World) -> None:
    micro = await micro_fund(client, auth, world)
    await allocate(client, auth, micro["id"], 1_000_000, "alloc-1")
    fm = await auth("fund")
    # A community of another street cannot declare on this street's fund.
    r = await client.post(
        f"/api/v1/funds/{micro['id']}/projects",
        json={"title": "x", "category": "education_aid", "requested_fen": 100, "community_id": world.communities[2]},
        headers=fm,
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "community_id"
    r = await client.post(
        f"/api/v1/funds/{micro['id']}/projects",
        json={"title": "x", "category": "astrology", "requested_fen": 100},
        headers=fm,
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "category"
    p = await declare(client, auth, micro["id"], 600_000, community_id=world.communities[0])
    assert (p["status"], p["status_label"], p["held_fen"]) == ("declared", "申报", 0)
    # Acceptance before approval is not a step of the project.
    assert_problem(await client.post(f"/api/v1/funds/projects/{p['id']}/complete", json={}, headers=fm), 409)
    r = await client.post(f"/api/v1/funds/projects/{p['id']}/approve", json={"approved_fen": 700_000}, headers=fm)
    assert_problem(r, 422)  # more than declared
    r = await client.post(f"/api/v1/funds/projects/{p['id']}/approve", json={"approved_fen": 500_000}, headers=fm)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["approved_fen"], r.json()["held_fen"]) == ("approved", 500_000, 500_000)
    fund = (await client.get(f"/api/v1/funds/{micro['id']}", headers=fm)).json()
    assert (fund["cash_fen"], fund["unrestricted_balance_fen"], fund["held_fen"]) == (1_000_000, 500_000, 500_000)
    # The street's supervisor is told (the other street's is not).
    for who, expected in (("supervisor", 1), ("supervisor2", 0)):
        r = await client.get("/api/v1/notifications", headers=await auth(who))
        told = [n for n in r.json()["items"] if n["kind"] == "funds_project_approved"]
        assert len(told) == expected, r.text
        if told:
            assert "四点半课堂" in told[0]["title"] and "5,000.00 元" in told[0]["body"]
    # A second project asking more than is left is refused, nothing held.
    big = await declare(client, auth, micro["id"], 600_000)
    refused = assert_problem(await client.post(f"/api/v1/funds/projects/{big['id']}/approve", json={}, headers=fm), 409)
    assert "可用余额" in refused["detail"]
    assert (await client.get(f"/api/v1/funds/projects/{big['id']}", headers=fm)).json()["status"] == "declared"
    # The held money is not spendable by an ordinary disbursement.
    r = await client.post(
        f"/api/v1/funds/{micro['id']}/disbursements",
        json={"amount_fen": 100, "purpose": f"project:{p['id']}", "service_id": world.services[0]},
        headers=fm,
    )
    assert_problem(r, 422)
    r = await client.post(f"/api/v1/funds/projects/{p['id']}/start", json={}, headers=fm)
    assert r.json()["status_label"] == "实施"
    r = await client.post(f"/api/v1/funds/projects/{p['id']}/complete", json={"paid_fen": 480_000}, headers=fm)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["paid_fen"], done["held_fen"]) == ("accepted", 480_000, 0)
    fund = (await client.get(f"/api/v1/funds/{micro['id']}", headers=fm)).json()
    # 4,800 yuan paid; the 200 yuan not spent is back in the fund's available money.
    assert (fund["cash_fen"], fund["unrestricted_balance_fen"], fund["held_fen"]) == (520_000, 520_000, 0)
    paid = (await client.get(f"/api/v1/funds/{micro['id']}/disbursements", headers=fm)).json()["items"]
    assert [(d["id"], d["amount_fen"], d["purpose_label"]) for d in paid] == [
        (done["disbursement_id"], 480_000, "项目：四点半课堂")
    ]
    listed = (await client.get(f"/api/v1/funds/{micro['id']}/projects?status=declared", headers=fm)).json()
    assert [x["id"] for x in listed["items"]] == [big["id"]]
    # The auditor reads, never writes.
    au = await auth("auditor")
    assert (await client.get(f"/api/v1/funds/{micro['id']}/projects", headers=au)).json()["total"] == 2
    assert_problem(await client.post(f"/api/v1/funds/projects/{big['id']}/reject", headers=au), 403)
    r = await client.post(f"/api/v1/funds/projects/{big['id']}/reject", headers=fm)
    assert r.json()["status_label"] == "不予立项"


async def test_two_approvals_at_once_on_the_last_money(client, auth: Auth, world: World, db: Database) -> None:
    """Two sessions approve two projects together on a fund that can hold only one: the fund's row lock (on
    PostgreSQL; SQLite serialises writers) lets one pass and refuses the other, and the holds never exceed the
    money."""
    micro = await micro_fund(client, auth, world)
    await allocate(client, auth, micro["id"], 800_000, "alloc-race")
    a = await declare(client, auth, micro["id"], 500_000)
    b = await declare(client, auth, micro["id"], 500_000)
    manager = Principal(user_id=world.users["fund"], username="fund", role="fund_manager")
    start = asyncio.Event()

    async def approve(project_id: int) -> str:
        try:
            async with db.session() as s:
                # Both read the fund's row first, so both reach the balance check before either commits.
                await s.scalar(select(Fund.id).where(Fund.id == micro["id"]))
                await start.wait()
                await sources.approve_project(s, manager, project_id)
            return "ok"
        except Conflict:
            return "refused"

    tasks = [asyncio.create_task(approve(a["id"])), asyncio.create_task(approve(b["id"]))]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    assert outcomes == ["ok", "refused"]
    fund = (await client.get(f"/api/v1/funds/{micro['id']}", headers=await auth("fund"))).json()
    assert (fund["held_fen"], fund["unrestricted_balance_fen"]) == (500_000, 300_000)
    figures.record(SUITE, "simultaneous approvals", 2)
    figures.record(SUITE, "holds above the balance", int(fund["unrestricted_balance_fen"] < 0))


async def test_a_foundation_takes_gifts_and_the_public_sees_every_fund(client, auth: Auth, world: World) -> None:
    foundation = await make_fund(
        client, auth, code="fd", name="福田街道慈善基金会", kind="street_foundation", street_id=world.streets[0]
    )
    micro = await micro_fund(client, auth, world)
    await allocate(client, auth, micro["id"], 20_000_000, "alloc-p")
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": foundation["id"],
            "amount_fen": 1_230_000,
            "channel": "bank_transfer",
            "donor": {"name": "福田爱心企业", "kind": "enterprise"},
            "received_on": "2026-11-20",
            "reference": "BANK-FD-1",
        },
        headers=await auth("fund"),
    )
    assert r.status_code == 201, r.text
    public = await client.get("/api/v1/public/funds")
    assert public.status_code == 200, public.text
    by_id = {f["id"]: f for f in public.json()["items"]}
    assert by_id[foundation["id"]]["kind_label"] == "街道基金会"
    assert by_id[foundation["id"]]["street_name"] == "福田街道"
    assert by_id[foundation["id"]]["balance_fen"] == 1_230_000
    assert by_id[micro["id"]]["income_fen"] == 20_000_000 and by_id[micro["id"]]["year"] == 2026
    # Totals only: no donor, no gift in the list.
    assert "福田爱心企业" not in public.text
    accounts = (await client.get(f"/api/v1/public/funds/{foundation['id']}")).json()
    assert (accounts["kind"], accounts["street_name"], accounts["income_fen"]) == (
        "street_foundation",
        "福田街道",
        1_230_000,
    )


async def test_the_demo_streets_charity_resources(db: Database) -> None:
    from marketplace.demo import futian_data, loader
    from marketplace.funds import demo as fund_demo
    from marketplace.funds import service as funds
    from marketplace.funds.models import FundProject
    from marketplace.matching import demo as sources_demo

    async with db.session() as s:
        ctx = await loader.load_pool(s)
        await fund_demo.load(s, ctx)
        await sources_demo.load(s, ctx)
        await sources_demo.load(s, ctx)  # loading twice adds nothing
    fund_man = Principal(user_id=1, username="fund", role="fund_manager")
    async with db.session(write=False) as s:
        micro = await sources.list_sources(s, fund_man, kind="micro_project")
        assert len(micro) == len(futian_data.STREETS) == 10
        assert {f.street_id for f in micro} == set(ctx["streets"].values())
        for b in await funds.funds_balances(s, micro):
            allocated = await sources.allocated_total(s, b.fund.id)
            assert 20_000_000 <= allocated <= 80_000_000  # a few hundred thousand yuan per street
            assert b.unrestricted_fen >= 0 and b.cash_fen <= allocated
        states = set((await s.scalars(select(FundProject.status))).all())
        assert states == {"declared", "approved", "in_progress", "accepted"}
        foundations = await sources.list_sources(s, fund_man, kind="street_foundation")
        assert {f.street_id for f in foundations} >= {ctx["streets"]["shatou"], ctx["streets"]["xiangmihu"]}
        assert all(b.cash_fen > 0 for b in await funds.funds_balances(s, foundations))
        # The demo director's street (福田) has a held project for psychological counselling to offer.
        offers = await funds.funding_available(
            s, category="psych_counselling", street_id=ctx["streets"]["futian"], service_id=None
        )
        assert {o.fund_kind for o in offers} >= {"micro_project", "street_foundation", "public_welfare"}
        assert await ledger.trial_balance(s) == 0
